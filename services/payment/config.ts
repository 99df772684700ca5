// The payment service's configuration.
import { ConfigError, envReader, readServiceBaseConfig, type Env, type ServiceBaseConfig } from "../kit/config.ts";

/** LOCAL-DEV DEFAULT ONLY: refused when BAZAAR_ENV=production. */
export const devTestWebhookSecret = "local-dev-only-test-webhook-secret";

export interface PaymentConfig extends ServiceBaseConfig {
  /** Only "test" exists so far; Stripe is being added. */
  provider: "test";
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
  return {
    ...base,
    provider: read.oneOf("BAZAAR_PAYMENT_PROVIDER", "test", ["test"] as const),
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
