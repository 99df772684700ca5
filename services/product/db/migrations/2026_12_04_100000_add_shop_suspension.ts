// Shop suspension by admins. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("shops")
    .addColumn("suspend_time", sql`datetime(6)`)
    .addColumn("suspend_reason", "varchar(500)", (c) => c.notNull().defaultTo(""))
    .execute();
  // Product reads leave out the few suspended shops' products: this finds those shops.
  await db.schema.createIndex("shops_suspended").on("shops").column("suspend_time").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("shops_suspended").on("shops").execute();
  await db.schema.alterTable("shops").dropColumn("suspend_time").dropColumn("suspend_reason").execute();
}
