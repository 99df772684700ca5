// How checkout took an order's stock: HELD (held, committed once the card was paid; every order
// placed before this migration) or SOLD (sold when reserved, given back if the order fails).
// Frozen: later changes are new migrations.
import type { Kysely } from "kysely";
import { sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("orders")
    .addColumn("stock_taken", sql`enum('HELD','SOLD')`, (c) => c.notNull().defaultTo("HELD"))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("orders").dropColumn("stock_taken").execute();
}
