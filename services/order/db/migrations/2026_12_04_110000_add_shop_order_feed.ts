// A shop's fulfilment move that leaves its order's status as it was is still a change the buyer
// watches (WatchOrders): such history entries take a position in the buyer's feed. Frozen:
// later changes are new migrations.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("shop_order_status_history").addColumn("user_id", "char(36)").execute();
  await db.schema.alterTable("shop_order_status_history").addColumn("user_seq", "bigint").execute();
  await db.schema
    .createIndex("shop_order_status_history_feed")
    .on("shop_order_status_history")
    .columns(["user_id", "user_seq"])
    .unique()
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("shop_order_status_history_feed").on("shop_order_status_history").execute();
  await db.schema.alterTable("shop_order_status_history").dropColumn("user_seq").execute();
  await db.schema.alterTable("shop_order_status_history").dropColumn("user_id").execute();
}
