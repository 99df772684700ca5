// Each order line keeps the product's main image as it was at checkout (bazaar.common.v1.Image
// as proto JSON; empty when it had none). Frozen: later changes are new migrations.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("order_lines")
    .addColumn("image", "varchar(6000)", (c) => c.notNull().defaultTo(""))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("order_lines").dropColumn("image").execute();
}
