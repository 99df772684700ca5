// A private MariaDB and nats-server (JetStream) for `npm start` and the tests: data under one
// directory, loopback only, ports that never clash with a system server, no process left behind.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createConnection } from "mysql2/promise";
import { freePort } from "./ports.ts";

export interface InfraOptions {
  dataDir: string;
  mysqlPort?: number;
  natsPort?: number;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

export interface RunningInfra {
  mysqlUrl: string;
  natsUrl: string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
// Servers die with the process that started them, whatever way it ends.
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

export async function startInfra(options: InfraOptions): Promise<RunningInfra> {
  // Servers resolve relative paths against their own working directory, not ours.
  const dataDir = resolve(options.dataDir);
  const started = await Promise.allSettled([
    startMariaDb({ dataDir, port: options.mysqlPort, log: options.log }),
    startNats({ dataDir, port: options.natsPort, log: options.log }),
  ]);
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    // Never leave the one that did start running.
    await Promise.all(started.map((result) => (result.status === "fulfilled" ? result.value.stop() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  const [mysql, nats] = started.map((result) => (result as PromiseFulfilledResult<RunningServer>).value) as [RunningServer, RunningServer];
  return {
    mysqlUrl: mysql.url,
    natsUrl: nats.url,
    stop: async () => {
      await Promise.all([mysql.stop(), nats.stop()]);
    },
  };
}

export async function startMariaDb(options: { dataDir: string; port?: number; log?: (line: string) => void }): Promise<RunningServer> {
  const dir = join(options.dataDir, "mysql");
  const logFile = join(options.dataDir, "mariadb.log");
  const pidFile = join(options.dataDir, "mariadb.pid");
  await mkdir(options.dataDir, { recursive: true });
  killStale(pidFile);
  if (!existsSync(join(dir, "mysql"))) {
    options.log?.("initialising MariaDB data directory (first start)");
    await run("mariadb-install-db", [
      "--no-defaults",
      `--datadir=${dir}`,
      "--user=root",
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      "--skip-name-resolve",
    ]);
  }
  const port = options.port ?? (await freePort());
  // Unix socket paths are limited to 107 bytes; a deep data dir would overflow it.
  const socket = join(tmpdir(), `bazaar-mariadb-${port}.sock`);
  const child = spawnServer("mariadbd", [
    "--no-defaults",
    `--datadir=${dir}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    `--socket=${socket}`,
    `--pid-file=${pidFile}`,
    `--log-error=${logFile}`,
    "--user=root",
    "--skip-name-resolve",
    "--skip-log-bin",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--max-connections=500",
    "--innodb-buffer-pool-size=256M",
    // Durable enough for local dev and tests, and many times faster than an fsync per commit.
    "--innodb-flush-log-at-trx-commit=2",
    "--innodb-ft-min-token-size=2",
    "--ft-min-word-len=2",
  ], logFile);
  // LOCAL-DEV DEFAULT: root without a password, reachable only on 127.0.0.1.
  const url = `mysql://root@127.0.0.1:${port}`;
  await waitUntil(`MariaDB on port ${port}`, child, logFile, async () => {
    const connection = await createConnection({ host: "127.0.0.1", port, user: "root" });
    await connection.query("SELECT 1");
    await connection.end();
  });
  writeFileSync(pidFile, String(child.pid));
  options.log?.(`MariaDB ready at ${url}`);
  return { url, stop: () => stopChild(child) };
}

export async function startNats(options: { dataDir: string; port?: number; log?: (line: string) => void }): Promise<RunningServer> {
  const dir = join(options.dataDir, "nats");
  const logFile = join(options.dataDir, "nats.log");
  const pidFile = join(options.dataDir, "nats.pid");
  await mkdir(dir, { recursive: true });
  killStale(pidFile);
  const port = options.port ?? (await freePort());
  const child = spawnServer("nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir, "-l", logFile], logFile);
  const url = `nats://127.0.0.1:${port}`;
  await waitUntil(`nats-server on port ${port}`, child, logFile, async () => {
    const log = await readFile(logFile, "utf8");
    if (!log.includes("Server is ready")) throw new Error("not ready yet");
  });
  writeFileSync(pidFile, String(child.pid));
  options.log?.(`NATS JetStream ready at ${url}`);
  return { url, stop: () => stopChild(child) };
}

function spawnServer(command: string, args: string[], logFile: string): ChildProcess {
  // Startup errors printed before the server opens its own log land in the same file.
  const output = openSync(logFile, "a");
  const child = spawn(command, args, { stdio: ["ignore", output, output], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** A server left running by a launcher that was killed with -9 is stopped before a new start. */
function killStale(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8"));
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (/mariadbd|nats-server/.test(cmdline)) {
      process.kill(pid, "SIGKILL");
      // Give the kernel a moment to release the data dir's locks.
      const until = Date.now() + 2_000;
      while (existsSync(`/proc/${pid}`) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  } catch {
    // No such process: nothing to clean.
  }
}

async function waitUntil(what: string, child: ChildProcess, logFile: string, probe: () => Promise<void>): Promise<void> {
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  const deadline = Date.now() + 60_000;
  while (true) {
    if (exited !== undefined) throw new Error(`${what} exited with ${exited}:\n${tail(logFile)}`);
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} not ready after 60 s (${String(error)}):\n${tail(logFile)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = openSync(join(tmpdir(), `bazaar-${command}.log`), "w");
    const child = spawn(command, args, { stdio: ["ignore", out, out], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} failed (${code}):\n${tail(join(tmpdir(), `bazaar-${command}.log`))}`)),
    );
  });
}
