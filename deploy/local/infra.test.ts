import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsConnectOptions } from "../../services/kit/nats.ts";
import { createConnection } from "mysql2/promise";
import { afterEach, describe, expect, test } from "vitest";
import { startInfra, startMariaDb, type RunningInfra } from "./infra.ts";

const dataDirs: string[] = [];
const started: { stop(): Promise<void> }[] = [];

async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bazaar-infra-"));
  dataDirs.push(dir);
  return dir;
}

async function start(dataDir: string, log?: (line: string) => void): Promise<RunningInfra> {
  const infra = await startInfra({ dataDir, log });
  started.push(infra);
  return infra;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.stop()));
  await Promise.all(dataDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function query(mysqlUrl: string, sql: string): Promise<unknown[]> {
  const connection = await createConnection(mysqlUrl);
  try {
    const [rows] = await connection.query(sql);
    return rows as unknown[];
  } finally {
    await connection.end();
  }
}

/** Live processes whose command line names dataDir; a zombie (its parent died) holds nothing. */
function processesUsing(dataDir: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return (
          stat.charAt(stat.lastIndexOf(")") + 2) !== "Z" &&
          readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dataDir)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function noProcessUses(dataDir: string, withinMs: number): Promise<boolean> {
  for (const deadline = Date.now() + withinMs; Date.now() < deadline; await sleep(50)) {
    if (processesUsing(dataDir).length === 0) return true;
  }
  return false;
}

/** A separate Node process that starts infra on dataDir and waits to be killed. */
async function launcherProcess(dataDir: string) {
  const infraModule = new URL("./infra.ts", import.meta.url).href;
  const script = `
    import { startInfra } from ${JSON.stringify(infraModule)};
    await startInfra({ dataDir: ${JSON.stringify(dataDir)} });
    process.stdout.write("ready\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [chunk] = (await once(child.stdout, "data")) as [Buffer];
  expect(chunk.toString()).toBe("ready\n");
  return child;
}

describe("local infrastructure", () => {
  test("startInfra gives a MariaDB that accepts a query and a NATS with JetStream", async () => {
    const infra = await start(await freshDataDir());

    expect(infra.mysqlUrl).toMatch(/^mysql:\/\/root@127\.0\.0\.1:\d+$/);
    const [row] = (await query(infra.mysqlUrl, "SELECT VERSION() AS version, @@character_set_server AS charset")) as {
      version: string;
      charset: string;
    }[];
    expect(row?.version).toContain("MariaDB");
    expect(row?.charset).toBe("utf8mb4");

    const nc = await connect(natsConnectOptions(infra.natsUrl));
    try {
      const jsm = await jetstreamManager(nc);
      await expect(jsm.getAccountInfo()).resolves.toMatchObject({ streams: 0 });
    } finally {
      await nc.close();
    }
  });

  test("a second start on the same data dir reuses it and keeps data", async () => {
    const dataDir = await freshDataDir();
    const firstLog: string[] = [];
    const first = await start(dataDir, (line) => firstLog.push(line));
    await query(first.mysqlUrl, "CREATE DATABASE kept");
    await query(first.mysqlUrl, "CREATE TABLE kept.things (id INT PRIMARY KEY)");
    await query(first.mysqlUrl, "INSERT INTO kept.things VALUES (7)");
    const nc = await connect(natsConnectOptions(first.natsUrl));
    await (await jetstreamManager(nc)).streams.add({ name: "KEPT", subjects: ["kept.>"] });
    await nc.close();
    await first.stop();

    const secondLog: string[] = [];
    const second = await start(dataDir, (line) => secondLog.push(line));

    expect(await query(second.mysqlUrl, "SELECT id FROM kept.things")).toEqual([{ id: 7 }]);
    const nc2 = await connect(natsConnectOptions(second.natsUrl));
    await expect((await jetstreamManager(nc2)).streams.info("KEPT")).resolves.toBeTruthy();
    await nc2.close();
    // The data dir was made once: the second start went straight to the server. (It used to
    // compare the two starts' times, which a loaded CI runner turned around.)
    const initialising = (log: string[]) => log.filter((line) => line.includes("initialising the MariaDB data dir"));
    expect(initialising(firstLog)).toHaveLength(1);
    expect(initialising(secondLog)).toEqual([]);
  });

  test("stop leaves no process behind, and a second stop is harmless", async () => {
    const dataDir = await freshDataDir();
    const infra = await start(dataDir);
    expect(processesUsing(dataDir)).toHaveLength(2);

    await infra.stop();
    await infra.stop();

    expect(processesUsing(dataDir)).toEqual([]);
  });

  test("a data dir in use by a running launcher is refused, not taken over", async () => {
    const dataDir = await freshDataDir();
    await start(dataDir);

    await expect(startMariaDb({ dataDir })).rejects.toThrow(/in use by server \d+, started by running process/);
  });

  test("a MariaDB that cannot start fails with the tail of its log and leaves nothing running", async () => {
    const dataDir = await freshDataDir();
    const blocker = createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const { port } = blocker.address() as { port: number };
    try {
      await expect(startMariaDb({ dataDir, port })).rejects.toThrow(/Address already in use/);
    } finally {
      blocker.close();
    }
    expect(processesUsing(dataDir)).toEqual([]);
  });

  test("when the launcher is stopped with SIGTERM, its servers shut down cleanly before it exits", async () => {
    const dataDir = await freshDataDir();
    const launcher = await launcherProcess(dataDir);

    launcher.kill("SIGTERM");
    const [code] = await once(launcher, "exit");

    expect(code).toBe(143);
    expect(processesUsing(dataDir)).toEqual([]);
    expect(await readFile(join(dataDir, "mariadb.log"), "utf8")).toContain("Shutdown complete");
  });

  test("when the launcher is killed with SIGKILL, its servers die too and the next start works", async () => {
    const dataDir = await freshDataDir();
    const launcher = await launcherProcess(dataDir);

    launcher.kill("SIGKILL");
    await once(launcher, "exit");

    expect(await noProcessUses(dataDir, 5_000)).toBe(true);
    const again = await start(dataDir);
    expect(await query(again.mysqlUrl, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
  });
});
