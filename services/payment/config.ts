// The payment service's configuration.
import {
  ConfigError,
  envReader,
  readServiceBaseConfig,
  type Env,
  type EnvReader,
  type ServiceBaseConfig,
} from "../kit/config.ts";

/** LOCAL-DEV DEFAULT ONLY: refused when BAZAAR_ENV=production. */
export const devTestWebhookSecret = "local-dev-only-test-webhook-secret";

export interface PaymentConfig extends ServiceBaseConfig {
  /** The built-in test provider, or Stripe (PaymentIntents through the official SDK). */
  provider: "test" | "stripe";
  /** Set when provider is "stripe". */
  stripe?: {
    secretKey: string;
    webhookSecret: string;
    /** Another API endpoint than Stripe's own (the local PaymentIntents stand-in in tests). */
    apiBase?: { host: string; port: number; protocol: "http" | "https" };
  };
  /** Where buyers reach the edge: the test provider's 3-D Secure page is under it. */
  edgeUrl: string;
  /** The test provider's webhook signing secret. */
  testWebhookSecret: string;
  /** Where the test provider POSTs its webhooks: the edge's /v1/webhooks/test by default. */
  testWebhookUrl: string;
  /** How long a tok_delayedSuccess payment stays PROCESSING at the test provider. */
  testDelayMs: number;
  /** Payments waiting (REQUIRES_ACTION, PROCESSING, AUTHORIZED) this long are reconciled. */
  reconcileAfterSeconds: number;
  /** How often the reconciliation job runs. */
  reconcileEveryMs: number;
  /** How long a webhook for an unknown payment is kept and retried before it is given up. */
  keptWebhookMaxAgeSeconds: number;
}

export function loadPaymentConfig(env: Env): PaymentConfig {
  const read = envReader(env);
  const base = readServiceBaseConfig(read, "payment");
  const testWebhookSecret = read.string("BAZAAR_PAYMENT_TEST_WEBHOOK_SECRET", devTestWebhookSecret);
  if (base.environment === "production" && testWebhookSecret === devTestWebhookSecret) {
    throw new ConfigError(
      "BAZAAR_PAYMENT_TEST_WEBHOOK_SECRET must be set in production (the default is for local development)",
    );
  }
  const edgeUrl = read.url("BAZAAR_PAYMENT_EDGE_URL", "http://127.0.0.1:8080", ["http", "https"]);
  const provider = read.oneOf("BAZAAR_PAYMENT_PROVIDER", "test", ["test", "stripe"] as const);
  // Read whichever provider is chosen (a deployment may hold Stripe's keys while testing), checked
  // only for Stripe.
  const stripe = readStripeConfig(read);
  return {
    ...base,
    provider,
    ...(provider === "stripe" && { stripe: checkedStripeConfig(stripe) }),
    edgeUrl,
    testWebhookSecret,
    testWebhookUrl: read.url("BAZAAR_PAYMENT_TEST_WEBHOOK_URL", `${edgeUrl.replace(/\/$/, "")}/v1/webhooks/test`, [
      "http",
      "https",
    ]),
    testDelayMs: read.int("BAZAAR_PAYMENT_TEST_DELAY_MS", 5_000, { min: 0, max: 3_600_000 }),
    reconcileAfterSeconds: read.int("BAZAAR_PAYMENT_RECONCILE_AFTER_SECONDS", 600, { min: 1, max: 7 * 86_400 }),
    reconcileEveryMs: read.int("BAZAAR_PAYMENT_RECONCILE_EVERY_MS", 30_000, { min: 100, max: 3_600_000 }),
    keptWebhookMaxAgeSeconds: read.int("BAZAAR_PAYMENT_KEPT_WEBHOOK_MAX_AGE_SECONDS", 86_400, {
      min: 1,
      max: 30 * 86_400,
    }),
  };
}

function readStripeConfig(read: EnvReader) {
  const apiUrl = read.string("BAZAAR_PAYMENT_STRIPE_API_URL", "");
  return {
    secretKey: read.string("BAZAAR_PAYMENT_STRIPE_SECRET_KEY", ""),
    webhookSecret: read.string("BAZAAR_PAYMENT_STRIPE_WEBHOOK_SECRET", ""),
    apiUrl: apiUrl && read.url("BAZAAR_PAYMENT_STRIPE_API_URL", apiUrl, ["http", "https"]),
  };
}

/** Stripe's keys are secrets with no default: a deployment that picks Stripe must give both. */
function checkedStripeConfig(stripe: ReturnType<typeof readStripeConfig>): NonNullable<PaymentConfig["stripe"]> {
  const { secretKey, webhookSecret, apiUrl } = stripe;
  if (!/^(sk|rk)_(test|live)_/.test(secretKey)) {
    throw new ConfigError("BAZAAR_PAYMENT_STRIPE_SECRET_KEY must be a Stripe secret key (sk_test_…, sk_live_…)");
  }
  if (!webhookSecret.startsWith("whsec_")) {
    throw new ConfigError("BAZAAR_PAYMENT_STRIPE_WEBHOOK_SECRET must be the endpoint's signing secret (whsec_…)");
  }
  if (!apiUrl) return { secretKey, webhookSecret };
  const parsed = new URL(apiUrl);
  const protocol = parsed.protocol === "https:" ? "https" : "http";
  const port = Number(parsed.port || (protocol === "https" ? 443 : 80));
  return { secretKey, webhookSecret, apiBase: { host: parsed.hostname, port, protocol } };
}
