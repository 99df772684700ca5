// Users. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    // Stored trimmed and lower-cased by the service; unique is the last line of defence.
    .addColumn("email", "varchar(254)", (c) => c.notNull().unique())
    .addColumn("password_hash", "varchar(255)", (c) => c.notNull())
    .addColumn("display_name", "varchar(100)", (c) => c.notNull())
    .addColumn("phone", "varchar(32)", (c) => c.notNull().defaultTo(""))
    .addColumn("role", "varchar(16)", (c) => c.notNull())
    .addColumn("active", "boolean", (c) => c.notNull().defaultTo(true))
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("update_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("last_login_time", sql`datetime(6)`)
    .execute();
  await db.schema.createIndex("users_role").on("users").columns(["role", "id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("users").execute();
}
