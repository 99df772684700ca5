// `npm run bench`: throughput of the mesh's hot paths beside a raw node:http2 baseline measured in
// the same run, with h2load (Debian nghttp2-client, installed when missing) as the load
// generator — a C client, so the load generator is not the bottleneck a Node client would be.
//
//   npm run bench -- [--duration 8] [--connections 16] [--streams 8] [--catalog 10000,100000]
//                    [--lag-rate 200] [--lag-seconds 10]
//
// Prints a Markdown table and writes it with a JSON copy under tests/bench/results/.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import {
  GetProductRequestSchema,
  ListProductsRequestSchema,
  ProductOrder,
  ProductService,
  SearchProductsRequestSchema,
} from "../../gen/bazaar/product/v1/product_pb.ts";
import { encodePageToken } from "../../services/product/domain/catalog.ts";
import { growCatalog, idAtPosition } from "./catalog-load.ts";
import { measureEventLag } from "./event-lag.ts";
import { startInfra } from "../../deploy/local/infra.ts";
import { launchMesh } from "../../deploy/local/mesh.ts";
import { serviceNatsEnv } from "../../deploy/local/nats-users.ts";
import { freePort } from "../../deploy/local/ports.ts";
import { createMeshClient } from "../../services/kit/clients.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";

const { values: options } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    connections: { type: "string", default: "16" },
    streams: { type: "string", default: "8" },
    // Catalog sizes to measure the catalog queries at, e.g. 10000,100000,1000000.
    catalog: { type: "string", default: "10000,100000" },
    // Event lag: events per second and for how long.
    "lag-rate": { type: "string", default: "200" },
    "lag-seconds": { type: "string", default: "10" },
  },
});
const root = fileURLToPath(new URL("../..", import.meta.url));
// The load comes from one address and one user: the edge's rate limits would measure themselves.
const benchRateLimits = {
  BAZAAR_EDGE_RATE_PER_ADDRESS: "1000000",
  BAZAAR_EDGE_BURST_PER_ADDRESS: "1000000",
  BAZAAR_EDGE_RATE_PER_USER: "1000000",
  BAZAAR_EDGE_BURST_PER_USER: "1000000",
};
const work = mkdtempSync(join(tmpdir(), "bazaar-bench-"));

interface Scenario {
  name: string;
  url: string;
  /** HTTP/1.1, one request at a time per connection, compared with the node:http baseline. */
  http1?: boolean;
  body?: Buffer;
  headers?: Record<string, string>;
  connections?: number;
  streams?: number;
}

interface Result {
  name: string;
  requestsPerSecond: number;
  meanLatencyMs: number;
  failed: number;
  ratioToBaseline: number;
}

ensureH2load();
const log = (line: string) => process.stdout.write(`${line}\n`);
const infra = await startInfra({ dataDir: join(work, "data") });
const mesh = await launchMesh({
  root,
  freePorts: true,
  env: { ...process.env, BAZAAR_MYSQL_URL: infra.mysqlUrl, BAZAAR_NATS_URL: infra.natsUrl, ...serviceNatsEnv(infra.natsUrl), BAZAAR_DEMO_SEED: "1", BAZAAR_LOG_LEVEL: "warn", ...benchRateLimits },
});
const baselinePort = await freePort();
const baseline = spawn(
  process.execPath,
  ["-e", `require("node:http2").createServer((q, s) => s.end("hello")).listen(${baselinePort}, "127.0.0.1")`],
  { stdio: "ignore" },
);
const http1BaselinePort = await freePort();
const http1Baseline = spawn(
  process.execPath,
  ["-e", `require("node:http").createServer((q, s) => s.end("hello")).listen(${http1BaselinePort}, "127.0.0.1")`],
  { stdio: "ignore" },
);

try {
  await mesh.ready(90_000);
  log(`mesh ready at ${mesh.edgeUrl}`);
  const edge = mesh.edgeUrl;
  const productId = (await postJson(`${edge}/bazaar.product.v1.ProductService/ListProducts`, { pageSize: 1 })).products[0].id;
  const login = await postJson(`${edge}/bazaar.auth.v1.AuthService/Login`, {
    email: devAccounts.customer.email,
    password: devAccounts.customer.password,
  });
  // The gRPC scenario's request must succeed, since h2load cannot see grpc-status.
  const products = createMeshClient(ProductService, mesh.addresses.product);
  await products.client.getProduct({ id: productId });
  products.close();
  const json = { "content-type": "application/json" };
  const grpc = { "content-type": "application/grpc", te: "trailers" };

  const scenarios: Scenario[] = [
    { name: "baseline: raw node:http2 hello world", url: `http://127.0.0.1:${baselinePort}/` },
    { name: "baseline: raw node:http hello world (HTTP/1.1)", url: `http://127.0.0.1:${http1BaselinePort}/`, http1: true },
    {
      name: "GetProduct, Connect JSON over HTTP/1.1 through the edge, anonymous (edge cache)",
      url: `${edge}/bazaar.product.v1.ProductService/GetProduct`,
      body: Buffer.from(JSON.stringify({ id: productId })),
      headers: json,
      http1: true,
    },
    {
      name: "GetProduct, Connect JSON over HTTP/1.1 through the edge, signed in (no cache)",
      url: `${edge}/bazaar.product.v1.ProductService/GetProduct`,
      body: Buffer.from(JSON.stringify({ id: productId })),
      headers: { ...json, authorization: `Bearer ${login.tokens.accessToken}` },
      http1: true,
    },
    {
      name: "GetProduct, gRPC on the product port",
      url: `http://${mesh.addresses.product}/bazaar.product.v1.ProductService/GetProduct`,
      body: grpcFrame(GetProductRequestSchema, { id: productId }),
      headers: grpc,
    },
    {
      name: "GetProduct, Connect JSON through the edge (h2c)",
      url: `${edge}/bazaar.product.v1.ProductService/GetProduct`,
      body: Buffer.from(JSON.stringify({ id: productId })),
      headers: json,
    },
    {
      name: "GetMe, Connect JSON through the edge (token verified)",
      url: `${edge}/bazaar.auth.v1.AuthService/GetMe`,
      body: Buffer.from("{}"),
      headers: { ...json, authorization: `Bearer ${login.tokens.accessToken}` },
    },
    {
      name: "Login, Connect JSON through the edge (argon2id)",
      url: `${edge}/bazaar.auth.v1.AuthService/Login`,
      body: Buffer.from(JSON.stringify({ email: devAccounts.customer.email, password: devAccounts.customer.password })),
      headers: json,
      connections: 4,
    },
  ];

  const results: Result[] = [];
  // Each scenario against the baseline of its own protocol, measured first in this run.
  const baselines = new Map<boolean, number>();
  for (const scenario of scenarios) {
    log(`▶ ${scenario.name}`);
    const measured = runH2load(scenario);
    const http1 = scenario.http1 ?? false;
    if (!baselines.has(http1)) baselines.set(http1, measured.requestsPerSecond);
    results.push({ ...measured, name: scenario.name, ratioToBaseline: measured.requestsPerSecond / baselines.get(http1)! });
  }

  const catalogTable = await measureCatalogSizes(productId);
  const lagTable = await measureLag();

  const table = [
    `Bazaar bench — ${new Date().toISOString()} — h2load ${options.connections} connections × ${options.streams} streams, ${options.duration}s each`,
    "",
    "HTTP/1.1 scenarios: one request at a time per connection, against the node:http baseline; the others against node:http2.",
    "",
    "| scenario | req/s | mean latency ms | failed | × baseline |",
    "|---|---:|---:|---:|---:|",
    ...results.map(
      (r) => `| ${r.name} | ${Math.round(r.requestsPerSecond)} | ${r.meanLatencyMs.toFixed(2)} | ${r.failed} | ${r.ratioToBaseline.toFixed(3)} |`,
    ),
    "",
    "Connect failures are non-200 and counted; h2load counts gRPC responses as 200 whatever their grpc-status, so each gRPC request was checked once before its run.",
    "",
    catalogTable,
    "",
    lagTable,
  ].join("\n");
  log(`\n${table}`);
  const out = join(root, "tests/bench/results");
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  writeFileSync(join(out, `${stamp}.md`), `${table}\n`);
  writeFileSync(join(out, `${stamp}.json`), JSON.stringify({ options, results }, null, 2));
} finally {
  baseline.kill();
  http1Baseline.kill();
  await mesh.stop();
  await infra.stop();
  rmSync(work, { recursive: true, force: true });
}

/** Commit-to-handler lag of events at a steady rate, beside raw JetStream at the same rate. */
async function measureLag(): Promise<string> {
  const ratePerSecond = Number(options["lag-rate"]);
  const seconds = Number(options["lag-seconds"]);
  log(`▶ event lag at ${ratePerSecond} events/s for ${seconds} s`);
  const rows = await measureEventLag({ mysqlUrl: infra.mysqlUrl, natsUrl: infra.natsUrl, ratePerSecond, seconds });
  return [
    `Event lag at ${ratePerSecond} events/s for ${seconds} s (ms from commit or publish to the consumer's handler):`,
    "",
    "| path | events | p50 ms | p99 ms | max ms |",
    "|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.path} | ${r.events} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} |`),
  ].join("\n");
}

/** Catalog queries over gRPC at growing catalog sizes: req/s per size, and × the raw baseline. */
async function measureCatalogSizes(productId: string): Promise<string> {
  const sizes = options.catalog!.split(",").map(Number).filter((n) => n > 0).sort((a, b) => a - b);
  const grpcHeaders = { "content-type": "application/grpc", te: "trailers" };
  const url = (method: string) => `http://${mesh.addresses.product}/bazaar.product.v1.ProductService/${method}`;
  const client = createMeshClient(ProductService, mesh.addresses.product);
  const rows = new Map<string, number[]>();
  try {
    for (const size of sizes) {
      log(`▶ catalog of ${size} products`);
      await growCatalog(infra.mysqlUrl, "bazaar_product", size, log);
      const deepId = await idAtPosition(infra.mysqlUrl, "bazaar_product", Math.floor(size * 0.9));
      const deepToken = encodePageToken({ order: "newest", id: deepId });
      // [name, url, body, a check that the request succeeds, concurrency override]
      const requests: Array<[string, string, Buffer, () => Promise<unknown>, number?]> = [
        ["GetProduct", url("GetProduct"), grpcFrame(GetProductRequestSchema, { id: productId }), () => client.client.getProduct({ id: productId })],
        ["ListProducts, first page of 20", url("ListProducts"), grpcFrame(ListProductsRequestSchema, {}), () => client.client.listProducts({})],
        [
          "ListProducts, page at 90% depth",
          url("ListProducts"),
          grpcFrame(ListProductsRequestSchema, { pageToken: deepToken }),
          () => client.client.listProducts({ pageToken: deepToken }),
        ],
        [
          "ListProducts, price ascending",
          url("ListProducts"),
          grpcFrame(ListProductsRequestSchema, { orderBy: ProductOrder.PRICE_ASC }),
          () => client.client.listProducts({ orderBy: ProductOrder.PRICE_ASC }),
        ],
        // InnoDB FULLTEXT ranks every match: a word in 10% of the catalog costs in proportion to
        // the catalog, a rare one does not. Few concurrent searches, or they only queue.
        [
          "SearchProducts, a word in 5% of products",
          url("SearchProducts"),
          grpcFrame(SearchProductsRequestSchema, { query: "espresso" }),
          () => client.client.searchProducts({ query: "espresso" }),
          4,
        ],
        [
          "SearchProducts, a rare word",
          url("SearchProducts"),
          grpcFrame(SearchProductsRequestSchema, { query: "bench4242" }),
          () => client.client.searchProducts({ query: "bench4242" }),
          4,
        ],
      ];
      for (const [name, target, body, check, concurrency] of requests) {
        await check();
        const measured = runH2load({ name, url: target, body, headers: grpcHeaders, connections: concurrency, streams: concurrency && 1 });
        rows.set(name, [...(rows.get(name) ?? []), measured.requestsPerSecond]);
      }
    }
  } finally {
    client.close();
  }
  return [
    "Catalog queries over gRPC (req/s) by catalog size:",
    "",
    `| query | ${sizes.map((s) => `${s.toLocaleString("en")} products`).join(" | ")} |`,
    `|---|${sizes.map(() => "---:").join("|")}|`,
    ...[...rows].map(([name, values]) => `| ${name} | ${values.map((v) => Math.round(v)).join(" | ")} |`),
  ].join("\n");
}

function runH2load(scenario: Scenario): Omit<Result, "name" | "ratioToBaseline"> {
  const args = [
    "-D", options.duration!,
    "-c", String(scenario.connections ?? Number(options.connections) * (scenario.http1 ? 2 : 1)),
    "-m", String(scenario.http1 ? 1 : (scenario.streams ?? Number(options.streams))),
    ...(scenario.http1 ? ["--h1"] : []),
    "-t", "1",
    "--warm-up-time=1",
  ];
  if (scenario.body) {
    const file = join(work, "body.bin");
    writeFileSync(file, scenario.body);
    args.push("-d", file);
  }
  for (const [name, value] of Object.entries(scenario.headers ?? {})) args.push("-H", `${name}: ${value}`);
  const output = execFileSync("h2load", [...args, scenario.url], { encoding: "utf8" });
  const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(output)?.[1] ?? 0);
  const mean = Number(/time for request:\s+\S+\s+\S+\s+(\S+)/.exec(output)?.[1]?.replace(/ms|us|s/, "") ?? 0);
  const unit = /time for request:\s+\S+\s+\S+\s+\S*?(ms|us|s)\b/.exec(output)?.[1];
  const meanLatencyMs = unit === "us" ? mean / 1000 : unit === "s" ? mean * 1000 : mean;
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  const failed = status ? Number(status[3]) + Number(status[4]) : 0;
  return { requestsPerSecond: rps, meanLatencyMs, failed };
}

function grpcFrame<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Buffer {
  const body = toBinary(schema, create(schema, init));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  Buffer.from(body).copy(frame, 5);
  return frame;
}

async function postJson(url: string, body: unknown): Promise<any> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

function ensureH2load(): void {
  if (spawnSync("h2load", ["--version"]).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error("h2load is missing: sudo apt-get install -y nghttp2-client");
  execFileSync("apt-get", ["install", "-y", "-qq", "nghttp2-client"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}
