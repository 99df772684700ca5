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
  return {
    ...base,
    provider: read.oneOf("BAZAAR_PAYMENT_PROVIDER", "test", ["test"] as const),
    edgeUrl: read.url("BAZAAR_PAYMENT_EDGE_URL", "http://127.0.0.1:8080", ["http", "https"]),
    testWebhookSecret,
  };
}
