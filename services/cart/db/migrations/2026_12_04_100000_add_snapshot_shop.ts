// The shop of each product snapshot, so a shop's suspension reaches its products in carts.
// Frozen: later changes are new migrations.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // Null for snapshots taken before: they are dropped and fetched again on the next suspension.
  await db.schema.alterTable("product_snapshots").addColumn("shop_id", "char(36)").execute();
  await db.schema.createIndex("product_snapshots_shop").on("product_snapshots").column("shop_id").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("product_snapshots_shop").on("product_snapshots").execute();
  await db.schema.alterTable("product_snapshots").dropColumn("shop_id").execute();
}
