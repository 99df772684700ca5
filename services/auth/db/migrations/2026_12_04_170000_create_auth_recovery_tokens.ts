// Password-reset tokens and reset requests (rate limit). Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("account_tokens")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    // SHA-256 of the mailed token: a database leak yields nothing that can be presented.
    .addColumn("token_hash", "char(64)", (c) => c.notNull().unique())
    .addColumn("user_id", "char(36)", (c) => c.notNull())
    .addColumn("purpose", "varchar(32)", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("expire_time", sql`datetime(6)`, (c) => c.notNull())
    .addColumn("use_time", sql`datetime(6)`)
    .execute();
  await db.schema.createIndex("account_tokens_user").on("account_tokens").columns(["user_id", "purpose"]).execute();

  // Every RequestPasswordReset, known address or not: the per-address and per-client limits.
  await db.schema
    .createTable("password_reset_requests")
    .addColumn("id", "bigint", (c) => c.primaryKey().autoIncrement())
    .addColumn("email", "varchar(254)", (c) => c.notNull())
    .addColumn("client_ip", "varchar(64)", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema
    .createIndex("password_reset_requests_email")
    .on("password_reset_requests")
    .columns(["email", "create_time"])
    .execute();
  await db.schema
    .createIndex("password_reset_requests_ip")
    .on("password_reset_requests")
    .columns(["client_ip", "create_time"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("password_reset_requests").execute();
  await db.schema.dropTable("account_tokens").execute();
}
