// Starts the five services and the edge as child processes of this one, each on its own port,
// with their JSON log lines turned into short prefixed lines. Used by `npm start` and by the
// end-to-end tests, so both exercise exactly the processes production runs.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Writable } from "node:stream";
import { defaultPorts, envReader, type ServiceName } from "../../services/kit/config.ts";
import { buildStorefront } from "../../edge/storefront/build.ts";
import { firstFreePortFrom, freeServicePort, isPortFree } from "./ports.ts";
import { compileCacheDir, withNodeOptions } from "../node-options.ts";
import { grpcServing } from "../container/grpc-health.ts";

export const serviceNames = Object.keys(defaultPorts) as ServiceName[];

export interface MeshOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  /** Where prefixed log lines go; undefined drops them (tests keep the last lines per process). */
  output?: Writable;
  /** true: every port is a free one (tests); false: the documented defaults when they are free. */
  freePorts?: boolean;
  /**
   * With freePorts: take free ports upward from here instead of at random. Launchers running
   * side by side (parallel test workers) give each a range of its own, so two of them can never
   * pick the same free port in the moment before either binds it.
   */
  portBase?: number;
  edgePort?: number;
  /** Processes per service (the edge stays one); clients balance over them. */
  replicas?: number;
  onExit?: (name: string, code: number | null) => void;
}

export interface RunningMesh {
  /** Where each service is reached: its replicas' addresses, comma-separated. */
  addresses: Record<ServiceName, string>;
  edgeUrl: string;
  /** Every process by name: "auth"… and "edge"; with replicas "auth-1", "auth-2"… */
  processes: string[];
  /** The Prometheus endpoint of a process. */
  metricsUrl(process: string): string;
  /**
   * Waits until the edge's /readyz says every backend is SERVING and, with replicas, every
   * replica answers SERVING itself (the edge's check reaches one replica per service).
   */
  ready(timeoutMs: number): Promise<void>;
  /** The last log lines of a process, for test failure messages. */
  recentLogs(name: string): string[];
  /** The process id of a running process (memory checks in tests). */
  pid(name: string): number | undefined;
  /** Resolves when a process has exited (at once if it is not running), with its exit code or signal. */
  exited(name: string): Promise<string>;
  /** Sends a process a signal and waits for it to exit. */
  kill(name: string, signal: NodeJS.Signals): Promise<void>;
  /** Starts a process that exited again, with extra environment (fault tests). */
  relaunch(name: string, extraEnv?: NodeJS.ProcessEnv): void;
  stop(): Promise<void>;
}

const defaultEdgePort = 8080;
/** Prometheus ports: the edge's, then one per service in defaultPorts order. */
const defaultMetricsPort = 9450;
/** Replica n (from 0) of a service prefers its default ports plus n × this. */
const replicaPortStep = 100;

interface ProcessSpec {
  entry: string;
  env: NodeJS.ProcessEnv;
  metricsAddress: string;
}

export async function launchMesh(options: MeshOptions): Promise<RunningMesh> {
  // From the sources as they are now: a checkout never serves an older build of its storefront.
  if (envReader(options.env).flag("BAZAAR_EDGE_STOREFRONT", true)) await buildStorefront();
  let nextPort = options.portBase;
  const portFor = async (preferred: number) => {
    if (!options.freePorts && (await isPortFree(preferred))) return preferred;
    if (nextPort === undefined) return freeServicePort();
    nextPort = await firstFreePortFrom(nextPort);
    return nextPort++;
  };
  const replicas = Math.max(1, options.replicas ?? 1);
  const specs = new Map<string, ProcessSpec>();
  const addresses = {} as Record<ServiceName, string>;
  const listenAddresses: Array<{ process: string; service: ServiceName; listen: string; metrics: string }> = [];
  for (const [index, name] of serviceNames.entries()) {
    const given = options.env[`BAZAAR_${name.toUpperCase()}_ADDR`];
    const own: string[] = [];
    for (let replica = 0; replica < replicas; replica++) {
      const listen =
        given && replicas === 1 ? given : `127.0.0.1:${await portFor(defaultPorts[name] + replica * replicaPortStep)}`;
      const metrics = `127.0.0.1:${await portFor(defaultMetricsPort + 1 + index + replica * replicaPortStep)}`;
      listenAddresses.push({
        process: replicas === 1 ? name : `${name}-${replica + 1}`,
        service: name,
        listen,
        metrics,
      });
      own.push(listen);
    }
    addresses[name] = own.join(",");
  }
  const edgePort = options.edgePort ?? (await portFor(defaultEdgePort));
  const edgeMetrics = `127.0.0.1:${await portFor(defaultMetricsPort)}`;
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    ...Object.fromEntries(serviceNames.map((name) => [`BAZAAR_${name.toUpperCase()}_ADDR`, addresses[name]])),
    BAZAAR_EDGE_ADDR: `127.0.0.1:${edgePort}`,
    // The test provider's 3-D Secure redirects and its webhook deliveries go to this edge.
    BAZAAR_PAYMENT_EDGE_URL: options.env.BAZAAR_PAYMENT_EDGE_URL ?? `http://127.0.0.1:${edgePort}`,
    // Mailed links (orders, password reset, e-mail verification) open this edge's storefront.
    BAZAAR_PUBLIC_URL: options.env.BAZAAR_PUBLIC_URL ?? `http://127.0.0.1:${edgePort}`,
  };
  for (const { process, service, listen, metrics } of listenAddresses) {
    const upper = service.toUpperCase();
    specs.set(process, {
      entry: `services/${service}/main.ts`,
      env: { ...env, [`BAZAAR_${upper}_LISTEN_ADDR`]: listen, [`BAZAAR_${upper}_METRICS_ADDR`]: metrics },
      metricsAddress: metrics,
    });
  }
  specs.set("edge", {
    entry: "edge/main.ts",
    env: { ...env, BAZAAR_EDGE_METRICS_ADDR: edgeMetrics },
    metricsAddress: edgeMetrics,
  });

  // A replica that is still starting answers UNAVAILABLE to the calls it is given; the edge's
  // readiness (one health check per service) can pass before it is up.
  const notServing = async () => {
    const serving = await Promise.all(listenAddresses.map(({ listen }) => grpcServing(listen).catch(() => false)));
    return listenAddresses.filter((_, index) => !serving[index]).map(({ process }) => process);
  };
  const everyReplicaServing = async () => {
    if (replicas === 1) return true;
    const waiting = await notServing();
    if (waiting.length === 0) return true;
    throw new Error(`not serving yet: ${waiting.join(", ")}`);
  };

  const children = new Map<string, ChildProcess>();
  const logs = new Map<string, string[]>();
  const launch = (name: string, extraEnv: NodeJS.ProcessEnv = {}) => {
    const spec = specs.get(name);
    if (!spec) throw new Error(`no process named ${name}`);
    const child = spawn(process.execPath, [spec.entry], {
      cwd: options.root,
      env: {
        NODE_COMPILE_CACHE: compileCacheDir(options.root),
        ...spec.env,
        ...extraEnv,
        NODE_OPTIONS: withNodeOptions(spec.env.NODE_OPTIONS),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.set(name, child);
    logs.set(name, []);
    const label = name.padEnd(replicas === 1 ? 7 : 9);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => {
        const text = formatLogLine(line);
        const recent = logs.get(name)!;
        recent.push(text);
        if (recent.length > 50) recent.shift();
        options.output?.write(`[${label}] ${text}\n`);
      });
    }
    child.once("exit", (code) => {
      children.delete(name);
      options.onExit?.(name, code);
    });
  };
  const processes = [...specs.keys()];
  for (const name of processes) launch(name);
  const exited = (name: string) =>
    new Promise<string>((resolve) => {
      const child = children.get(name);
      if (!child) return resolve("not running");
      child.once("exit", (code, signal) => resolve(signal ?? String(code)));
    });

  const edgeUrl = `http://127.0.0.1:${edgePort}`;
  return {
    addresses,
    edgeUrl,
    processes,
    metricsUrl: (name) => `http://${specs.get(name)?.metricsAddress}/metrics`,
    async ready(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = "no answer";
      while (Date.now() < deadline) {
        if (children.size < processes.length) {
          const gone = processes.filter((name) => !children.has(name)).join(", ");
          throw new Error(`a process exited during start (${gone}); ${last}`);
        }
        try {
          const response = await fetch(`${edgeUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
          last = await response.text();
          if (response.ok && (await everyReplicaServing())) return;
        } catch (error) {
          last = String(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`mesh not ready after ${timeoutMs} ms: ${last}`);
    },
    recentLogs: (name) => logs.get(name) ?? [],
    pid: (name) => children.get(name)?.pid,
    exited,
    async kill(name, signal) {
      const exit = exited(name);
      children.get(name)?.kill(signal);
      await exit;
    },
    relaunch(name, extraEnv) {
      if (children.has(name)) throw new Error(`${name} is still running`);
      launch(name, extraEnv);
    },
    async stop() {
      const exits = [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
            setTimeout(() => child.kill("SIGKILL"), 12_000).unref();
          }),
      );
      await Promise.all(exits);
    },
  };
}

/** A pino JSON line as `level message key=value…`; other lines unchanged. */
function formatLogLine(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const {
      level,
      msg,
      time: _time,
      pid: _pid,
      hostname: _host,
      service: _service,
      name: _name,
      ...rest
    } = JSON.parse(line);
    const label =
      ({ 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" } as Record<number, string>)[
        level
      ] ?? level;
    const extra = Object.entries(rest)
      .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
      .join(" ");
    return `${label} ${msg ?? ""}${extra ? ` ${extra}` : ""}`;
  } catch {
    return line;
  }
}
