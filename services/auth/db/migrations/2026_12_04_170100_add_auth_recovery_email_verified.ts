// When a user confirmed their e-mail. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").addColumn("email_verify_time", sql`datetime(6)`).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").dropColumn("email_verify_time").execute();
}
