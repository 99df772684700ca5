// Starts the five services and the edge as child processes of this one, each on its own port,
// with their JSON log lines turned into short prefixed lines. Used by `npm start` and by the
// end-to-end tests, so both exercise exactly the processes production runs.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Writable } from "node:stream";
import { defaultPorts, type ServiceName } from "../../services/kit/config.ts";
import { freeServicePort, isPortFree } from "./ports.ts";

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
  onExit?: (name: string, code: number | null) => void;
}

export interface RunningMesh {
  addresses: Record<ServiceName, string>;
  edgeUrl: string;
  /** Waits until the edge's /readyz says every backend is SERVING. */
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

export async function launchMesh(options: MeshOptions): Promise<RunningMesh> {
  let nextPort = options.portBase;
  const portFor = async (preferred: number) => {
    if (!options.freePorts && (await isPortFree(preferred))) return preferred;
    if (nextPort === undefined) return freeServicePort();
    while (!(await isPortFree(nextPort))) nextPort += 1;
    return nextPort++;
  };
  const addresses = {} as Record<ServiceName, string>;
  for (const name of serviceNames) {
    addresses[name] = options.env[`BAZAAR_${name.toUpperCase()}_ADDR`] ?? `127.0.0.1:${await portFor(defaultPorts[name])}`;
  }
  const edgePort = options.edgePort ?? (await portFor(defaultEdgePort));
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    ...Object.fromEntries(serviceNames.map((name) => [`BAZAAR_${name.toUpperCase()}_ADDR`, addresses[name]])),
    BAZAAR_EDGE_ADDR: `127.0.0.1:${edgePort}`,
  };

  const children = new Map<string, ChildProcess>();
  const logs = new Map<string, string[]>();
  const entryOf = (name: string) => (name === "edge" ? "edge/main.ts" : `services/${name}/main.ts`);
  const launch = (name: string, extraEnv: NodeJS.ProcessEnv = {}) => {
    const child = spawn(process.execPath, [entryOf(name)], { cwd: options.root, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
    children.set(name, child);
    logs.set(name, []);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => {
        const text = formatLogLine(line);
        const recent = logs.get(name)!;
        recent.push(text);
        if (recent.length > 50) recent.shift();
        options.output?.write(`[${name.padEnd(7)}] ${text}\n`);
      });
    }
    child.once("exit", (code) => {
      children.delete(name);
      options.onExit?.(name, code);
    });
  };
  for (const name of serviceNames) launch(name);
  launch("edge");
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
    async ready(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = "no answer";
      while (Date.now() < deadline) {
        if (children.size < serviceNames.length + 1) throw new Error(`a process exited during start; ${last}`);
        try {
          const response = await fetch(`${edgeUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
          last = await response.text();
          if (response.ok) return;
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
    const { level, msg, time: _time, pid: _pid, hostname: _host, service: _service, name: _name, ...rest } = JSON.parse(line);
    const label = ({ 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" } as Record<number, string>)[level] ?? level;
    const extra = Object.entries(rest)
      .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
      .join(" ");
    return `${label} ${msg ?? ""}${extra ? ` ${extra}` : ""}`;
  } catch {
    return line;
  }
}
