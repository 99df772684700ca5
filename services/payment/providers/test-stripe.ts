// `npm run test:stripe`: the Stripe adapter's suite (stripe.test.ts) against Stripe's test mode
// instead of the local stand-in. Needs a test-mode secret key; a live key is refused, since the
// suite creates, captures and refunds payments.
import { spawnSync } from "node:child_process";

const key = process.env.STRIPE_SECRET_KEY ?? "";
if (!key.startsWith("sk_test_")) {
  console.error(
    key
      ? "test:stripe refuses this STRIPE_SECRET_KEY: it needs a test-mode key (sk_test_…), never a live one."
      : "test:stripe needs STRIPE_SECRET_KEY set to a Stripe test-mode secret key (sk_test_…).",
  );
  process.exit(2);
}
const run = spawnSync("vitest", ["run", "services/payment/providers/stripe.test.ts"], {
  stdio: "inherit",
  env: { ...process.env, BAZAAR_STRIPE_TEST_MODE: "1" },
});
process.exit(run.status ?? 1);
