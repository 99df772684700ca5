// The refunds an admin made through AdminService.RefundPayment that are already in the audit
// trail, one row each, so a repeated refund (same refund key, the payment service answering the
// first refund again) is audited once. Not a projection: a rebuild keeps it. Frozen: later
// changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("audited_refunds")
    .addColumn("refund_id", "char(36)", (c) => c.primaryKey())
    .addColumn("payment_id", "char(36)", (c) => c.notNull())
    .addColumn("audit_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("audited_refunds").execute();
}
