// Whose order is whose: PaymentRefunded names the order, not the buyer, so OrderPlaced keeps the
// buyer for the refund notification. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("order_buyers")
    .addColumn("order_id", "char(36)", (c) => c.primaryKey())
    .addColumn("user_id", "char(36)", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("order_buyers").execute();
}
