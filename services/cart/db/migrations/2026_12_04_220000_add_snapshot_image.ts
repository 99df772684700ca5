// The product's main image with its renditions (bazaar.common.v1.Image as proto JSON; empty when
// it has none), for cart lines. Frozen: later changes are new migrations.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("product_snapshots")
    .addColumn("image", "varchar(6000)", (c) => c.notNull().defaultTo(""))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("product_snapshots").dropColumn("image").execute();
}
