// The client SDK as an app developer meets it: generated with buf.gen.sdk.yaml, the example
// program type-checked against it, then run as a process of its own against the real mesh,
// buying by card and watching the order until CONFIRMED.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { OrderStatus } from "../../gen/bazaar/order/v1/order_pb.ts";
import { bearer } from "../../services/kit/testing/calls.ts";
import { useMesh } from "../support/use-mesh.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const example = join(root, "tests/sdk/example.ts");

beforeAll(async () => {
  // Inside tests/sdk (gitignored) rather than a temp dir, so the SDK's own imports
  // (@bufbuild/protobuf, @bufbuild/protovalidate) resolve from the repo's node_modules.
  const generated = await run("buf", ["generate", "--template", "buf.gen.sdk.yaml", "--output", "tests/sdk"], 60_000);
  expect(generated.code, generated.output).toBe(0);
});
const e2e = useMesh({ httpVersion: "1.1" });

interface Finished {
  code: number | null;
  /** stdout and stderr interleaved, as a person at a terminal would read them. */
  output: string;
}

/** Runs a command from the repo root to its end; killed after timeoutMs. */
function run(command: string, args: string[], timeoutMs: number): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("error", reject);
    child.once("close", (code, signal) =>
      resolve({ code, output: signal ? `${output}\n(killed by ${signal})` : output }),
    );
  });
}

describe("the client SDK", () => {
  it("when buf generates it with the SDK template, then it is plain JavaScript with declarations and the example type-checks against it", async () => {
    const order = join(root, "tests/sdk/generated/bazaar/order/v1/order_pb");
    expect([existsSync(`${order}.js`), existsSync(`${order}.d.ts`)]).toEqual([true, true]);
    // The options an app would compile with, not the repo's tsconfig; library .d.ts files
    // included, so the generated declarations are checked too.
    const flags = [
      "--strict",
      "--module",
      "nodenext",
      "--target",
      "es2024",
      "--types",
      "node",
      "--verbatimModuleSyntax",
      "--erasableSyntaxOnly",
    ];
    const checked = await run("tsc", ["--noEmit", "--ignoreConfig", ...flags, example], 60_000);
    expect(checked.code, checked.output).toBe(0);
  });

  it("when a new customer runs the example against the edge, then it buys by card, watches the order to CONFIRMED and the order is on record", async () => {
    const email = `sdk-${randomBytes(5).toString("hex")}@example.test`;
    const password = "password-123";
    const { tokens } = await e2e.auth.register({
      email,
      password,
      displayName: "SDK Example",
    });

    const result = await run(
      process.execPath,
      [example, "--edge", e2e.mesh.edgeUrl, "--email", email, "--password", password],
      60_000,
    );
    expect(result.code, result.output).toBe(0);
    const orderId = /^placed order (\S+),/m.exec(result.output)?.[1];
    expect(orderId, result.output).toBeDefined();
    // Each status as WatchOrders pushed it, replayed from the order's creation.
    const watched = [...result.output.matchAll(new RegExp(`^watched order ${orderId}: (\\w+)$`, "gm"))].map(
      (line) => line[1],
    );
    expect(watched, result.output).toEqual(["PENDING", "CONFIRMED"]);

    const { orders } = await e2e.orders.listOrders({}, bearer(tokens!.accessToken));
    expect(orders.map((o) => o.id)).toEqual([orderId]);
    expect(orders[0]!.status).toBe(OrderStatus.CONFIRMED);
    const bought = /; buying (.+) at /.exec(result.output)?.[1];
    expect(orders[0]!.items.map((item) => [item.name, item.quantity])).toEqual([[bought, 1]]);
  }, 90_000);
});
