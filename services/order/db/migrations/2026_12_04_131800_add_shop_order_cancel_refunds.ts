// Cancelling one shop order: its settlement (stock back, refund) outstanding like an order's,
// and every refund recorded exactly in minor units, once per refund key. Frozen: later changes
// are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // Set while a cancelled shop order's stock or refund is still to be given back; the recovery
  // loop takes over once it is in the past. NULL otherwise, so the index holds only open ones.
  await db.schema.alterTable("shop_orders").addColumn("settle_after", sql`datetime(6)`).execute();
  await db.schema.createIndex("shop_orders_settle_after").on("shop_orders").column("settle_after").execute();

  await db.schema
    .createTable("order_refunds")
    .addColumn("id", "bigint", (c) => c.primaryKey().autoIncrement())
    .addColumn("order_id", "char(36)", (c) => c.notNull().references("orders.id"))
    // The provider's idempotency key: the shop order's id, or the order's for the rest of a
    // cancelled order. Unique, so a refund is recorded (and asked of the provider) once.
    .addColumn("refund_key", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("shop_order_id", "char(36)", (c) => c.references("shop_orders.id"))
    .addColumn("amount_minor", "bigint", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema.createIndex("order_refunds_order").on("order_refunds").column("order_id").execute();

  // Orders cancelled before refunds were recorded were refunded as a whole.
  await sql`
    INSERT INTO order_refunds (order_id, refund_key, amount_minor, create_time)
    SELECT id, id, total_minor, update_time FROM orders WHERE payment_status = 'REFUNDED'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("order_refunds").execute();
  await db.schema.dropIndex("shop_orders_settle_after").on("shop_orders").execute();
  await db.schema.alterTable("shop_orders").dropColumn("settle_after").execute();
}
