// Admin changes to accounts (through the admin service's UserDirectoryService calls).
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { appendEvent } from "../../kit/events.ts";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { AuthDatabase } from "../db/database.ts";
import { forgetAccountMails } from "../db/recovery.repository.ts";
import { forgetLoginFailures, forgetPublishedEventsMentioning, revokeUserFamilies } from "../db/session.repository.ts";
import { eraseUserRow, findUserById, findUserByIdForUpdate, setActive, setRole } from "../db/user.repository.ts";
import { hashPassword } from "./password.ts";
import { protoRoles } from "./sessions.ts";
import { erasedEmailOf, UserNotFoundError, type User, type UserRole } from "./user.ts";

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

/**
 * Erases the user's personal data and locks the account for good. The row stays (its id is what
 * orders and figures point at); what identified the person goes. The password hash is replaced
 * by the hash of a random secret nobody keeps, so every sign-in path fails the ordinary way.
 * Returns changed = false when the user was erased already, so a retried erasure is harmless.
 */
export async function eraseUser(
  deps: DirectoryDeps,
  input: { userId: string; actorId: string },
): Promise<{ user: User; changed: boolean }> {
  // Hashed before the transaction: argon2 takes tens of milliseconds, the row lock should not.
  const unusableHash = await hashPassword(randomBytes(32).toString("hex"));
  const changed = await deps.db.transaction().execute(async (trx) => {
    const user = await findUserByIdForUpdate(trx, input.userId);
    if (!user) throw new UserNotFoundError(`user ${input.userId} not found`);
    if (user.email === erasedEmailOf(user.id)) return false;
    await eraseUserRow(trx, user.id, { email: erasedEmailOf(user.id), passwordHash: unusableHash });
    await revokeUserFamilies(trx, user.id);
    await forgetLoginFailures(trx, user.email);
    await forgetAccountMails(trx, user.id, user.email);
    // UserRegistered carried the e-mail and name; the relay keeps published rows for a day.
    await forgetPublishedEventsMentioning(trx, user.email);
    const event = { source: "auth", actorId: input.actorId, subjectId: user.id } as const;
    if (user.active)
      await appendEvent(trx, {
        ...event,
        payload: { case: "userActiveChanged", value: { userId: user.id, active: false } },
      });
    await appendEvent(trx, { ...event, payload: { case: "userErased", value: { userId: user.id } } });
    return true;
  });
  if (changed) deps.outbox.wake();
  return { user: (await findUserById(deps.db, input.userId))!, changed };
}
