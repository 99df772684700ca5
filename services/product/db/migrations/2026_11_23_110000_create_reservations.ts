// Stock reservations for checkout. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("reservations")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    // HELD → COMMITTED | RELEASED | EXPIRED. A RELEASED row without items is the tombstone of
    // a release that arrived before its reserve.
    .addColumn("status", "varchar(16)", (c) => c.notNull())
    .addColumn("expire_time", sql`datetime(6)`, (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addColumn("update_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .execute();
  // The expiry sweep reads HELD rows by expiry time.
  await db.schema.createIndex("reservations_expiry").on("reservations").columns(["status", "expire_time"]).execute();

  await db.schema
    .createTable("reservation_items")
    .addColumn("reservation_id", "char(36)", (c) => c.notNull().references("reservations.id"))
    .addColumn("product_id", "char(36)", (c) => c.notNull().references("products.id"))
    .addColumn("quantity", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("reservation_items_pk", ["reservation_id", "product_id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("reservation_items").execute();
  await db.schema.dropTable("reservations").execute();
}
