// The mesh the fuzzer runs against: the real service and edge processes on free ports, databases
// of their own on the given MariaDB, with their error logs watched and their exits recorded. The
// edge starts unthrottled, so rate limits never hide what an input gets; withDefaultRateLimits
// restarts it with the limits production has.
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { launchMesh, serviceNames, type RunningMesh } from "../../deploy/local/mesh.ts";
import { serviceNatsEnv } from "../../deploy/local/nats-users.ts";
import { allowedOrigin } from "./headers.ts";
import { LogWatch } from "./log-watch.ts";
import { ProcessWatch } from "./process-watch.ts";
import { unthrottled } from "../support/edge-limits.ts";

export interface FuzzMesh {
  mesh: RunningMesh;
  logs: LogWatch;
  processes: ProcessWatch;
  /** The shared secret services trade for a service token (the fuzzer calls internal RPCs too). */
  serviceSecret: string;
  /** Restarts the edge with its default rate limits (the rate-limit phase). */
  withDefaultRateLimits(): Promise<void>;
  stop(): Promise<void>;
}

export interface FuzzMeshOptions {
  mysqlUrl: string;
  natsUrl: string;
  /** Every log line of the mesh, when wanted (the CLI's --verbose). */
  echoLogs?: NodeJS.WritableStream;
}

const root = fileURLToPath(new URL("../..", import.meta.url));

const defaultLimits = Object.fromEntries(Object.keys(unthrottled).map((name) => [name, undefined]));

export async function startFuzzMesh(options: FuzzMeshOptions): Promise<FuzzMesh> {
  const logs = new LogWatch(options.echoLogs);
  const processes = new ProcessWatch();
  const serviceSecret = `fuzz-${randomBytes(12).toString("hex")}`;
  // Databases of its own, so a fuzz run beside the test suite on one MariaDB touches nothing else.
  const prefix = `fuzz_${randomBytes(4).toString("hex")}`;
  const mesh = await launchMesh({
    root,
    freePorts: true,
    // A range of its own: the test suite's meshes take theirs from 20000 up (tests/support/mesh.ts)
    // and a random free port there could be taken by one of them before this mesh binds it.
    portBase: 31_000 + Math.floor(Math.random() * 45) * 20,
    output: logs,
    onExit: processes.onExit,
    env: {
      ...process.env,
      ...Object.fromEntries(serviceNames.map((name) => [`BAZAAR_${name.toUpperCase()}_DB`, `${prefix}_${name}`])),
      BAZAAR_MYSQL_URL: options.mysqlUrl,
      BAZAAR_NATS_URL: options.natsUrl,
      ...serviceNatsEnv(options.natsUrl),
      BAZAAR_DEMO_SEED: "1",
      BAZAAR_LOG_LEVEL: "warn",
      BAZAAR_SERVICE_SECRET: serviceSecret,
      // The origin some fuzzed requests come from, so CORS answers to an allowed one are fuzzed too.
      BAZAAR_EDGE_CORS_ORIGINS: allowedOrigin,
      // Tokens outlive a long run; the fuzzer renews them anyway.
      BAZAAR_ACCESS_TOKEN_TTL_SECONDS: "3600",
      ...unthrottled,
    },
  });
  try {
    await mesh.ready(90_000);
  } catch (error) {
    const recent = [...serviceNames, "edge"]
      .map((name) => `--- ${name}\n${mesh.recentLogs(name).join("\n")}`)
      .join("\n");
    await mesh.stop();
    throw new Error(`${(error as Error).message}\n${recent}`);
  }
  return {
    mesh,
    logs,
    processes,
    serviceSecret,
    async withDefaultRateLimits() {
      processes.expectExit("edge");
      await mesh.kill("edge", "SIGTERM");
      mesh.relaunch("edge", defaultLimits);
      await mesh.ready(30_000);
    },
    stop: () => mesh.stop(),
  };
}
