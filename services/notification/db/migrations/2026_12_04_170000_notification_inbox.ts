// The inbox, its per-user positions, preferences, and the projections the consumers keep.
// Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  const now = sql`(UTC_TIMESTAMP(6))`;
  // Who can be notified, from auth's events: the mail address and role of each user.
  await db.schema
    .createTable("recipients")
    .addColumn("user_id", "char(36)", (c) => c.primaryKey())
    .addColumn("email", "varchar(320)", (c) => c.notNull())
    .addColumn("display_name", "varchar(200)", (c) => c.notNull().defaultTo(""))
    .addColumn("role", "varchar(20)", (c) => c.notNull())
    .addColumn("active", "boolean", (c) => c.notNull().defaultTo(true))
    .execute();
  await db.schema.createIndex("recipients_role").on("recipients").columns(["role", "active"]).execute();

  // One row per user: the last inbox position handed out. Taking the next one locks the row
  // until commit, so a user's positions commit in order and a reader resuming after n misses none.
  await db.schema
    .createTable("inbox_positions")
    .addColumn("user_id", "char(36)", (c) => c.primaryKey())
    .addColumn("last_seq", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("notifications")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("user_id", "char(36)", (c) => c.notNull())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("kind", "varchar(40)", (c) => c.notNull())
    .addColumn("title", "varchar(200)", (c) => c.notNull())
    .addColumn("body", "varchar(1000)", (c) => c.notNull())
    .addColumn("link", "varchar(500)", (c) => c.notNull().defaultTo(""))
    // The user the notification tells about (a new sign-up), so erasing them blanks it.
    .addColumn("subject_user_id", "char(36)")
    .addColumn("create_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(now))
    .addColumn("read_time", sql`datetime(6)`)
    .addUniqueConstraint("notifications_user_seq", ["user_id", "seq"])
    .execute();
  await db.schema.createIndex("notifications_subject").on("notifications").columns(["subject_user_id"]).execute();

  await db.schema
    .createTable("notification_preferences")
    .addColumn("user_id", "char(36)", (c) => c.notNull())
    .addColumn("kind", "varchar(40)", (c) => c.notNull())
    .addColumn("channel", "varchar(10)", (c) => c.notNull())
    .addColumn("enabled", "boolean", (c) => c.notNull())
    .addPrimaryKeyConstraint("notification_preferences_pk", ["user_id", "kind", "channel"])
    .execute();

  // Whose product is whose (StockChanged names only the product) and whether it is low already.
  await db.schema
    .createTable("product_owners")
    .addColumn("product_id", "char(36)", (c) => c.primaryKey())
    .addColumn("shop_id", "char(36)", (c) => c.notNull())
    .addColumn("seller_id", "char(36)", (c) => c.notNull())
    .addColumn("name", "varchar(300)", (c) => c.notNull())
    .addColumn("low_stock", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
}
