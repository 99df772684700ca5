// A database of its own for a test file, on the test run's MariaDB (tests/support/global-setup.ts
// starts it and provides its URL), migrated to the latest schema of the service under test.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";
import { inject } from "vitest";
import { createDb, ensureDatabase, migrateToLatest } from "../db.ts";

export async function migratedTestDatabase<DB>(
  name: string,
  migrations: Record<string, Migration>,
): Promise<Kysely<DB>> {
  const url = inject("mysqlUrl");
  const database = `${name}_${randomBytes(4).toString("hex")}`;
  await ensureDatabase(url, database);
  const db = createDb<DB>({ url, database });
  await migrateToLatest(db as Kysely<unknown>, migrations);
  return db;
}
