// The test provider learns automatic capture: a payment started with it is taken as it is
// authorized, at once or when its buyer confirms (3-D Secure) or it settles (delayed success).
// Frozen: later changes are new migrations.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("test_provider_payments")
    .addColumn("capture_at_once", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("test_provider_payments").dropColumn("capture_at_once").execute();
}
