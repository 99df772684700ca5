// Mailed account tokens (password reset) and reset requests: SQL of account recovery.
import { sql, type Kysely, type Transaction } from "kysely";
import type { AccountTokensTable, AuthDatabase } from "./database.ts";

type Db = Kysely<AuthDatabase> | Transaction<AuthDatabase>;
type Purpose = AccountTokensTable["purpose"];

export async function recordResetRequest(db: Db, email: string, clientIp: string): Promise<void> {
  await db.insertInto("password_reset_requests").values({ email, client_ip: clientIp }).execute();
}

export async function countResetRequests(
  db: Db,
  since: Date,
  by: { email: string } | { clientIp: string },
): Promise<number> {
  let select = db
    .selectFrom("password_reset_requests")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("create_time", ">=", since);
  select = "email" in by ? select.where("email", "=", by.email) : select.where("client_ip", "=", by.clientIp);
  return Number((await select.executeTakeFirstOrThrow()).n);
}

export async function insertAccountToken(
  db: Db,
  token: { id: string; hash: string; userId: string; purpose: Purpose; expireTime: Date },
): Promise<void> {
  await db
    .insertInto("account_tokens")
    .values({
      id: token.id,
      token_hash: token.hash,
      user_id: token.userId,
      purpose: token.purpose,
      expire_time: token.expireTime,
      use_time: null,
    })
    .execute();
}

/**
 * Marks an unused, unexpired token of the purpose as used and returns its user; undefined when
 * there is no such token. The conditional UPDATE is what makes the token single-use: of two
 * concurrent calls only one changes the row.
 */
export async function consumeAccountToken(
  trx: Transaction<AuthDatabase>,
  hash: string,
  purpose: Purpose,
  now: Date,
): Promise<string | undefined> {
  const row = await trx
    .selectFrom("account_tokens")
    .select(["id", "user_id"])
    .where("token_hash", "=", hash)
    .where("purpose", "=", purpose)
    .where("use_time", "is", null)
    .where("expire_time", ">", now)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return undefined;
  const result = await trx
    .updateTable("account_tokens")
    .set({ use_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", row.id)
    .where("use_time", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1 ? row.user_id : undefined;
}

/** Other open tokens of the user for the purpose end when one is used. */
export async function expireUserAccountTokens(db: Db, userId: string, purpose: Purpose): Promise<void> {
  await db
    .updateTable("account_tokens")
    .set({ use_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("user_id", "=", userId)
    .where("purpose", "=", purpose)
    .where("use_time", "is", null)
    .execute();
}

/** An erased user's reset requests (they hold the e-mail) and mailed tokens go with them. */
export async function forgetAccountMails(db: Db, userId: string, email: string): Promise<void> {
  await db.deleteFrom("password_reset_requests").where("email", "=", email).execute();
  await db.deleteFrom("account_tokens").where("user_id", "=", userId).execute();
}
