// A service process's life: NOT_SERVING until its database and NATS are up, SERVING after,
// and on SIGTERM streams end, the port closes and the process exits 0 well within 10 s.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, inject, it } from "vitest";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.ts";
import { createMeshClient } from "../../services/kit/clients.ts";
import { freePort } from "../../deploy/local/ports.ts";

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill("SIGKILL");
});

async function startProductService(env: NodeJS.ProcessEnv) {
  const port = await freePort();
  child = spawn(process.execPath, ["services/product/main.ts"], {
    env: {
      ...process.env,
      BAZAAR_PRODUCT_ADDR: `127.0.0.1:${port}`,
      BAZAAR_PRODUCT_DB: `life_${randomBytes(4).toString("hex")}`,
      // Retries while the database is down are logged as warnings; keep the test output clean.
      BAZAAR_LOG_LEVEL: "error",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exit = new Promise<number | null>((resolve) => child!.once("exit", resolve));
  const health = createMeshClient(Health, `127.0.0.1:${port}`, { defaultTimeoutMs: 1_000 });
  return { port, exit, health };
}

async function statusOf(health: ReturnType<typeof createMeshClient<typeof Health>>): Promise<Status | "down"> {
  try {
    return (await health.client.check({})).status;
  } catch {
    return "down";
  }
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!accept(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await probe();
  }
  return value;
}

describe("a service process", () => {
  it("when its database is unreachable, then it reports NOT_SERVING and reads answer unavailable", async () => {
    const deadPort = await freePort();
    const { health, port } = await startProductService({
      BAZAAR_MYSQL_URL: `mysql://root@127.0.0.1:${deadPort}`,
      BAZAAR_NATS_URL: inject("natsUrl"),
    });
    const status = await eventually(
      () => statusOf(health),
      (s) => s !== "down",
      15_000,
    );
    expect(status).toBe(Status.NOT_SERVING);
    health.close();

    // A caller that ignores health gets a retryable code, not a server error.
    const products = createMeshClient(ProductService, `127.0.0.1:${port}`);
    const failure = await products.client.getProduct({ id: "0193a000-0000-7000-8000-000000000001" }).then(
      () => undefined,
      (error) => ConnectError.from(error),
    );
    products.close();
    expect(failure?.code).toBe(Code.Unavailable);
  });

  it("when it gets SIGTERM, then open streams end with unavailable and it exits 0 within 10 s", async () => {
    const { exit, health } = await startProductService({
      BAZAAR_MYSQL_URL: inject("mysqlUrl"),
      BAZAAR_NATS_URL: inject("natsUrl"),
    });
    expect(
      await eventually(
        () => statusOf(health),
        (s) => s === Status.SERVING,
        30_000,
      ),
    ).toBe(Status.SERVING);

    const updates: Status[] = [];
    const watching = (async () => {
      for await (const update of health.client.watch({})) updates.push(update.status);
    })().catch((error) => ConnectError.from(error));
    await eventually(
      async () => updates.length,
      (n) => n > 0,
      5_000,
    );

    const stoppedAt = Date.now();
    child!.kill("SIGTERM");
    expect(await exit).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);

    const streamEnd = await watching;
    expect(updates[0]).toBe(Status.SERVING);
    expect(updates).toContain(Status.NOT_SERVING);
    expect(streamEnd instanceof ConnectError ? streamEnd.code : streamEnd).toBe(Code.Unavailable);
    expect(await statusOf(health)).toBe("down");
    health.close();
  });
});
