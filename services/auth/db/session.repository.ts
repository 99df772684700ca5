// Refresh tokens, signing keys and failed sign-ins: SQL of the session side of auth.
import { sql, type Kysely, type Transaction } from "kysely";
import { underNamedLock } from "../../kit/db.ts";
import type { StoredKey } from "../domain/signing-keys.ts";
import type { AuthDatabase, RefreshTokenRow } from "./database.ts";

type Db = Kysely<AuthDatabase> | Transaction<AuthDatabase>;

export async function insertRefreshToken(
  db: Db,
  token: { hash: string; familyId: string; userId: string; expireTime: Date; familyExpireTime: Date },
): Promise<void> {
  await db
    .insertInto("refresh_tokens")
    .values({
      token_hash: token.hash,
      family_id: token.familyId,
      user_id: token.userId,
      expire_time: token.expireTime,
      family_expire_time: token.familyExpireTime,
      use_time: null,
      revoke_time: null,
    })
    .execute();
}

/** Locks the token's row: two refreshes with one token are serialized here. */
export async function findRefreshTokenForUpdate(
  trx: Transaction<AuthDatabase>,
  hash: string,
): Promise<RefreshTokenRow | undefined> {
  return trx.selectFrom("refresh_tokens").selectAll().where("token_hash", "=", hash).forUpdate().executeTakeFirst();
}

export async function markRefreshTokenUsed(db: Db, hash: string): Promise<void> {
  await db
    .updateTable("refresh_tokens")
    .set({ use_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("token_hash", "=", hash)
    .execute();
}

export async function revokeFamily(db: Db, familyId: string): Promise<void> {
  await db
    .updateTable("refresh_tokens")
    .set({ revoke_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("family_id", "=", familyId)
    .where("revoke_time", "is", null)
    .execute();
}

/** Revokes every session of the user, or every one but `keepFamilyId`. */
export async function revokeUserFamilies(db: Db, userId: string, keepFamilyId?: string): Promise<void> {
  let update = db
    .updateTable("refresh_tokens")
    .set({ revoke_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("user_id", "=", userId)
    .where("revoke_time", "is", null);
  if (keepFamilyId) update = update.where("family_id", "!=", keepFamilyId);
  await update.execute();
}

export async function recordLoginFailure(db: Db, email: string, clientIp: string): Promise<void> {
  await db.insertInto("login_failures").values({ email, client_ip: clientIp }).execute();
}

export async function forgetLoginFailures(db: Db, email: string): Promise<void> {
  await db.deleteFrom("login_failures").where("email", "=", email).execute();
}

/**
 * Deletes published outbox rows (kept a while for inspection) whose payload holds `text`, e.g.
 * an erased user's e-mail in their UserRegistered. Protobuf keeps strings as plain UTF-8 bytes,
 * so a byte search finds it; rows not published yet are left for the relay.
 */
export async function forgetPublishedEventsMentioning(db: Db, text: string): Promise<void> {
  await db
    .deleteFrom("outbox")
    .where("publish_time", "is not", null)
    .where(sql<number>`LOCATE(${Buffer.from(text, "utf8")}, payload)`, ">", 0)
    .execute();
}

export async function countRecentFailures(
  db: Db,
  since: Date,
  by: { email: string } | { clientIp: string },
): Promise<number> {
  let select = db
    .selectFrom("login_failures")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("create_time", ">=", since);
  select = "email" in by ? select.where("email", "=", by.email) : select.where("client_ip", "=", by.clientIp);
  const row = await select.executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Deletes failed sign-ins older than `before` and refresh tokens that can no longer be used. */
export async function pruneSessions(db: Db, before: Date, now: Date): Promise<number> {
  const failures = await db
    .deleteFrom("login_failures")
    .where("create_time", "<", before)
    .limit(10_000)
    .executeTakeFirst();
  const tokens = await db
    .deleteFrom("refresh_tokens")
    .where((eb) => eb.or([eb("family_expire_time", "<", now), eb("revoke_time", "<", before)]))
    .limit(10_000)
    .executeTakeFirst();
  return Number(failures.numDeletedRows) + Number(tokens.numDeletedRows);
}

export async function listSigningKeys(db: Db): Promise<StoredKey[]> {
  const rows = await db.selectFrom("signing_keys").selectAll().orderBy("create_time", "desc").execute();
  return rows.map((row) => ({
    kid: row.kid,
    privateJwk: JSON.parse(row.private_jwk),
    publicJwk: JSON.parse(row.public_jwk),
    createTime: row.create_time,
  }));
}

/**
 * Stores the first signing key unless one exists, under a named lock that replicas starting
 * together on an empty database all ask for: one inserts, the others find its key. (Each storing
 * its own let them sign with different keys until their next reload, and a service whose key set
 * came from the other replica refused the tokens: 145 of the first checkouts of a two-replica
 * bench got 401.) The lock is the connection's, so the check and insert use that one connection.
 */
export async function insertFirstSigningKey(db: Kysely<AuthDatabase>, key: StoredKey): Promise<void> {
  await underNamedLock(db, "bazaar_auth_first_signing_key", 10, async (connection) => {
    const existing = await connection.selectFrom("signing_keys").select("kid").limit(1).execute();
    if (existing.length === 0) await insertSigningKey(connection, key);
  });
}

export async function insertSigningKey(db: Db, key: StoredKey): Promise<void> {
  await db
    .insertInto("signing_keys")
    .values({
      kid: key.kid,
      private_jwk: JSON.stringify(key.privateJwk),
      public_jwk: JSON.stringify(key.publicJwk),
      create_time: key.createTime,
    })
    .execute();
}
