// What every password change does, by reset link or by the signed-in user: the new hash, every
// session ended, and PasswordChanged so every service refuses the access tokens issued until now.
import type { Transaction } from "kysely";
import { appendEvent } from "../../kit/events.ts";
import type { AuthDatabase } from "../db/database.ts";
import { revokeUserFamilies } from "../db/session.repository.ts";
import { updatePasswordHash } from "../db/user.repository.ts";

export async function replacePassword(
  trx: Transaction<AuthDatabase>,
  userId: string,
  passwordHash: string,
): Promise<void> {
  await updatePasswordHash(trx, userId, passwordHash);
  await revokeUserFamilies(trx, userId);
  await appendEvent(trx, {
    source: "auth",
    actorId: userId,
    subjectId: userId,
    payload: { case: "passwordChanged", value: { userId } },
  });
}
