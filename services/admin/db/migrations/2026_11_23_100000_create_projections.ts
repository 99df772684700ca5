// The admin service's projections of the event stream: the audit trail and the sales figures.
// Everything here can be dropped and rebuilt from the stream (npm run admin:rebuild). Frozen:
// later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("audit_events")
    .addColumn("id", "char(36)", (c) => c.primaryKey())
    .addColumn("event_type", "varchar(64)", (c) => c.notNull())
    .addColumn("source", "varchar(20)", (c) => c.notNull())
    .addColumn("actor_id", "varchar(64)", (c) => c.notNull())
    .addColumn("subject_id", "varchar(64)", (c) => c.notNull())
    .addColumn("occur_time", sql`datetime(6)`, (c) => c.notNull())
    .addColumn("summary", "varchar(300)", (c) => c.notNull())
    .addColumn("payload_json", "text", (c) => c.notNull())
    .execute();
  // Keyset pages run newest first by id under each filter.
  for (const column of ["event_type", "actor_id", "subject_id", "occur_time"]) {
    await db.schema.createIndex(`audit_events_${column}`).on("audit_events").columns([column, "id"]).execute();
  }

  // One row per order the stream has told about, with its latest status.
  await db.schema
    .createTable("sales_orders")
    .addColumn("order_id", "char(36)", (c) => c.primaryKey())
    .addColumn("user_id", "char(36)", (c) => c.notNull())
    .addColumn("placed_time", sql`datetime(6)`, (c) => c.notNull())
    .addColumn("status", "varchar(20)", (c) => c.notNull())
    // The event time of the status, so a late redelivery never overwrites a newer status.
    .addColumn("status_time", sql`datetime(6)`, (c) => c.notNull())
    .addColumn("total_minor", "bigint", (c) => c.notNull())
    .addColumn("currency_code", "char(3)", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("sales_orders_placed").on("sales_orders").columns(["placed_time", "status"]).execute();
  await db.schema
    .createTable("sales_lines")
    .addColumn("order_id", "char(36)", (c) => c.notNull())
    .addColumn("product_id", "char(36)", (c) => c.notNull())
    .addColumn("name", "varchar(200)", (c) => c.notNull())
    .addColumn("quantity", "integer", (c) => c.notNull())
    .addColumn("revenue_minor", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("sales_lines_pk", ["order_id", "product_id"])
    .execute();
  await db.schema
    .createTable("sales_new_users")
    .addColumn("user_id", "char(36)", (c) => c.primaryKey())
    .addColumn("register_time", sql`datetime(6)`, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("sales_new_users_time").on("sales_new_users").column("register_time").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["sales_new_users", "sales_lines", "sales_orders", "audit_events"])
    await db.schema.dropTable(table).execute();
}
