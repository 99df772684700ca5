// The whole mesh for end-to-end tests: the real service and edge processes, on free ports, with
// databases of their own on the test run's MariaDB and a nats-server of their own, so test files
// never see each other's data or events (durable consumers are shared by name on one server).
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { startNats, startNatsCluster } from "../../deploy/local/infra.ts";
import { launchMesh, serviceNames, type RunningMesh } from "../../deploy/local/mesh.ts";
import { serviceNatsEnv } from "../../deploy/local/nats-users.ts";
import { startObjectStore, type RunningObjectStore } from "../../deploy/local/object-store.ts";
import { unthrottled } from "./edge-limits.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface TestMesh extends RunningMesh {
  /** This mesh's own NATS, for tests that read the event stream. */
  natsUrl: string;
  /** The test run's MariaDB, for tests that check a service's database directly. */
  mysqlUrl: string;
  /** The environment this mesh's processes run with (databases, NATS), for scripts run against it. */
  env: NodeJS.ProcessEnv;
  /** Stops this mesh's nats-server (broker outage tests). */
  stopNats(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  startNats(): Promise<void>;
  /** This mesh's own S3-compatible store (s3rver), which the product service keeps pictures in. */
  objectStore: RunningObjectStore;
}

export { unthrottled };

export interface TestMeshShape {
  /** Processes per service (default 1). */
  replicas?: number;
  /** nats-server nodes (default 1); more form a cluster holding the event stream on each. */
  natsClusterSize?: number;
}

/**
 * `logs` receives every line of every process (`[name] level message key=value…`), for tests
 * that search them; BAZAAR_TEST_MESH_LOGS=1 shows them on stderr instead, while debugging.
 */
export async function startTestMesh(
  extraEnv: NodeJS.ProcessEnv = {},
  shape: TestMeshShape = {},
  logs?: Writable,
): Promise<TestMesh> {
  const natsDir = await mkdtemp(join(tmpdir(), "bazaar-mesh-nats-"));
  const clusterSize = shape.natsClusterSize ?? 1;
  let nats =
    clusterSize > 1
      ? await startNatsCluster({ dataDir: natsDir, size: clusterSize })
      : await startNats({ dataDir: natsDir });
  const natsPort = Number(new URL(nats.url.split(",")[0]!).port);
  const objectStore = await startObjectStore({ directory: join(natsDir, "s3") });
  let natsRunning = true;
  const prefix = `e2e_${randomBytes(4).toString("hex")}`;
  const databases = Object.fromEntries(
    serviceNames.map((name) => [`BAZAAR_${name.toUpperCase()}_DB`, `${prefix}_${name}`]),
  );
  const env = {
    ...process.env,
    ...databases,
    BAZAAR_MYSQL_URL: inject("mysqlUrl"),
    BAZAAR_NATS_URL: nats.url,
    ...serviceNatsEnv(nats.url),
    ...objectStore.env,
  };
  const mesh = await launchMesh({
    root,
    freePorts: true,
    replicas: shape.replicas,
    // Each vitest worker runs one file at a time: a port range per worker rules out collisions.
    portBase: 20_000 + (Number(process.env.VITEST_POOL_ID ?? 1) % 10) * 1_000 + Math.floor(Math.random() * 50) * 10,
    output: process.env.BAZAAR_TEST_MESH_LOGS === "1" ? process.stderr : logs,
    env: {
      ...env,
      BAZAAR_DEMO_SEED: "1",
      // 72 pictures to render on every start would cost each test file seconds of CPU: only the
      // tests that look at the demo's pictures ask for them.
      BAZAAR_DEMO_PICTURES: "0",
      BAZAAR_LOG_LEVEL: "warn",
      BAZAAR_NATS_STREAM_REPLICAS: String(clusterSize),
      // Every test client comes from 127.0.0.1: the edge's rate limits have tests of their own.
      ...unthrottled,
      // A test mesh shares two cores with another test file and its mesh: a first read right
      // after the start (caches cold, code not yet optimised) passed the production default of
      // 2 s on a loaded CI box. Deadlines have tests of their own (edge-protection).
      BAZAAR_EDGE_READ_TIMEOUT_MS: "10000",
      // The search index files go with the mesh's other files.
      BAZAAR_PRODUCT_SEARCH_DIR: join(natsDir, "search"),
      ...extraEnv,
    },
  });
  const stop = async () => {
    await mesh.stop();
    if (natsRunning) await nats.stop();
    await objectStore.stop();
    await rm(natsDir, { recursive: true, force: true });
  };
  try {
    await mesh.ready(60_000);
  } catch (error) {
    // By process name: with replicas they are "order-1", "order-2"…
    const logs = mesh.processes.map((name) => `--- ${name}\n${mesh.recentLogs(name).join("\n")}`).join("\n");
    await stop();
    throw new Error(`${(error as Error).message}\n${logs}`);
  }
  return {
    ...mesh,
    natsUrl: nats.url,
    mysqlUrl: inject("mysqlUrl"),
    env,
    stop,
    objectStore,
    async stopNats() {
      if (clusterSize > 1) throw new Error("stopNats stops a single server, not a cluster");
      await nats.stop();
      natsRunning = false;
    },
    async startNats() {
      nats = await startNats({ dataDir: natsDir, port: natsPort });
      natsRunning = true;
    },
  };
}

/** A Connect-protocol unary call with JSON, as a browser's fetch would make it. */
export async function connectJson(
  baseUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}
