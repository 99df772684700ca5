// Categories, shops and products. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("categories")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("parent_id", "char(36)", (c) => c.references("categories.id"))
    .addColumn("name", "varchar(100)", (c) => c.notNull())
    .addColumn("slug", "varchar(100)", (c) => c.notNull().unique())
    .addColumn("sort_order", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema.createIndex("categories_parent").on("categories").columns(["parent_id", "sort_order"]).execute();

  await db.schema
    .createTable("shops")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("seller_id", "char(36)", (c) => c.notNull())
    .addColumn("name", "varchar(120)", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("address", "json", (c) => c.notNull())
    .addColumn("latitude", "decimal(9, 6)", (c) => c.notNull())
    .addColumn("longitude", "decimal(9, 6)", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("update_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  await db.schema.createIndex("shops_seller").on("shops").column("seller_id").execute();
  // Nearby-shop queries pre-filter on a latitude band, then compute exact distances.
  await db.schema.createIndex("shops_location").on("shops").columns(["latitude", "longitude"]).execute();

  await db.schema
    .createTable("products")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("shop_id", "char(36)", (c) => c.notNull().references("shops.id"))
    .addColumn("seller_id", "char(36)", (c) => c.notNull())
    .addColumn("category_id", "char(36)", (c) => c.notNull().references("categories.id"))
    .addColumn("name", "varchar(200)", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("price_minor", "bigint", (c) => c.notNull())
    .addColumn("currency_code", "char(3)", (c) => c.notNull())
    .addColumn("tags", "json", (c) => c.notNull())
    // Tags flattened to words for the FULLTEXT index (JSON columns cannot be indexed so).
    .addColumn("tags_text", "varchar(1000)", (c) => c.notNull().defaultTo(""))
    .addColumn("image_urls", "json", (c) => c.notNull())
    .addColumn("stock_on_hand", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("stock_held", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("featured", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("active", "boolean", (c) => c.notNull().defaultTo(true))
    .addColumn("delete_time", sql`datetime(6)`)
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("update_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addCheckConstraint("products_stock_valid", sql`stock_held >= 0 AND stock_on_hand >= stock_held`)
    .addCheckConstraint("products_price_valid", sql`price_minor >= 0`)
    .execute();
  // One index per keyset order, each ending in id so pages are stable under concurrent inserts.
  await db.schema.createIndex("products_category").on("products").columns(["category_id", "id"]).execute();
  await db.schema.createIndex("products_shop").on("products").columns(["shop_id", "id"]).execute();
  await db.schema.createIndex("products_seller").on("products").columns(["seller_id", "id"]).execute();
  await db.schema.createIndex("products_price").on("products").columns(["price_minor", "id"]).execute();
  await sql`CREATE FULLTEXT INDEX products_text ON products (name, description, tags_text)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("products").execute();
  await db.schema.dropTable("shops").execute();
  await db.schema.dropTable("categories").execute();
}
