// One shop order per shop of each order, with its own status history; orders placed before
// shop orders existed get theirs here, so every order reads the same way. Frozen: later changes
// are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("shop_orders")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("order_id", "char(36)", (c) => c.notNull().references("orders.id"))
    .addColumn("shop_id", "char(36)", (c) => c.notNull())
    // Empty for backfilled orders: the order database never knew their sellers.
    .addColumn("seller_id", "varchar(36)", (c) => c.notNull().defaultTo(""))
    .addColumn("subtotal_minor", "bigint", (c) => c.notNull())
    .addColumn("status", "varchar(20)", (c) => c.notNull())
    .addColumn("carrier", "varchar(100)", (c) => c.notNull().defaultTo(""))
    .addColumn("tracking_number", "varchar(100)", (c) => c.notNull().defaultTo(""))
    .addColumn("tracking_url", "varchar(500)", (c) => c.notNull().defaultTo(""))
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("update_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema
    .createIndex("shop_orders_order_shop")
    .on("shop_orders")
    .columns(["order_id", "shop_id"])
    .unique()
    .execute();
  // A shop's orders newest first, by status or not (ListShopOrders).
  await db.schema.createIndex("shop_orders_shop").on("shop_orders").columns(["shop_id", "id"]).execute();
  await db.schema
    .createIndex("shop_orders_shop_status")
    .on("shop_orders")
    .columns(["shop_id", "status", "id"])
    .execute();

  await db.schema
    .createTable("shop_order_status_history")
    .addColumn("id", "bigint", (c) => c.primaryKey().autoIncrement())
    .addColumn("shop_order_id", "char(36)", (c) => c.notNull().references("shop_orders.id"))
    .addColumn("status", "varchar(20)", (c) => c.notNull())
    .addColumn("note", "varchar(500)", (c) => c.notNull().defaultTo(""))
    .addColumn("time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema
    .createIndex("shop_order_status_history_shop_order")
    .on("shop_order_status_history")
    .columns(["shop_order_id", "id"])
    .execute();

  // Backfill. The id keeps the order's UUIDv7 time prefix (so keyset pages stay in time order)
  // and takes the rest from a hash of order and shop: deterministic, one per (order, shop).
  await sql`
    INSERT INTO shop_orders (id, order_id, shop_id, seller_id, subtotal_minor, status, create_time, update_time)
    SELECT
      CONCAT(LEFT(o.id, 19), SUBSTR(MD5(CONCAT(o.id, l.shop_id)), 1, 4), '-',
        SUBSTR(MD5(CONCAT(o.id, l.shop_id)), 5, 12)),
      o.id, l.shop_id, '', SUM(l.line_total_minor),
      CASE o.status WHEN 'PAYMENT_FAILED' THEN 'CANCELLED' ELSE o.status END,
      o.create_time, o.update_time
    FROM orders o
    JOIN order_lines l ON l.order_id = o.id
    GROUP BY o.id, l.shop_id`.execute(db);
  await sql`
    INSERT INTO shop_order_status_history (shop_order_id, status, note, time)
    SELECT id, status, 'recorded when orders were split per shop', update_time FROM shop_orders
    ORDER BY id`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("shop_order_status_history").execute();
  await db.schema.dropTable("shop_orders").execute();
}
