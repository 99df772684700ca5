// ListShopOrders by time range (created_after, created_before): without this index a range far
// in the past walks every newer shop order of the shop along (shop_id, id). Frozen: later changes
// are new migrations.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("shop_orders_shop_created")
    .on("shop_orders")
    .columns(["shop_id", "create_time", "id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("shop_orders_shop_created").on("shop_orders").execute();
}
