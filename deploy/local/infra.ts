// A private MariaDB and nats-server (JetStream) for `npm start` and the tests: all data under one
// directory, loopback only, free ports, and no server left behind however the launcher ends.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { constants, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as connectNats } from "@nats-io/transport-node";
import { createConnection } from "mysql2/promise";
import { natsConnectOptions } from "../../services/kit/nats.ts";
import { natsAuthorization, operatorUser, withCredentials } from "./nats-users.ts";
import { freePort } from "./ports.ts";

export interface InfraOptions {
  /** Holds mysql/ (the MariaDB datadir), nats/ (JetStream store), the logs, the pid files and the ports file. */
  dataDir: string;
  mysqlPort?: number;
  natsPort?: number;
  /** nats-server nodes: 1 (default) or a cluster of 3 (or 5) with the event stream on each. */
  natsClusterSize?: number;
  log?: (line: string) => void;
}

export interface RunningInfra {
  mysqlUrl: string;
  natsUrl: string;
  /** SIGTERM, SIGKILL after 10 s; safe to call twice. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  dataDir: string;
  port?: number;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

const readyTimeoutMs = 60_000;
const stopGraceMs = 10_000;
// sun_path holds 108 bytes including the terminating NUL.
const maxSocketPathBytes = 107;
// The parent-death signal set by setpriv kills a server even when its launcher dies by SIGKILL,
// which no handler in this process can see.
const setpriv = "/usr/bin/setpriv";
// mariadbd and nats-server live in /usr/sbin, which a non-root PATH often lacks.
const serverEnv = { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/sbin` };
// mariadbd refuses to run as root unless told to.
const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];

export async function startInfra(options: InfraOptions): Promise<RunningInfra> {
  const { dataDir, log } = options;
  const [mysql, nats] = await Promise.allSettled([
    startMariaDb({ dataDir, port: options.mysqlPort, log }),
    (options.natsClusterSize ?? 1) > 1
      ? startNatsCluster({ dataDir, size: options.natsClusterSize!, log })
      : startNats({ dataDir, port: options.natsPort, log }),
  ]);
  if (mysql.status === "rejected" || nats.status === "rejected") {
    await Promise.all([mysql, nats].map((result) => (result.status === "fulfilled" ? result.value.stop() : undefined)));
    throw mysql.status === "rejected" ? mysql.reason : (nats as PromiseRejectedResult).reason;
  }
  return {
    mysqlUrl: mysql.value.url,
    natsUrl: nats.value.url,
    stop: async () => {
      await Promise.all([mysql.value.stop(), nats.value.stop()]);
    },
  };
}

export async function startMariaDb(options: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir);
  const mysqlDir = join(dataDir, "mysql");
  const logFile = join(dataDir, "mariadb.log");
  const pidFile = join(dataDir, "mariadb.pid");
  await mkdir(join(dataDir, "tmp"), { recursive: true });
  await clearStaleServer(pidFile, mysqlDir);
  if (!existsSync(mysqlDir)) await initialiseMariaDb(mysqlDir, logFile, options.log);
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch(
        {
          name: "MariaDB",
          command: "mariadbd",
          args: mariaDbArgs(dataDir, mysqlDir, port, logFile),
          logFile,
          pidFile,
          probe: () => answersQuery(port),
        },
        options.log,
      );
    } catch (error) {
      // A port picked as free can be taken before mariadbd binds it; only then is a retry worth it.
      const portTaken = String(error).includes("Address already in use");
      if (options.port !== undefined || !portTaken || attempt === 3) throw error;
    }
  }
}

export async function startNats(options: ServerOptions): Promise<RunningServer> {
  const server = await launchNatsNode({
    dataDir: resolve(options.dataDir),
    name: "nats",
    port: options.port,
    log: options.log,
  });
  // Tools and tests connect as the operator; services get their own users (serviceNatsEnv).
  return { ...server, url: withCredentials(server.url, operatorUser.user, operatorUser.password) };
}

export interface ClusterOptions {
  dataDir: string;
  size: number;
  log?: (line: string) => void;
}

/**
 * A nats-server cluster on loopback: `size` nodes routed to each other, JetStream on every one,
 * each with its store under dataDir/nats-<n>. Resolves once the cluster has elected a JetStream
 * leader, so streams with `size` replicas can be created. The URL lists every node.
 */
export async function startNatsCluster(options: ClusterOptions): Promise<RunningServer & { nodes: RunningServer[] }> {
  const dataDir = resolve(options.dataDir);
  const routePorts = await Promise.all(Array.from({ length: options.size }, () => freePort()));
  const routes = routePorts.map((port) => `nats-route://127.0.0.1:${port}`);
  const launched = await Promise.allSettled(
    routePorts.map((routePort, index) =>
      launchNatsNode({ dataDir, name: `nats-${index + 1}`, cluster: { routePort, routes }, log: options.log }),
    ),
  );
  const nodes = launched.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const failed = launched.find((result) => result.status === "rejected");
  if (failed) {
    await stop();
    throw (failed as PromiseRejectedResult).reason;
  }
  const url = nodes.map((node) => withCredentials(node.url, operatorUser.user, operatorUser.password)).join(",");
  try {
    await waitForJetStreamLeader(url);
  } catch (error) {
    await stop();
    throw error;
  }
  options.log?.(`NATS cluster of ${options.size} ready`);
  return { url, stop, nodes };
}

interface NatsNodeOptions {
  dataDir: string;
  /** Names the node's files: <name>.conf, <name>.log, <name>.pid and its store dir <name>/. */
  name: string;
  port?: number;
  cluster?: { routePort: number; routes: string[] };
  log?: (line: string) => void;
}

async function launchNatsNode(options: NatsNodeOptions): Promise<RunningServer> {
  const { dataDir, name } = options;
  const storeDir = join(dataDir, name);
  const logFile = join(dataDir, `${name}.log`);
  await mkdir(storeDir, { recursive: true });
  const pidFile = join(dataDir, `${name}.pid`);
  await clearStaleServer(pidFile, storeDir);
  const configFile = join(dataDir, `${name}.conf`);
  const cluster = options.cluster
    ? `server_name: "bazaar-${name}"
cluster {
  name: "bazaar"
  listen: "127.0.0.1:${options.cluster.routePort}"
  routes: [${options.cluster.routes.map((route) => `"${route}"`).join(", ")}]
}
`
    : "";
  await writeFile(configFile, cluster + natsAuthorization());
  return launch(
    {
      name: options.cluster ? `nats-server ${name}` : "nats-server",
      command: "nats-server",
      args: natsArgs({ configFile, storeDir, port: options.port, portsFileDir: storeDir, logFile }),
      logFile,
      pidFile,
      probe: (child) => speaksJetStream(join(storeDir, `nats-server_${child.pid}.ports`)),
    },
    options.log,
  );
}

/** Until a clustered JetStream has a meta leader it answers every API call with an error. */
async function waitForJetStreamLeader(url: string): Promise<void> {
  const nc = await connectNats(natsConnectOptions(url));
  try {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      try {
        // Creating the manager asks for the account info, which fails until there is a leader.
        await jetstreamManager(nc);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`the NATS cluster elected no JetStream leader: ${String(error)}`);
        await sleep(250);
      }
    }
  } finally {
    await nc.close();
  }
}

async function initialiseMariaDb(mysqlDir: string, logFile: string, log: ServerOptions["log"]): Promise<void> {
  log?.("initialising the MariaDB data dir (first start)");
  // Built aside and renamed, so an interrupted first start is redone rather than reused half-made.
  const staging = `${mysqlDir}.init`;
  await rm(staging, { recursive: true, force: true });
  const logStart = await logSize(logFile);
  const child = spawnLogged(
    "mariadb-install-db",
    [
      "--no-defaults",
      `--datadir=${staging}`,
      ...asRoot,
      // LOCAL DEV / TEST DEFAULT: root has no password (root@localhost and root@127.0.0.1). That is
      // only acceptable because mariaDbArgs binds the server to 127.0.0.1.
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      "--skip-name-resolve",
      // Its own temp dir, as the server gets: bootstraps running side by side (test files each
      // starting a MariaDB) collided over temporary tables in the shared /tmp.
      `--tmpdir=${join(dirname(mysqlDir), "tmp")}`,
    ],
    logFile,
  );
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`mariadb-install-db failed (${code}):\n${await logTail(logFile, logStart)}`);
  await rename(staging, mysqlDir);
}

function mariaDbArgs(dataDir: string, mysqlDir: string, port: number, logFile: string): string[] {
  return [
    "--no-defaults",
    `--datadir=${mysqlDir}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    `--socket=${socketPath(dataDir)}`,
    `--pid-file=${join(mysqlDir, "mariadbd.pid")}`,
    `--log-error=${logFile}`,
    // A temp dir of its own: a MariaDB starting up deletes the "#sql*" temp files it finds in
    // its tmpdir, which under a shared /tmp are another running instance's temp tables.
    `--tmpdir=${join(dataDir, "tmp")}`,
    ...asRoot,
    "--skip-name-resolve",
    "--skip-log-bin",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--max-connections=500",
    "--innodb-buffer-pool-size=256M",
    // Loses at most a second of commits on an OS crash, which local data can afford; an fsync per
    // commit would make the tests' many small transactions disk-bound.
    "--innodb-flush-log-at-trx-commit=2",
    // Lets FULLTEXT search match two-letter words such as sizes and units.
    "--innodb-ft-min-token-size=2",
    // A few threads take turns over every connection's statements, where a thread per connection
    // had a hundred-odd threads waking each other on cores the whole mesh shares: in paired
    // `npm run bench` checkouts MariaDB's CPU per order fell from 15.3–16.1 ms to 10.7–12.0 and
    // every other process's with it (tests/bench/PERFORMANCE.md).
    "--thread-handling=pool-of-threads",
  ];
}

function socketPath(dataDir: string): string {
  const inDataDir = join(dataDir, "mysql.sock");
  if (Buffer.byteLength(inDataDir) <= maxSocketPathBytes) return inDataDir;
  const id = createHash("sha256").update(dataDir).digest("hex").slice(0, 16);
  return join(tmpdir(), `bazaar-mariadb-${id}.sock`);
}

async function answersQuery(port: number): Promise<string> {
  const connection = await createConnection({ host: "127.0.0.1", port, user: "root", connectTimeout: 2_000 });
  try {
    await connection.query("SELECT 1");
  } finally {
    await connection.end();
  }
  return `mysql://root@127.0.0.1:${port}`;
}

/**
 * The one place the nats-server configuration is built; per-service users will turn it into a
 * config file. Port -1 lets the server pick its own port and report it in the ports file, which
 * leaves no window for another process to take it.
 */
function natsArgs(config: {
  configFile: string;
  storeDir: string;
  port: number | undefined;
  portsFileDir: string;
  logFile: string;
}): string[] {
  return [
    "-c",
    config.configFile,
    "-a",
    "127.0.0.1",
    "-p",
    String(config.port ?? -1),
    "-js",
    "-sd",
    config.storeDir,
    "--ports_file_dir",
    config.portsFileDir,
    "-l",
    config.logFile,
  ];
}

async function speaksJetStream(portsFile: string): Promise<string> {
  const { nats } = JSON.parse(await readFile(portsFile, "utf8")) as { nats: string[] };
  const url = nats[0];
  if (!url) throw new Error(`no client URL in ${portsFile}`);
  const { hostname, port } = new URL(url);
  const info = await firstLine(hostname, Number(port), 2_000);
  if (!info.startsWith("INFO ") || !info.includes(`"jetstream":true`)) throw new Error(`unexpected greeting: ${info}`);
  return url;
}

function firstLine(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
      const end = received.indexOf("\n");
      if (end >= 0) {
        socket.destroy();
        resolve(received.slice(0, end).trim());
      }
    });
    socket.once("timeout", () => socket.destroy(new Error(`no greeting from ${host}:${port}`)));
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`${host}:${port} closed before greeting`)));
  });
}

interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  pidFile: string;
  /** Resolves with the server's URL once it serves; rejects while it does not yet. */
  probe: (child: ChildProcess) => Promise<string>;
}

async function launch(spec: ServerSpec, log: ServerOptions["log"]): Promise<RunningServer> {
  const started = performance.now();
  const logStart = await logSize(spec.logFile);
  const child = existsSync(setpriv)
    ? spawnLogged(setpriv, ["--pdeathsig", "KILL", spec.command, ...spec.args], spec.logFile)
    : spawnLogged(spec.command, spec.args, spec.logFile);
  try {
    await once(child, "spawn");
    await writeFile(spec.pidFile, `${child.pid} ${process.pid}\n`);
    const url = await waitForReady(spec, child, logStart);
    log?.(`${spec.name} ready at ${url} in ${Math.round(performance.now() - started)} ms`);
    return { url, stop: () => stopChild(child).then(() => rm(spec.pidFile, { force: true })) };
  } catch (error) {
    await stopChild(child);
    await rm(spec.pidFile, { force: true });
    throw error;
  }
}

async function waitForReady(spec: ServerSpec, child: ChildProcess, logStart: number): Promise<string> {
  const deadline = Date.now() + readyTimeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (hasExited(child)) {
      const how = child.exitCode ?? child.signalCode;
      throw new Error(`${spec.name} exited (${how}) while starting:\n${await logTail(spec.logFile, logStart)}`);
    }
    try {
      return await spec.probe(child);
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(
    `${spec.name} not ready after ${readyTimeoutMs / 1000} s (${String(lastError)}):\n${await logTail(spec.logFile, logStart)}`,
  );
}

async function logTail(file: string, fromByte: number): Promise<string> {
  const text = await readFile(file).then(
    (bytes) => bytes.subarray(fromByte).toString("utf8"),
    () => "",
  );
  return text.trimEnd().split("\n").slice(-20).join("\n") || "(empty log)";
}

/** Where this start's lines begin: the log grows across starts, and errors quote only this one. */
function logSize(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

const running = new Set<ChildProcess>();

// The last resort: exit handlers cannot wait, so whatever still runs is killed outright.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function onSignal(signal: NodeJS.Signals): void {
  // A program with its own handler owns the shutdown order (the mesh before its databases) and
  // calls stop() itself; without one, the default would kill this process and skip clean shutdown.
  if (process.listenerCount(signal) > 1) return;
  void Promise.all([...running].map(stopChild)).finally(() => process.exit(128 + constants.signals[signal]));
}

function spawnLogged(command: string, args: string[], logFile: string): ChildProcess {
  // Startup errors a server prints before it opens its own log land in the same file.
  const output = openSync(logFile, "a");
  const child = spawn(command, args, { stdio: ["ignore", output, output], env: serverEnv });
  closeSync(output);
  if (running.size === 0) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  running.add(child);
  const forget = () => {
    running.delete(child);
    if (running.size > 0) return;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
  child.once("exit", forget);
  child.once("error", forget);
  return child;
}

const stops = new WeakMap<ChildProcess, Promise<void>>();

function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return Promise.resolve();
  let stopped = stops.get(child);
  if (!stopped) {
    stopped = new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill("SIGKILL"), stopGraceMs);
      child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill("SIGTERM");
    });
    stops.set(child, stopped);
  }
  return stopped;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * A pid file holds "<server pid> <launcher pid>". A server still running on this data dir whose
 * launcher is gone is an orphan (where setpriv is missing): it is killed, since it holds the
 * data dir's locks. One whose launcher still runs is in use, and is not pulled from under it.
 */
async function clearStaleServer(pidFile: string, dir: string): Promise<void> {
  const text = await readFile(pidFile, "utf8").catch(() => "");
  const [server = 0, launcher = 0] = text.trim().split(" ").map(Number);
  const servesDir = (arg: string) => arg === dir || arg.endsWith(`=${dir}`);
  if (!server || !isRunning(server) || !commandLine(server).some(servesDir)) return;
  if (launcher && isRunning(launcher)) {
    throw new Error(
      `${dir} is in use by server ${server}, started by running process ${launcher}; stop that or use another data dir`,
    );
  }
  process.kill(server, "SIGKILL");
  for (let waited = 0; isRunning(server) && waited < 5_000; waited += 50) await sleep(50);
}

/** Linux only: a zombie counts as gone, since it holds no files or ports any more. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z";
  } catch {
    return false;
  }
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}
