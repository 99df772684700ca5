// `npm run migrate`: applies every service's pending migrations to BAZAAR_MYSQL_URL, each to its
// own database (BAZAAR_<SERVICE>_DB). Services also migrate themselves at start; this is for
// deploy pipelines that migrate first.
import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";
import { envReader, loadConfigOrExit, readServiceBaseConfig, type ServiceName } from "../../services/kit/config.ts";
import { createDb, ensureDatabase, migrateToLatest } from "../../services/kit/db.ts";
import { migrations as admin } from "../../services/admin/db/migrations/index.ts";
import { migrations as auth } from "../../services/auth/db/migrations/index.ts";
import { migrations as cart } from "../../services/cart/db/migrations/index.ts";
import { migrations as order } from "../../services/order/db/migrations/index.ts";
import { migrations as product } from "../../services/product/db/migrations/index.ts";

const all: Record<ServiceName, Record<string, Migration>> = { auth, product, cart, order, admin };

for (const [service, migrations] of Object.entries(all) as Array<[ServiceName, Record<string, Migration>]>) {
  const config = loadConfigOrExit(() => readServiceBaseConfig(envReader(process.env), service));
  await ensureDatabase(config.mysqlUrl, config.database);
  const db = createDb<unknown>({ url: config.mysqlUrl, database: config.database });
  try {
    const applied = await migrateToLatest(db as Kysely<unknown>, migrations);
    process.stdout.write(`${service.padEnd(8)} ${config.database}: ${applied.length ? applied.join(", ") : "up to date"}\n`);
  } finally {
    await db.destroy();
  }
}
