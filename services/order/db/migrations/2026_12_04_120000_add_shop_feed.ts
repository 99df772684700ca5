// A per-shop sequence over shop order status changes (WatchShopOrders resumes from it), like the
// buyer's order_feed: one row per shop, locked by every change of its shop orders, so the
// numbers commit in order. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("shop_feed")
    .addColumn("shop_id", "char(36)", (c) => c.primaryKey())
    .addColumn("last_seq", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.alterTable("shop_order_status_history").addColumn("shop_id", "char(36)").execute();
  await db.schema.alterTable("shop_order_status_history").addColumn("shop_seq", "bigint").execute();
  await sql`
    UPDATE shop_order_status_history h
    JOIN (
      SELECT h2.id, s.shop_id, ROW_NUMBER() OVER (PARTITION BY s.shop_id ORDER BY h2.id) AS seq
      FROM shop_order_status_history h2 JOIN shop_orders s ON s.id = h2.shop_order_id
    ) numbered ON numbered.id = h.id
    SET h.shop_id = numbered.shop_id, h.shop_seq = numbered.seq`.execute(db);
  await sql`
    INSERT INTO shop_feed (shop_id, last_seq)
    SELECT shop_id, MAX(shop_seq) FROM shop_order_status_history GROUP BY shop_id`.execute(db);
  await db.schema
    .alterTable("shop_order_status_history")
    .modifyColumn("shop_id", "char(36)", (c) => c.notNull())
    .execute();
  await db.schema
    .alterTable("shop_order_status_history")
    .modifyColumn("shop_seq", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("shop_order_status_history_shop_feed")
    .on("shop_order_status_history")
    .columns(["shop_id", "shop_seq"])
    .unique()
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("shop_order_status_history_shop_feed").on("shop_order_status_history").execute();
  await db.schema.alterTable("shop_order_status_history").dropColumn("shop_seq").execute();
  await db.schema.alterTable("shop_order_status_history").dropColumn("shop_id").execute();
  await db.schema.dropTable("shop_feed").execute();
}
