// The demo catalog seeded by replicas starting together on an empty database, against MariaDB.
import type { Kysely } from "kysely";
import { afterAll, expect, it } from "vitest";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import type { ProductDatabase } from "./database.ts";
import { seedDemoCatalog } from "./demo-seed.ts";
import { migrations } from "./migrations/index.ts";

const databases: Kysely<ProductDatabase>[] = [];

afterAll(async () => {
  await Promise.all(databases.map((db) => db.destroy()));
});

it("when three replicas seed an empty database at once, then one seeds it, the others find it, none fails", {
  timeout: 60_000,
}, async () => {
  // Several empty databases: the race is between the replicas' first statements, not every time.
  for (let round = 0; round < 6; round++) {
    const db = await migratedTestDatabase<ProductDatabase>("demo_seed", migrations);
    databases.push(db);
    const outcomes = await Promise.all([1, 2, 3].map(() => seedDemoCatalog(db, "EUR")));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    const categories = await db.selectFrom("categories").select("slug").execute();
    expect(categories.length).toBeGreaterThan(0);
    expect(new Set(categories.map((c) => c.slug)).size).toBe(categories.length);
    expect(await seedDemoCatalog(db, "EUR")).toBe(false);
  }
});
