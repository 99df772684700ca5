// The top-level README's tour, run as written against a live mesh: its shell blocks are read
// from the README itself, with only the addresses changed to this mesh's, so a tour that stops
// working (a route renamed, an answer reshaped) fails here rather than in a newcomer's terminal.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const root = new URL("../../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");

/** The ```sh blocks of one `## ` section of the README, in order. */
function shellBlocks(section: string): string[] {
  const start = readme.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`README has no section "${section}"`);
  const end = readme.indexOf("\n## ", start + 1);
  const text = readme.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

async function runBash(script: string): Promise<string> {
  const { stdout } = await promisify(execFile)("bash", ["-c", script], {
    cwd: new URL(".", root).pathname,
    env: { ...process.env, PATH: `${new URL("node_modules/.bin", root).pathname}:${process.env.PATH}` },
    timeout: 60_000,
  });
  return stdout;
}

describe("the README's short tour", () => {
  const [tour, grpc] = shellBlocks("A short tour");

  it("when its REST block runs, then the customer finds products, fills the cart and reads back a confirmed card order", {
    timeout: 90_000,
  }, async () => {
    expect(tour).toContain("EDGE=http://127.0.0.1:8080\n");
    const output = await runBash(tour!.replace("EDGE=http://127.0.0.1:8080\n", `EDGE=${e2e.mesh.edgeUrl}\n`));
    const answers = output.trim().split("\n");
    // search, the cart after adding, the order read back: one JSON answer each.
    expect(answers).toHaveLength(3);
    const [search, cart, order] = answers.map((line) => JSON.parse(line));
    expect(search.products.length).toBeGreaterThan(0);
    expect(JSON.stringify(search).toLowerCase()).toContain("espresso");
    expect(cart.cart.items).toHaveLength(1);
    expect(order.order.status).toBe("ORDER_STATUS_CONFIRMED");
    expect(order.order.payment.status).toBe("PAYMENT_STATUS_CAPTURED");
  });

  it("when its gRPC block runs, then the product service answers over gRPC by reflection", {
    timeout: 60_000,
  }, async () => {
    const product = e2e.mesh.addresses.product.split(",")[0]!;
    expect(grpc).toContain("http://127.0.0.1:50052/");
    const output = await runBash(grpc!.replace("http://127.0.0.1:50052/", `http://${product}/`));
    const answer = JSON.parse(output);
    expect(answer.products).toHaveLength(2);
  });
});
