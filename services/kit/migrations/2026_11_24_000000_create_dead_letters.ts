// The dead-letter table every service database has: events a consumer gave up on, with the
// error, kept for listing and redrive (see ../dead-letters.ts). Frozen.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("dead_letters")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("consumer", "varchar(100)", (c) => c.notNull())
    .addColumn("event_id", "varchar(64)", (c) => c.notNull())
    .addColumn("subject", "varchar(255)", (c) => c.notNull())
    .addColumn("payload", sql`mediumblob`, (c) => c.notNull())
    .addColumn("error", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("redrive_time", sql`datetime(6)`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("dead_letters").execute();
}
