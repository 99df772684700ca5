// Webhooks and the test provider's own state. Frozen: later changes are new migrations.
// webhook_events: one row per (provider, event id) ever accepted, written in the transaction
// that applies the event, so a replay meets the primary key and changes nothing.
// test_provider_*: the built-in test provider keeps what a real provider keeps on its side, in
// this database, so a payment-service restart loses none of it.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("webhook_events")
    .addColumn("provider", "varchar(20)", (c) => c.notNull())
    .addColumn("event_id", "varchar(255)", (c) => c.notNull())
    // APPLIED, IGNORED, KEPT (its payment not stored yet) or EXPIRED (kept too long: given up).
    .addColumn("outcome", "varchar(10)", (c) => c.notNull())
    .addColumn("event_type", "varchar(40)", (c) => c.notNull())
    .addColumn("provider_payment_id", "varchar(255)", (c) => c.notNull())
    .addColumn("payment_id", "varchar(36)", (c) => c.notNull().defaultTo(""))
    .addColumn("receive_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("apply_time", sql`datetime(6)`)
    .addPrimaryKeyConstraint("webhook_events_pk", ["provider", "event_id"])
    .execute();
  await db.schema
    .createIndex("webhook_events_outcome")
    .on("webhook_events")
    .columns(["outcome", "receive_time"])
    .execute();
  await db.schema.createIndex("payments_provider_payment").on("payments").columns(["provider_payment_id"]).execute();
  await db.schema.createIndex("payments_status_update").on("payments").columns(["status", "update_time"]).execute();
  // When reconciliation last asked the provider about a payment, so one that stays AUTHORIZED for
  // long is asked once per threshold and does not crowd out the others.
  await db.schema.alterTable("payments").addColumn("reconcile_time", sql`datetime(6)`).execute();

  await db.schema
    .createTable("test_provider_payments")
    .addColumn("payment_id", "char(36)", (c) => c.primaryKey())
    .addColumn("provider_payment_id", "varchar(255)", (c) => c.notNull())
    .addColumn("status", "varchar(20)", (c) => c.notNull())
    .addColumn("currency_code", "char(3)", (c) => c.notNull())
    .addColumn("amount_minor", "bigint", (c) => c.notNull())
    .addColumn("captured_minor", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("refunded_minor", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("failure_reason", "varchar(300)", (c) => c.notNull().defaultTo(""))
    .addColumn("redirect_url", "varchar(2048)", (c) => c.notNull().defaultTo(""))
    .addColumn("return_url", "varchar(2048)", (c) => c.notNull().defaultTo(""))
    // When a PROCESSING payment (tok_delayedSuccess) turns AUTHORIZED by itself.
    .addColumn("settle_time", sql`datetime(6)`)
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema
    .createIndex("test_provider_payments_settle")
    .on("test_provider_payments")
    .columns(["settle_time"])
    .execute();

  await db.schema
    .createTable("test_provider_refunds")
    .addColumn("payment_id", "char(36)", (c) => c.notNull())
    .addColumn("refund_key", "varchar(100)", (c) => c.notNull())
    .addColumn("amount_minor", "bigint", (c) => c.notNull())
    .addColumn("status", "varchar(10)", (c) => c.notNull())
    // Idempotent per payment and key, as a provider's idempotency key on a refund of a charge.
    .addPrimaryKeyConstraint("test_provider_refunds_pk", ["payment_id", "refund_key"])
    .execute();

  await db.schema
    .createTable("test_provider_webhooks")
    .addColumn("event_id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("payment_id", "char(36)", (c) => c.notNull())
    .addColumn("body", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("deliver_time", sql`datetime(6)`)
    .addColumn("last_error", "varchar(300)", (c) => c.notNull().defaultTo(""))
    .execute();
  await db.schema
    .createIndex("test_provider_webhooks_due")
    .on("test_provider_webhooks")
    .columns(["deliver_time", "next_attempt_time"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("test_provider_webhooks").execute();
  await db.schema.dropTable("test_provider_refunds").execute();
  await db.schema.dropTable("test_provider_payments").execute();
  await db.schema.alterTable("payments").dropColumn("reconcile_time").execute();
  await db.schema.dropIndex("payments_status_update").on("payments").execute();
  await db.schema.dropIndex("payments_provider_payment").on("payments").execute();
  await db.schema.dropTable("webhook_events").execute();
}
