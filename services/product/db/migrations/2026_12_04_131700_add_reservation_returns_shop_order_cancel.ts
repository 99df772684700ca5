// Partial returns of a reservation (a shop order cancelled after checkout), one row per product
// of each return: the primary key makes a return id count once, and the rows tell how much of
// a reservation is still out. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("reservation_returns")
    .addColumn("reservation_id", "char(36)", (c) => c.notNull().references("reservations.id"))
    .addColumn("return_id", "char(36)", (c) => c.notNull())
    .addColumn("product_id", "char(36)", (c) => c.notNull())
    // What this return gave back of the product; 0 when nothing of it was left.
    .addColumn("quantity", "integer", (c) => c.notNull())
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    .addPrimaryKeyConstraint("reservation_returns_pk", ["reservation_id", "return_id", "product_id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("reservation_returns").execute();
}
