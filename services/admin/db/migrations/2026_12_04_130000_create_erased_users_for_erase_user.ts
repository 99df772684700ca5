// The users an admin erased (AdminService.EraseUser). Not a projection: a rebuild keeps it, so
// replaying the stream, whose older events still carry their e-mail and name, does not bring
// personal data back into the audit trail. Frozen: later changes are new migrations.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("erased_users")
    .addColumn("user_id", "char(36)", (c) => c.primaryKey())
    .addColumn("request_time", sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`(UTC_TIMESTAMP(6))`))
    // Set once every service has erased its part; null while a retry still has work to do.
    .addColumn("complete_time", sql`datetime(6)`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("erased_users").execute();
}
