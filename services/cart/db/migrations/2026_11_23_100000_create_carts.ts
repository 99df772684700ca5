// Carts and the product snapshots they show. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("carts")
    .addColumn("user_id", "char(36)", (c) => c.primaryKey())
    .addColumn("update_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();

  await db.schema
    .createTable("cart_lines")
    .addColumn("user_id", "char(36)", (c) => c.notNull())
    .addColumn("product_id", "char(36)", (c) => c.notNull())
    .addColumn("quantity", "integer", (c) => c.notNull())
    .addColumn("add_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addPrimaryKeyConstraint("cart_lines_pk", ["user_id", "product_id"])
    .addCheckConstraint("cart_lines_quantity", sql`quantity BETWEEN 1 AND 99`)
    .execute();

  // What the cart shows of each product: filled from the product service, kept fresh by its
  // events. `source_time` is the time of the newest fact applied, so an older event never
  // overwrites a newer one.
  await db.schema
    .createTable("product_snapshots")
    .addColumn("product_id", "char(36)", (c) => c.primaryKey())
    .addColumn("name", "varchar(200)", (c) => c.notNull())
    .addColumn("unit_price_minor", "bigint", (c) => c.notNull())
    .addColumn("currency_code", "char(3)", (c) => c.notNull())
    .addColumn("image_url", "varchar(2000)", (c) => c.notNull())
    .addColumn("for_sale", "boolean", (c) => c.notNull())
    .addColumn("stock_available", "integer", (c) => c.notNull())
    .addColumn("source_time", sql`datetime(6)`, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("product_snapshots").execute();
  await db.schema.dropTable("cart_lines").execute();
  await db.schema.dropTable("carts").execute();
}
