// Wiring only: config → database → payment provider (the test provider, or Stripe by
// BAZAAR_PAYMENT_PROVIDER) → gRPC server (PaymentService, and the test provider's hosted page
// while the test provider is configured) → periodic jobs.
import { PaymentService, TestCheckoutService } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { createDb } from "../kit/db.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { bind } from "../kit/serve.ts";
import { paymentAccessRules } from "./access-rules.ts";
import { loadPaymentConfig } from "./config.ts";
import type { PaymentDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { paymentJobs, testProviderJob } from "./jobs.ts";
import { createPaymentService, createTestCheckoutService } from "./payment-service.ts";
import type { PaymentProvider } from "./domain/provider.ts";
import { createStripeProvider } from "./providers/stripe.ts";
import { createTestProvider, type TestProvider } from "./providers/test-provider.ts";

const config = loadConfigOrExit(() => loadPaymentConfig(process.env));
let testProvider: TestProvider | undefined;
// The test provider stands for another system: it gets a pool of its own (see TestProviderOptions).
const testProviderOf = () =>
  (testProvider ??= createTestProvider({
    db: createDb<PaymentDatabase>({ url: config.mysqlUrl, database: config.database, connectionLimit: 4 }),
    edgeUrl: config.edgeUrl,
    webhookSecret: config.testWebhookSecret,
    webhookUrl: config.testWebhookUrl,
    delayMs: config.testDelayMs,
  }));
const provider: PaymentProvider =
  config.provider === "stripe" ? createStripeProvider({ ...config.stripe!, timeoutMs: 10_000 }) : testProviderOf();

const service = startService<PaymentDatabase>({
  name: "payment",
  config,
  migrations,
  services: ({ db }) => [
    bind(PaymentService, createPaymentService({ db, provider })),
    // The test provider's hosted 3-D Secure page exists only while the test provider is configured.
    ...(config.provider === "test" ? [bind(TestCheckoutService, createTestCheckoutService(testProviderOf()))] : []),
  ],
  rules: paymentAccessRules,
  jobs: ({ db, log }) => [
    ...paymentJobs({ db, provider }, config, log),
    ...(config.provider === "test" ? [testProviderJob(testProviderOf(), log)] : []),
  ],
});
runUntilSignalled(service, createLogger("payment", config.logLevel));
