// `npm run migrate [service…]`: applies pending migrations to BAZAAR_MYSQL_URL, each service to
// its own database (BAZAAR_<SERVICE>_DB); every service when none is named. Services also
// migrate themselves at start; this is for deploy pipelines that migrate first — the Kubernetes
// migration Jobs run it for one service each (`bazaar migrate product`), with that service's
// own database credentials.
import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";
import {
  defaultPorts,
  envReader,
  loadConfigOrExit,
  readServiceBaseConfig,
  type ServiceName,
} from "../../services/kit/config.ts";
import { createDb, ensureDatabase, migrateToLatest } from "../../services/kit/db.ts";
import { migrations as admin } from "../../services/admin/db/migrations/index.ts";
import { migrations as auth } from "../../services/auth/db/migrations/index.ts";
import { migrations as cart } from "../../services/cart/db/migrations/index.ts";
import { migrations as notification } from "../../services/notification/db/migrations/index.ts";
import { migrations as payment } from "../../services/payment/db/migrations/index.ts";
import { migrations as order } from "../../services/order/db/migrations/index.ts";
import { migrations as product } from "../../services/product/db/migrations/index.ts";

const all: Record<ServiceName, Record<string, Migration>> = {
  auth,
  product,
  cart,
  order,
  admin,
  payment,
  notification,
};

const isServiceName = (name: string): name is ServiceName => name in defaultPorts;
const named = process.argv.slice(2);
const unknown = named.filter((name) => !isServiceName(name));
if (unknown.length > 0) {
  process.stderr.write(`migrate: unknown service ${unknown.join(", ")} (one of ${Object.keys(all).join(", ")})\n`);
  process.exit(64);
}
const services = named.length > 0 ? (named as ServiceName[]) : (Object.keys(all) as ServiceName[]);

for (const service of services) {
  const config = loadConfigOrExit(() => readServiceBaseConfig(envReader(process.env), service));
  await ensureDatabase(config.mysqlUrl, config.database);
  const db = createDb<unknown>({ url: config.mysqlUrl, database: config.database });
  try {
    const applied = await migrateToLatest(db as Kysely<unknown>, all[service]);
    process.stdout.write(
      `${service.padEnd(8)} ${config.database}: ${applied.length ? applied.join(", ") : "up to date"}\n`,
    );
  } finally {
    await db.destroy();
  }
}
