// What the bench drives: a private MariaDB, NATS and mesh started for the run (the default), or a
// mesh already running elsewhere on this machine (--reuse), with the processes whose CPU and
// memory each run reports.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startInfra } from "../../deploy/local/infra.ts";
import { startMaildev } from "../../deploy/local/maildev.ts";
import { launchMesh } from "../../deploy/local/mesh.ts";
import { serviceNatsEnv } from "../../deploy/local/nats-users.ts";
import { startObjectStore } from "../../deploy/local/object-store.ts";
import { pidListeningOn } from "./process-usage.ts";

export interface BenchTarget {
  edgeUrl: string;
  /** host:port of the product service's gRPC server. */
  productAddress: string;
  mysqlUrl: string;
  natsUrl: string;
  /** Every mesh process's /metrics (empty for a reused mesh, whose ports the bench cannot know). */
  metricsUrls: string[];
  /** The mesh's processes and its servers by name ("edge", "product", "mariadbd"…). */
  processes: Map<string, number>;
  /**
   * Restarts the product service and waits until its search index holds `products` products:
   * a catalog grown straight in MariaDB has no events, and a start reads what the index lacks.
   * Undefined for a reused mesh, whose processes the bench does not own.
   */
  reindexSearch?(products: number): Promise<{ seconds: number }>;
  stop(): Promise<void>;
}

export interface ReusedMesh {
  edgeUrl: string;
  productAddress: string;
  mysqlUrl: string;
  natsUrl: string;
}

export async function startPrivateMesh(root: string, log: (line: string) => void, replicas = 1): Promise<BenchTarget> {
  const dataDir = mkdtempSync(join(tmpdir(), "bazaar-bench-"));
  const infra = await startInfra({ dataDir, log });
  // s3rver and a mail catcher, in this process: their CPU shows in the bench (node) column, not
  // the servers'. Without the catcher every order's mails would fail to connect and be retried,
  // which is not what a checkout costs where mail is delivered.
  const objectStore = await startObjectStore({ directory: join(dataDir, "s3") });
  const maildev = await startMaildev();
  const mesh = await launchMesh({
    root,
    freePorts: true,
    replicas,
    env: {
      ...process.env,
      BAZAAR_MYSQL_URL: infra.mysqlUrl,
      BAZAAR_NATS_URL: infra.natsUrl,
      ...serviceNatsEnv(infra.natsUrl),
      ...objectStore.env,
      BAZAAR_NOTIFICATION_SMTP_URL: maildev.smtpUrl,
      // The seller's shops and the dev accounts the checkout scenarios build on; not the demo's
      // 72 pictures, whose processing would run under the first scenarios' measurements.
      BAZAAR_DEMO_SEED: "1",
      BAZAAR_DEMO_PICTURES: "0",
      BAZAAR_PRODUCT_SEARCH_DIR: join(dataDir, "search"),
      BAZAAR_LOG_LEVEL: "warn",
      // All load comes from one address, and the signed-in reads from one user: the edge's rate
      // limits would otherwise be all that is measured.
      BAZAAR_EDGE_RATE_PER_ADDRESS: "1000000",
      BAZAAR_EDGE_BURST_PER_ADDRESS: "1000000",
      BAZAAR_EDGE_RATE_PER_USER: "1000000",
      BAZAAR_EDGE_BURST_PER_USER: "1000000",
      // Tokens taken at the start must outlive a long run (a million-product catalog takes minutes).
      BAZAAR_ACCESS_TOKEN_TTL_SECONDS: "3600",
    },
  });
  try {
    await mesh.ready(90_000);
  } catch (error) {
    await mesh.stop();
    await infra.stop();
    await objectStore.stop();
    await maildev.stop();
    throw error;
  }
  const processes = new Map<string, number>();
  for (const name of mesh.processes) {
    const pid = mesh.pid(name);
    if (pid !== undefined) processes.set(name, pid);
  }
  addServerProcesses(processes, infra.mysqlUrl, infra.natsUrl);
  return {
    edgeUrl: mesh.edgeUrl,
    productAddress: mesh.addresses.product.split(",")[0]!,
    mysqlUrl: infra.mysqlUrl,
    natsUrl: infra.natsUrl,
    metricsUrls: mesh.processes.map((name) => mesh.metricsUrl(name)),
    processes,
    async reindexSearch(products) {
      const started = performance.now();
      await mesh.kill("product", "SIGTERM");
      mesh.relaunch("product");
      await searchIndexHolds(mesh.metricsUrl("product"), products);
      processes.set("product", mesh.pid("product")!);
      return { seconds: (performance.now() - started) / 1000 };
    },
    async stop() {
      await mesh.stop();
      await infra.stop();
      await objectStore.stop();
      await maildev.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A mesh started by someone else (npm start with rate limits raised, say). Only the processes
 * listening on the given addresses can be found and reported; the other services are not.
 */
export async function reuseMesh(reused: ReusedMesh): Promise<BenchTarget> {
  const ready = await fetch(`${reused.edgeUrl}/readyz`).catch((error: Error) => ({ ok: false, status: error.message }));
  if (!ready.ok) throw new Error(`${reused.edgeUrl}/readyz answered ${ready.status}: is the mesh running?`);
  const processes = new Map<string, number>();
  const byPort: Array<[string, number]> = [
    ["edge", Number(new URL(reused.edgeUrl).port)],
    ["product", Number(reused.productAddress.split(":").at(-1))],
  ];
  for (const [name, port] of byPort) {
    const pid = pidListeningOn(port);
    if (pid !== undefined) processes.set(name, pid);
  }
  addServerProcesses(processes, reused.mysqlUrl, reused.natsUrl);
  return { ...reused, metricsUrls: [], processes, stop: async () => {} };
}

function addServerProcesses(processes: Map<string, number>, mysqlUrl: string, natsUrl: string): void {
  const servers: Array<[string, string, number]> = [
    ["mariadbd", mysqlUrl, 3306],
    ["nats-server", natsUrl.split(",")[0]!, 4222],
  ];
  for (const [name, url, defaultPort] of servers) {
    const pid = pidListeningOn(Number(new URL(url).port || defaultPort));
    if (pid !== undefined) processes.set(name, pid);
  }
}

/** Waits until the service's /metrics say its search index is ready with `products` products. */
async function searchIndexHolds(metricsUrl: string, products: number): Promise<void> {
  const deadline = Date.now() + 30 * 60_000;
  const gauge = (text: string, series: string) =>
    Number(
      text
        .split("\n")
        .find((line) => line.startsWith(series))
        ?.slice(series.length + 1) ?? Number.NaN,
    );
  while (Date.now() < deadline) {
    const text = await fetch(metricsUrl).then(
      (response) => response.text(),
      () => "",
    );
    if (
      gauge(text, 'bazaar_product_search_index_ready{engine="sqlite-fts5"}') === 1 &&
      gauge(text, 'bazaar_product_search_index_products{state="all"}') >= products
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  throw new Error(`the product service's search index did not reach ${products} products in 30 minutes`);
}
