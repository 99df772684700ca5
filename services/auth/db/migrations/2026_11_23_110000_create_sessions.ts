// Signing keys, refresh tokens and failed-login records. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("signing_keys")
    .addColumn("kid", "varchar(64)", (c) => c.primaryKey())
    // LOCAL DEV: generated keys live here. Production loads them from BAZAAR_AUTH_SIGNING_KEYS.
    .addColumn("private_jwk", "text", (c) => c.notNull())
    .addColumn("public_jwk", "text", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();

  await db.schema
    .createTable("refresh_tokens")
    // SHA-256 of the token: a database leak yields nothing that can be presented.
    .addColumn("token_hash", "char(64)", (c) => c.primaryKey())
    .addColumn("family_id", "char(36)", (c) => c.notNull())
    .addColumn("user_id", "char(36)", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("expire_time", sql`datetime(6)`, (c) => c.notNull())
    .addColumn("family_expire_time", sql`datetime(6)`, (c) => c.notNull())
    .addColumn("use_time", sql`datetime(6)`)
    .addColumn("revoke_time", sql`datetime(6)`)
    .execute();
  await db.schema.createIndex("refresh_tokens_family").on("refresh_tokens").column("family_id").execute();
  await db.schema.createIndex("refresh_tokens_user").on("refresh_tokens").columns(["user_id", "family_id"]).execute();

  await db.schema
    .createTable("login_failures")
    .addColumn("id", "bigint", (c) => c.primaryKey().autoIncrement())
    .addColumn("email", "varchar(254)", (c) => c.notNull())
    .addColumn("client_ip", "varchar(64)", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema.createIndex("login_failures_email").on("login_failures").columns(["email", "create_time"]).execute();
  await db.schema.createIndex("login_failures_ip").on("login_failures").columns(["client_ip", "create_time"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("login_failures").execute();
  await db.schema.dropTable("refresh_tokens").execute();
  await db.schema.dropTable("signing_keys").execute();
}
