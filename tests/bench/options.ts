// The bench's command line, read once into typed options (`npm run bench -- --help` prints this).
import { parseArgs } from "node:util";
import type { ReusedMesh } from "./target.ts";

export const usage = `npm run bench -- [options]

  --duration S         seconds measured per run (default 8), after --warmup S (default 1)
  --concurrency LIST   requests in flight for the swept scenarios, e.g. 1,8,32,128 (default 32)
  --catalog LIST       catalog sizes for the catalog queries, e.g. 10000,100000,1000000
                       (default 10000,100000; 0 = the catalog as it is); the other scenarios
                       run at the first size
  --shoppers N         registered shoppers for cart, checkout and login (default 8 x the
                       highest concurrency, 64 to 1024)
  --only LIST          scenario id prefixes, e.g. baseline,edge.get-product,order,event-lag
                       (default all; the ids are in tests/bench/README.md)
  --replicas N         processes per service in the mesh the bench starts (default 1; the edge
                       stays one), as \`npm start -- --replicas N\` runs them
  --lag-rate N         event-lag test: events per second (default 200)
  --lag-seconds S      event-lag test: how long (default 10; 0 skips it)
  --reuse EDGE_URL     drive a running mesh instead of starting one; then also
  --product-addr H:P   its product service (default 127.0.0.1:50052)
  --mysql-url URL      its MariaDB/MySQL server (root or a user that may create databases)
  --nats-url URL       its NATS server, with credentials allowed to create streams
`;

export interface BenchOptions {
  seconds: number;
  warmupSeconds: number;
  levels: number[];
  /** Ascending; [0] means the catalog as it is. */
  catalogSizes: number[];
  shoppers: number;
  /** Id prefixes; empty selects everything. */
  only: string[];
  lagRatePerSecond: number;
  lagSeconds: number;
  /** Processes per service in the private mesh. */
  replicas: number;
  reuse?: ReusedMesh;
  /** As given, for the results. */
  arguments: string[];
}

export function readOptions(args: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string", default: "8" },
      warmup: { type: "string", default: "1" },
      concurrency: { type: "string", default: "32" },
      catalog: { type: "string", default: "10000,100000" },
      shoppers: { type: "string" },
      only: { type: "string", default: "" },
      "lag-rate": { type: "string", default: "200" },
      "lag-seconds": { type: "string", default: "10" },
      replicas: { type: "string", default: "1" },
      reuse: { type: "string" },
      "product-addr": { type: "string", default: "127.0.0.1:50052" },
      "mysql-url": { type: "string" },
      "nats-url": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const levels = numbers("--concurrency", values.concurrency, 1);
  const sizes = numbers("--catalog", values.catalog, 0).filter((n) => n > 0);
  const highest = Math.max(...levels);
  let reuse: ReusedMesh | undefined;
  if (values.reuse) {
    if (!values["mysql-url"] || !values["nats-url"]) throw new Error("--reuse needs --mysql-url and --nats-url too");
    reuse = {
      edgeUrl: values.reuse.replace(/\/$/, ""),
      productAddress: values["product-addr"],
      mysqlUrl: values["mysql-url"],
      natsUrl: values["nats-url"],
    };
  }
  return {
    seconds: positive("--duration", values.duration),
    warmupSeconds: Number(values.warmup),
    levels,
    catalogSizes: sizes.length > 0 ? [...new Set(sizes)].sort((a, b) => a - b) : [0],
    shoppers: values.shoppers ? positive("--shoppers", values.shoppers) : Math.min(1024, Math.max(64, 8 * highest)),
    only: values.only
      .split(",")
      .map((prefix) => prefix.trim())
      .filter(Boolean),
    lagRatePerSecond: positive("--lag-rate", values["lag-rate"]),
    lagSeconds: Number(values["lag-seconds"]),
    replicas: numbers("--replicas", values.replicas, 1)[0]!,
    reuse,
    arguments: args,
  };
}

function numbers(name: string, text: string, min: number): number[] {
  const list = text.split(",").map((item) => Number(item.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < min))
    throw new Error(`${name} takes a comma-separated list of whole numbers ≥ ${min}, not "${text}"`);
  return [...new Set(list)].sort((a, b) => a - b);
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!(value > 0)) throw new Error(`${name} must be a positive number, not "${text}"`);
  return value;
}
