// Outstanding work per order (the recovery loop's queue) and a per-user sequence over status
// changes (WatchOrders resumes from it). Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // Set while an order has saga or compensation steps left; the recovery loop takes over once
  // it is in the past. NULL for settled orders, so the index holds only the open ones' keys.
  await db.schema.alterTable("orders").addColumn("settle_after", sql`datetime(6)`).execute();
  await db.schema.createIndex("orders_settle_after").on("orders").column("settle_after").execute();
  await db.schema.createIndex("orders_status_id").on("orders").columns(["status", "id"]).execute();
  await sql`UPDATE orders SET settle_after = UTC_TIMESTAMP(6) WHERE status = 'PENDING'`.execute(db);

  // One row per user, locked by every status change of their orders: the sequence it hands
  // out commits in order, so a reader that saw change n has seen every change before it.
  await db.schema
    .createTable("order_feed")
    .addColumn("user_id", "char(36)", (c) => c.primaryKey())
    .addColumn("last_seq", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.alterTable("order_status_history").addColumn("user_id", "char(36)").execute();
  await db.schema.alterTable("order_status_history").addColumn("user_seq", "bigint").execute();
  await sql`
    UPDATE order_status_history h
    JOIN (
      SELECT h2.id, o.user_id, ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY h2.id) AS seq
      FROM order_status_history h2 JOIN orders o ON o.id = h2.order_id
    ) numbered ON numbered.id = h.id
    SET h.user_id = numbered.user_id, h.user_seq = numbered.seq`.execute(db);
  await sql`
    INSERT INTO order_feed (user_id, last_seq)
    SELECT user_id, MAX(user_seq) FROM order_status_history GROUP BY user_id`.execute(db);
  await db.schema
    .alterTable("order_status_history")
    .modifyColumn("user_id", "char(36)", (c) => c.notNull())
    .execute();
  await db.schema
    .alterTable("order_status_history")
    .modifyColumn("user_seq", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("order_status_history_feed")
    .on("order_status_history")
    .columns(["user_id", "user_seq"])
    .unique()
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("order_status_history_feed").on("order_status_history").execute();
  await db.schema.alterTable("order_status_history").dropColumn("user_seq").execute();
  await db.schema.alterTable("order_status_history").dropColumn("user_id").execute();
  await db.schema.dropTable("order_feed").execute();
  await db.schema.dropIndex("orders_status_id").on("orders").execute();
  await db.schema.dropIndex("orders_settle_after").on("orders").execute();
  await db.schema.alterTable("orders").dropColumn("settle_after").execute();
}
