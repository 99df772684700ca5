// The outbox and processed-events tables every service database has (see ../events.ts).
// Frozen: a later change to these tables is a new migration, never an edit here.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("outbox")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("subject", "varchar(255)", (c) => c.notNull())
    .addColumn("payload", sql`mediumblob`, (c) => c.notNull())
    .addColumn("trace_parent", "varchar(64)")
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("publish_time", sql`datetime(6)`)
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  // The relay asks for unpublished rows in id order; this index answers without a scan.
  await db.schema.createIndex("outbox_unpublished").on("outbox").columns(["publish_time", "id"]).execute();

  await db.schema
    .createTable("processed_events")
    .addColumn("consumer", "varchar(100)", (c) => c.notNull())
    .addColumn("event_id", "char(36)", (c) => c.notNull())
    .addColumn("process_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addPrimaryKeyConstraint("processed_events_pk", ["consumer", "event_id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("processed_events").execute();
  await db.schema.dropTable("outbox").execute();
}
