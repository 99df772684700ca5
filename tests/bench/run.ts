// `npm run bench`: the mesh's hot paths under load beside raw baselines measured in the same run
// — node:http and node:http2 hello worlds, a mysql2 primary-key select and reserve-stock
// transaction, JetStream publish-with-ack — with throughput, latency percentiles, errors and
// every process's CPU and memory; catalog queries at growing catalog sizes; event lag. Results
// go to tests/bench/results/ as Markdown, JSON and an SVG chart. Options: options.ts (--help).
import { fileURLToPath } from "node:url";
import { createDatabaseBaselines, type DatabaseBaselines } from "./baselines/database.ts";
import { helloBaselines } from "./baselines/http-hello.ts";
import { createJetStreamBaseline, type JetStreamBaseline } from "./baselines/jetstream.ts";
import { growCatalog, idAtPosition } from "./catalog-load.ts";
import { measureEventLag } from "./event-lag.ts";
import { startHelloServers, type HelloServers } from "./hello-servers.ts";
import { ensureLoadTools } from "./load-tools.ts";
import { describeMachine } from "./machine.ts";
import { readOptions, usage, type BenchOptions } from "./options.ts";
import { memoryKb } from "./process-usage.ts";
import { saveReport, type BenchReport } from "./report/bench-report.ts";
import { withDerivedFigures } from "./report/derived-figures.ts";
import { levelsOf, runScenarios, type FailedRun, type Measurement, type Progress } from "./run-scenarios.ts";
import { catalogQueryScenarios } from "./scenarios/catalog-queries.ts";
import { mediaScenarioIds, mediaScenarios } from "./scenarios/media.ts";
import { productReadScenarios } from "./scenarios/product-reads.ts";
import { prepareShoppers } from "./scenarios/shoppers.ts";
import { shoppingScenarioIds, shoppingScenarios } from "./scenarios/shopping.ts";
import { reuseMesh, startPrivateMesh, type BenchTarget } from "./target.ts";
import { callEdge } from "./wire.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const resultsDir = fileURLToPath(new URL("results", import.meta.url));
/** The product service's database under its default name (services/kit/config.ts). */
const productDatabase = "bazaar_product";
const eventLagId = "event-lag";

const log = (line: string) => process.stdout.write(`${line}\n`);
const options = readOptions(process.argv.slice(2));
if (options === "help") {
  log(usage);
  process.exit(0);
}
const selected = (id: string) => options.only.length === 0 || options.only.some((prefix) => id.startsWith(prefix));
const searchSelected =
  options.only.length === 0 ||
  options.only.some((prefix) => prefix.startsWith("catalog.search") || "catalog.search".startsWith(prefix));

ensureLoadTools(log);
const report: BenchReport = {
  startedAt: new Date().toISOString(),
  machine: describeMachine(),
  settings: {
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    levels: options.levels,
    catalogSizes: options.catalogSizes,
    shoppers: options.shoppers,
    arguments: options.arguments,
  },
  measurements: [],
  failures: [],
};
const target = options.reuse ? await reuseMesh(options.reuse) : await startPrivateMesh(root, log, options.replicas);
log(`mesh at ${target.edgeUrl}; product service at ${target.productAddress}`);
report.idleMemory = await idleMemoryOf(target);
// Stopped in reverse order of start, whatever fails.
const stops: Array<() => Promise<unknown>> = [() => target.stop()];
try {
  const hello = await startHelloServers();
  stops.unshift(() => hello.stop());
  const databaseBaselines = await createDatabaseBaselines(target.mysqlUrl);
  stops.unshift(() => databaseBaselines.drop());
  const jetStreamBaseline = await createJetStreamBaseline(target.natsUrl);
  stops.unshift(() => jetStreamBaseline.close());
  await runBench({ target, hello, databaseBaselines, jetStreamBaseline }, options);
} finally {
  for (const stop of stops) await stop().catch((error: Error) => log(`stopping: ${error.message}`));
}

/** Each process's memory once the mesh has settled after its start, before any load. */
async function idleMemoryOf(target: BenchTarget): Promise<BenchReport["idleMemory"]> {
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  return [...target.processes].flatMap(([name, pid]) => {
    const memory = memoryKb(pid);
    return memory ? [{ name, rssMb: memory.rssKb / 1024, pssMb: memory.pssKb / 1024 }] : [];
  });
}

interface BenchParts {
  target: BenchTarget;
  hello: HelloServers;
  databaseBaselines: DatabaseBaselines;
  jetStreamBaseline: JetStreamBaseline;
}

async function runBench(
  { target, hello, databaseBaselines, jetStreamBaseline }: BenchParts,
  options: BenchOptions,
): Promise<void> {
  const measuredProcesses = () => [...target.processes, ...hello.pids.map((pid) => ["raw hello server", pid] as const)];
  const settings = {
    levels: options.levels,
    warmupSeconds: options.warmupSeconds,
    seconds: options.seconds,
    processes: measuredProcesses(),
    mysqlUrl: target.mysqlUrl,
    metricsUrls: target.metricsUrls,
    log,
  };
  const [firstSize, ...laterSizes] = options.catalogSizes;
  const measured: Measurement[] = [];
  const failed: FailedRun[] = [];
  const collect = ({ measurements, failures }: { measurements: Measurement[]; failures: FailedRun[] }) => {
    measured.push(...measurements);
    failed.push(...failures);
  };

  // The checkout products come first, so the catalog grown next holds them in its count.
  const shoppers = shoppingScenarioIds.some(selected)
    ? await prepareShoppers(target.edgeUrl, options.shoppers, log)
    : undefined;
  // A catalog grown straight in MariaDB reaches the search index when the product service starts.
  const grownCatalog = async (size: number) => {
    const grown = await growCatalog(target.mysqlUrl, productDatabase, size, log);
    if (target.reindexSearch && searchSelected) {
      const { seconds } = await target.reindexSearch(grown);
      // The restarted product service is another process.
      settings.processes = measuredProcesses();
      log(`  search index of ${grown.toLocaleString("en")} products ready ${seconds.toFixed(1)} s after a restart`);
    }
    return grown;
  };
  let catalogSize = await grownCatalog(firstSize!);
  const { products } = await callEdge(target.edgeUrl, "bazaar.product.v1.ProductService/ListProducts", { pageSize: 1 });
  const productId: string = products[0].id;
  const customer = await callEdge(target.edgeUrl, "bazaar.auth.v1.AuthService/Login", {
    email: devAccounts.customer.email,
    password: devAccounts.customer.password,
  });
  const seller = await callEdge(target.edgeUrl, "bazaar.auth.v1.AuthService/Login", {
    email: devAccounts.seller.email,
    password: devAccounts.seller.password,
  });
  const chosen = [
    ...helloBaselines(hello),
    ...databaseBaselines.scenarios,
    jetStreamBaseline.scenario,
    ...(await productReadScenarios({
      edgeUrl: target.edgeUrl,
      productAddress: target.productAddress,
      productId,
      accessToken: customer.tokens.accessToken,
      sellerAccessToken: seller.tokens.accessToken,
    })),
    ...(shoppers ? shoppingScenarios(target.edgeUrl, shoppers) : []),
    ...(Object.values(mediaScenarioIds).some(selected)
      ? await mediaScenarios({ edgeUrl: target.edgeUrl, mysqlUrl: target.mysqlUrl, productDatabase })
      : []),
  ].filter((scenario) => selected(scenario.id));
  const catalogQueries = async (size: number) =>
    catalogQueryScenarios({
      productAddress: target.productAddress,
      mysqlUrl: target.mysqlUrl,
      productDatabase,
      catalogSize: size,
      productId,
      deepProductId: await idAtPosition(target.mysqlUrl, productDatabase, Math.floor(size * 0.9)),
    }).filter((scenario) => selected(scenario.id));
  const firstCatalogQueries = await catalogQueries(catalogSize);
  const progress: Progress = {
    done: 0,
    total:
      chosen.reduce((sum, s) => sum + levelsOf(s, options.levels).length, 0) +
      firstCatalogQueries.length * (1 + laterSizes.length),
    startedAt: performance.now(),
  };
  collect(await runScenarios(chosen, settings, progress));
  collect(await runScenarios(firstCatalogQueries, settings, progress));
  // The catalog grows only for the queries that depend on its size.
  for (const size of firstCatalogQueries.length > 0 ? laterSizes : []) {
    log(`▶ growing the catalog to ${size.toLocaleString("en")} products`);
    catalogSize = await grownCatalog(size);
    collect(await runScenarios(await catalogQueries(catalogSize), settings, progress));
  }
  if (options.lagSeconds > 0 && selected(eventLagId)) {
    log(`▶ event lag at ${options.lagRatePerSecond} events/s for ${options.lagSeconds} s`);
    const paths = await measureEventLag({
      mysqlUrl: target.mysqlUrl,
      natsUrl: target.natsUrl,
      ratePerSecond: options.lagRatePerSecond,
      seconds: options.lagSeconds,
    });
    report.eventLag = { ratePerSecond: options.lagRatePerSecond, seconds: options.lagSeconds, paths };
  }

  report.measurements = withDerivedFigures(measured);
  report.failures = failed;
  const { markdown, files } = saveReport(report, resultsDir);
  log(`\n${markdown}`);
  log(`written: ${files.join(", ")}`);
}
