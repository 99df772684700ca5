// `npm run test:stripe` without a usable key: one line saying what it needs, and a non-zero exit,
// so a CI job that forgot the secret fails instead of passing with nothing run.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const script = fileURLToPath(new URL("./test-stripe.ts", import.meta.url));

function runWith(key: string | undefined) {
  const env = { ...process.env };
  delete env.STRIPE_SECRET_KEY;
  if (key !== undefined) env.STRIPE_SECRET_KEY = key;
  return spawnSync(process.execPath, [script], { env, encoding: "utf8", timeout: 30_000 });
}

describe("npm run test:stripe", () => {
  it("when STRIPE_SECRET_KEY is not set, then it says in one line what it needs and exits non-zero", () => {
    const run = runWith(undefined);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split("\n")).toEqual([
      "test:stripe needs STRIPE_SECRET_KEY set to a Stripe test-mode secret key (sk_test_…).",
    ]);
  });

  it("when the key is a live one, then it refuses it and exits non-zero", () => {
    const run = runWith("sk_live_not_a_real_key");
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/needs a test-mode key/);
  });
});
