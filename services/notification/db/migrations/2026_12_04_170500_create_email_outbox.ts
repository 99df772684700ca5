// The e-mail outbox: one row per mail to send, written in the transaction of whatever caused it,
// sent later by the delivery job (email/delivery.ts). Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("email_outbox")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    // One mail per key, however often the cause is redelivered.
    .addColumn("idempotency_key", "varchar(255)", (c) => c.notNull().unique())
    .addColumn("to_address", "varchar(320)", (c) => c.notNull())
    .addColumn("template", "varchar(40)", (c) => c.notNull())
    .addColumn("data", "json", (c) => c.notNull())
    // PENDING, SENT or DEAD (gave up after the attempt limit).
    .addColumn("status", "varchar(10)", (c) => c.notNull().defaultTo("PENDING"))
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    // A delivery loop claims a row before sending it; another loop skips it until the lease ends.
    .addColumn("lease_holder", "varchar(64)", (c) => c.notNull().defaultTo(""))
    .addColumn("lease_until", sql`datetime(6)`)
    .addColumn("last_error", "varchar(1000)", (c) => c.notNull().defaultTo(""))
    .addColumn("sent_at", sql`datetime(6)`)
    .addColumn("message_id", "varchar(255)", (c) => c.notNull().defaultTo(""))
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema.createIndex("email_outbox_due").on("email_outbox").columns(["status", "next_attempt_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("email_outbox").execute();
}
