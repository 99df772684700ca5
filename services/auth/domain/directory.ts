// Admin changes to accounts (through the admin service's UserDirectoryService calls).
import type { Kysely } from "kysely";
import { appendEvent } from "../../kit/events.ts";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { AuthDatabase } from "../db/database.ts";
import { revokeUserFamilies } from "../db/session.repository.ts";
import { findUserById, findUserByIdForUpdate, setActive, setRole } from "../db/user.repository.ts";
import { protoRoles } from "./sessions.ts";
import { UserNotFoundError, type User, type UserRole } from "./user.ts";

export interface DirectoryDeps {
  db: Kysely<AuthDatabase>;
  outbox: OutboxNotifier;
}

export async function changeRole(
  deps: DirectoryDeps,
  input: { userId: string; role: UserRole; actorId: string },
): Promise<User> {
  await deps.db.transaction().execute(async (trx) => {
    const user = await findUserByIdForUpdate(trx, input.userId);
    if (!user) throw new UserNotFoundError(`user ${input.userId} not found`);
    if (user.role === input.role) return;
    await setRole(trx, user.id, input.role);
    await appendEvent(trx, {
      source: "auth",
      actorId: input.actorId,
      subjectId: user.id,
      payload: {
        case: "userRoleChanged",
        value: { userId: user.id, oldRole: protoRoles[user.role], newRole: protoRoles[input.role] },
      },
    });
  });
  deps.outbox.wake();
  return (await findUserById(deps.db, input.userId))!;
}

/**
 * Deactivating ends every session at once: refresh tokens are revoked here, and the
 * UserActiveChanged event puts the user on every service's deny list within a second.
 */
export async function changeActive(
  deps: DirectoryDeps,
  input: { userId: string; active: boolean; actorId: string },
): Promise<User> {
  await deps.db.transaction().execute(async (trx) => {
    const user = await findUserByIdForUpdate(trx, input.userId);
    if (!user) throw new UserNotFoundError(`user ${input.userId} not found`);
    if (user.active === input.active) return;
    await setActive(trx, user.id, input.active);
    if (!input.active) await revokeUserFamilies(trx, user.id);
    await appendEvent(trx, {
      source: "auth",
      actorId: input.actorId,
      subjectId: user.id,
      payload: { case: "userActiveChanged", value: { userId: user.id, active: input.active } },
    });
  });
  deps.outbox.wake();
  return (await findUserById(deps.db, input.userId))!;
}
