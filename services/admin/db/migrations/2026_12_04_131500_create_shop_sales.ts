// Each shop's sales, projected from the order events: one row per shop order with its lines, and
// how far each whole order has moved (its shop orders follow). Rebuilt from the stream with the
// other projections (npm run admin:rebuild). Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("shop_sales_orders")
    .addColumn("shop_order_id", "char(36)", (c) => c.primaryKey())
    .addColumn("order_id", "char(36)", (c) => c.notNull())
    .addColumn("shop_id", "char(36)", (c) => c.notNull())
    .addColumn("seller_id", "varchar(64)", (c) => c.notNull())
    // The order's creation (its UUIDv7 time), as the platform report counts days.
    .addColumn("placed_time", sql`datetime(6)`, (c) => c.notNull())
    .addColumn("subtotal_minor", "bigint", (c) => c.notNull())
    .addColumn("units", "integer", (c) => c.notNull())
    // The furthest status its own events reached (see statusRank): statuses only move forward,
    // so the greatest one wins whatever order the events arrive in.
    .addColumn("status_rank", "smallint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("shop_sales_orders_shop_placed")
    .on("shop_sales_orders")
    .columns(["shop_id", "placed_time"])
    .execute();
  await db.schema.createIndex("shop_sales_orders_order").on("shop_sales_orders").column("order_id").execute();
  await db.schema
    .createTable("shop_sales_lines")
    .addColumn("shop_order_id", "char(36)", (c) => c.notNull())
    .addColumn("product_id", "char(36)", (c) => c.notNull())
    .addColumn("name", "varchar(200)", (c) => c.notNull())
    .addColumn("quantity", "integer", (c) => c.notNull())
    .addColumn("revenue_minor", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("shop_sales_lines_pk", ["shop_order_id", "product_id"])
    .execute();
  // The furthest status a move of the whole order (an admin's, a buyer's cancellation, a failed
  // payment) took its shop orders to; kept apart so it applies even before they are known.
  await db.schema
    .createTable("shop_sales_order_moves")
    .addColumn("order_id", "char(36)", (c) => c.primaryKey())
    .addColumn("status_rank", "smallint", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["shop_sales_order_moves", "shop_sales_lines", "shop_sales_orders"])
    await db.schema.dropTable(table).execute();
}
