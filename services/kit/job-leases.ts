// Leases for periodic jobs: every replica of a service ticks, but only the one that moves a
// job's next_run_time forward runs it, so a sweep runs once per interval however many replicas
// there are. The row lock of the UPDATE decides between replicas ticking at the same moment:
// the second re-reads the row after the first commits and finds it no longer due.
import { sql, type Kysely } from "kysely";

export interface JobLeasesTable {
  name: string;
  next_run_time: Date;
  holder: string;
}

export interface JobLeaseTables {
  job_leases: JobLeasesTable;
}

/**
 * Claims this interval of a job for `holder`: true when it was due (and is now due again in
 * `everyMs`), false when another replica claimed it first.
 */
export async function claimJobTick(
  db: Kysely<JobLeaseTables>,
  name: string,
  everyMs: number,
  holder: string,
): Promise<boolean> {
  // A little short of the interval, so the replica whose timer fires a moment late is not
  // pushed back a whole interval by its own previous claim.
  const nextRunTime = sql<Date>`UTC_TIMESTAMP(6) + INTERVAL ${Math.round(everyMs * 900)} MICROSECOND`;
  const claimed = await db
    .updateTable("job_leases")
    .set({ next_run_time: nextRunTime, holder })
    .where("name", "=", name)
    .where("next_run_time", "<=", sql<Date>`UTC_TIMESTAMP(6)`)
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) === 1) return true;
  // The job's first tick anywhere: whoever creates its row holds the first interval.
  const created = await db
    .insertInto("job_leases")
    .ignore()
    .values({ name, next_run_time: nextRunTime, holder })
    .executeTakeFirst();
  return Number(created.numInsertedOrUpdatedRows ?? 0n) === 1;
}
