// The lease table every service database has: when each periodic job may next run, so that of
// all replicas of a service only one runs it per interval (see ../job-leases.ts). Frozen.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("job_leases")
    .addColumn("name", "varchar(100)", (c) => c.primaryKey())
    .addColumn("next_run_time", sql`datetime(6)`, (c) => c.notNull())
    .addColumn("holder", "varchar(100)", (c) => c.notNull().defaultTo(""))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("job_leases").execute();
}
