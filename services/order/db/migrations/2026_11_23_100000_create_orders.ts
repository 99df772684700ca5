// Orders, their lines and status history. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("orders")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("user_id", "char(36)", (c) => c.notNull())
    .addColumn("status", "varchar(20)", (c) => c.notNull())
    .addColumn("currency_code", "char(3)", (c) => c.notNull())
    .addColumn("subtotal_minor", "bigint", (c) => c.notNull())
    .addColumn("tax_minor", "bigint", (c) => c.notNull())
    .addColumn("shipping_minor", "bigint", (c) => c.notNull())
    .addColumn("total_minor", "bigint", (c) => c.notNull())
    .addColumn("shipping_address", "json", (c) => c.notNull())
    .addColumn("payment_method", "varchar(20)", (c) => c.notNull())
    .addColumn("payment_status", "varchar(20)", (c) => c.notNull())
    .addColumn("payment_reference", "varchar(100)", (c) => c.notNull().defaultTo(""))
    .addColumn("payment_failure_reason", "varchar(300)", (c) => c.notNull().defaultTo(""))
    .addColumn("idempotency_key", "varchar(64)", (c) => c.notNull())
    // What the key was used for: the same key with another cart is the client's mistake.
    .addColumn("request_fingerprint", "char(64)", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("update_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  // One order per (user, key): concurrent checkouts with one key meet here.
  await db.schema
    .createIndex("orders_idempotency")
    .on("orders")
    .columns(["user_id", "idempotency_key"])
    .unique()
    .execute();
  await db.schema.createIndex("orders_user").on("orders").columns(["user_id", "id"]).execute();
  await db.schema.createIndex("orders_status").on("orders").columns(["status", "update_time"]).execute();

  await db.schema
    .createTable("order_lines")
    .addColumn("order_id", "char(36)", (c) => c.notNull().references("orders.id"))
    .addColumn("product_id", "char(36)", (c) => c.notNull())
    .addColumn("shop_id", "char(36)", (c) => c.notNull())
    .addColumn("name", "varchar(200)", (c) => c.notNull())
    .addColumn("unit_price_minor", "bigint", (c) => c.notNull())
    .addColumn("quantity", "integer", (c) => c.notNull())
    .addColumn("line_total_minor", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("order_lines_pk", ["order_id", "product_id"])
    .execute();

  await db.schema
    .createTable("order_status_history")
    .addColumn("id", "bigint", (c) => c.primaryKey().autoIncrement())
    .addColumn("order_id", "char(36)", (c) => c.notNull().references("orders.id"))
    .addColumn("status", "varchar(20)", (c) => c.notNull())
    .addColumn("note", "varchar(500)", (c) => c.notNull().defaultTo(""))
    .addColumn("time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema
    .createIndex("order_status_history_order")
    .on("order_status_history")
    .columns(["order_id", "id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("order_status_history").execute();
  await db.schema.dropTable("order_lines").execute();
  await db.schema.dropTable("orders").execute();
}
