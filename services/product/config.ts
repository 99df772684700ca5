// The product service's configuration.
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envReader, readServiceBaseConfig, type Env, type ServiceBaseConfig } from "../kit/config.ts";
import { readMediaConfig, type MediaConfig } from "./media/config.ts";

export interface ProductConfig extends ServiceBaseConfig {
  /** ISO 4217 code of the one currency the catalog is priced in. */
  currencyCode: string;
  /** LOCAL DEV: seed the demo catalog on first start. */
  demoSeed: boolean;
  /** LOCAL DEV: give the demo products pictures (through object storage and the image worker). */
  demoPictures: boolean;
  /** How long stock stays held for an unfinished checkout. */
  reservationTtlMs: number;
  /** How often expired holds are looked for. */
  expirySweepMs: number;
  /** Pictures: object storage and limits. */
  media: MediaConfig;
  /**
   * The search index file (SQLite), one per replica, built from the catalog when missing: the
   * path given, or a file in BAZAAR_PRODUCT_SEARCH_DIR (the system's temporary directory by
   * default) named after the database it indexes and this process's listen address.
   */
  searchIndexPath: string;
  /** Products whose GetProduct reads are kept in memory (domain/product-read-cache.ts); 0 keeps none. */
  readCacheEntries: number;
}

export function loadProductConfig(env: Env): ProductConfig {
  const read = envReader(env);
  const base = readServiceBaseConfig(read, "product");
  return {
    ...base,
    currencyCode: read.matching("BAZAAR_CURRENCY", "USD", /^[A-Z]{3}$/, "an ISO 4217 code like USD"),
    demoSeed: read.flag("BAZAAR_DEMO_SEED", false),
    demoPictures: read.flag("BAZAAR_DEMO_PICTURES", read.flag("BAZAAR_DEMO_SEED", false)),
    reservationTtlMs: read.int("BAZAAR_RESERVATION_TTL_SECONDS", 900, { min: 1, max: 86_400 }) * 1000,
    expirySweepMs: read.int("BAZAAR_RESERVATION_SWEEP_MS", 5_000, { min: 100, max: 600_000 }),
    media: readMediaConfig(read),
    readCacheEntries: read.int("BAZAAR_PRODUCT_READ_CACHE_ENTRIES", 10_000, { min: 0, max: 1_000_000 }),
    searchIndexPath: read.string(
      "BAZAAR_PRODUCT_SEARCH_INDEX",
      defaultSearchIndexPath(base, read.string("BAZAAR_PRODUCT_SEARCH_DIR", join(tmpdir(), "bazaar-search"))),
    ),
  };
}

/**
 * One file per database name and listen address: two replicas on one machine never share an
 * index, and a restart on the same address finds its own again. Not the server's URL: npm start's
 * MariaDB takes a free port each time. An index of another database of the same name is told by
 * the database's identity and built again (domain/search-read-model.ts).
 */
function defaultSearchIndexPath(base: ServiceBaseConfig, directory: string): string {
  const address = createHash("sha256").update(base.listenAddress).digest("hex").slice(0, 12);
  return join(directory, `${base.database}-${address}.sqlite`);
}
