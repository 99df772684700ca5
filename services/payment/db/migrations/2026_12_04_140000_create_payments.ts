// Payments and their refunds. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("payments")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    // One payment per order: concurrent CreatePayment calls for one order meet here.
    .addColumn("order_id", "char(36)", (c) => c.notNull().unique())
    .addColumn("currency_code", "char(3)", (c) => c.notNull())
    .addColumn("amount_minor", "bigint", (c) => c.notNull())
    .addColumn("status", "varchar(20)", (c) => c.notNull())
    .addColumn("provider", "varchar(20)", (c) => c.notNull())
    .addColumn("provider_payment_id", "varchar(255)", (c) => c.notNull())
    .addColumn("redirect_url", "varchar(2048)", (c) => c.notNull().defaultTo(""))
    .addColumn("client_secret", "varchar(255)", (c) => c.notNull().defaultTo(""))
    .addColumn("failure_reason", "varchar(300)", (c) => c.notNull().defaultTo(""))
    .addColumn("captured_minor", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("refunded_minor", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("update_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    // The database refuses a refund total above the capture even if a code path forgets to.
    .addCheckConstraint("payments_refund_within_capture", sql`refunded_minor BETWEEN 0 AND captured_minor`)
    .execute();
  await db.schema.createIndex("payments_status").on("payments").columns(["status", "id"]).execute();

  await db.schema
    .createTable("payment_refunds")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("payment_id", "char(36)", (c) => c.notNull())
    // The caller's idempotency key, unique over all payments: a key names one refund.
    .addColumn("refund_key", "varchar(100)", (c) => c.notNull().unique())
    .addColumn("amount_minor", "bigint", (c) => c.notNull())
    .addColumn("provider_refund_id", "varchar(255)", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addCheckConstraint("payment_refunds_amount", sql`amount_minor > 0`)
    .execute();
  await db.schema.createIndex("payment_refunds_payment").on("payment_refunds").columns(["payment_id", "id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("payment_refunds").execute();
  await db.schema.dropTable("payments").execute();
}
