// Job leases against a real MariaDB: of replicas ticking together, one runs the job per interval.
import { randomBytes } from "node:crypto";
import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb, ensureDatabase, migrateToLatest } from "./db.ts";
import { claimJobTick, type JobLeaseTables } from "./job-leases.ts";
import { startJob } from "./lifecycle.ts";
import { createLogger } from "./log.ts";
import * as jobLeases from "./migrations/2026_11_25_000000_create_job_leases.ts";

let db: Kysely<JobLeaseTables>;

beforeAll(async () => {
  const database = `leases_${randomBytes(4).toString("hex")}`;
  await ensureDatabase(inject("mysqlUrl"), database);
  db = createDb<JobLeaseTables>({ url: inject("mysqlUrl"), database });
  await migrateToLatest(db as Kysely<unknown>, { "0_job_leases": jobLeases });
});

afterAll(async () => {
  await db?.destroy();
});

/** Makes the job due now, as if its interval had passed. */
async function intervalPasses(name: string): Promise<void> {
  await db
    .updateTable("job_leases")
    .set({ next_run_time: sql<Date>`UTC_TIMESTAMP(6) - INTERVAL 1 SECOND` })
    .where("name", "=", name)
    .execute();
}

describe("job leases", () => {
  it("when a job ticks for the first time, then the first replica claims it and the next finds it taken", async () => {
    expect(await claimJobTick(db, "first-tick", 60_000, "replica-a")).toBe(true);
    expect(await claimJobTick(db, "first-tick", 60_000, "replica-b")).toBe(false);
    expect(await claimJobTick(db, "first-tick", 60_000, "replica-a")).toBe(false);
  });

  it("when the interval has passed, then either replica may claim the next tick, once", async () => {
    expect(await claimJobTick(db, "next-tick", 60_000, "replica-a")).toBe(true);
    await intervalPasses("next-tick");
    expect(await claimJobTick(db, "next-tick", 60_000, "replica-b")).toBe(true);
    expect(await claimJobTick(db, "next-tick", 60_000, "replica-a")).toBe(false);
    const row = await db.selectFrom("job_leases").selectAll().where("name", "=", "next-tick").executeTakeFirstOrThrow();
    expect(row.holder).toBe("replica-b");
  });

  it("when many replicas tick at the same moment on a due job, then exactly one runs it", async () => {
    const replicas = Array.from({ length: 12 }, (_, i) => `replica-${i}`);
    const firstClaims = await Promise.all(replicas.map((holder) => claimJobTick(db, "crowded", 60_000, holder)));
    expect(firstClaims.filter(Boolean)).toHaveLength(1);
    await intervalPasses("crowded");
    const dueClaims = await Promise.all(replicas.map((holder) => claimJobTick(db, "crowded", 60_000, holder)));
    expect(dueClaims.filter(Boolean)).toHaveLength(1);
  });

  it("when a tick is claimed, then the job is not due again until about its interval later", async () => {
    await claimJobTick(db, "spacing", 10_000, "replica-a");
    const { seconds } = await db
      .selectFrom("job_leases")
      .select(sql<number>`TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), next_run_time) / 1e6`.as("seconds"))
      .where("name", "=", "spacing")
      .executeTakeFirstOrThrow();
    expect(Number(seconds)).toBeGreaterThan(8);
    expect(Number(seconds)).toBeLessThanOrEqual(9.01);
  });
});

describe("a periodic job", () => {
  it("when a run never ends, then the job goes on ticking after the overrun instead of stopping for good", async () => {
    let runs = 0;
    const job = startJob(
      {
        name: `hangs-${randomBytes(3).toString("hex")}`,
        everyMs: 50,
        overrunMs: 200,
        run: () => {
          runs += 1;
          // The first run hangs like a call to a server that never answers.
          return runs === 1 ? new Promise(() => undefined) : Promise.resolve();
        },
      },
      db,
      createLogger("test", "fatal"),
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      await job.stop();
    }
    expect(runs).toBeGreaterThan(2);
  });
});
