// Wiring only: config → database → payment provider → gRPC server (PaymentService, and the test
// provider's hosted page while the test provider is configured) → periodic jobs.
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
import { createTestProvider, type TestProvider } from "./providers/test-provider.ts";

const config = loadConfigOrExit(() => loadPaymentConfig(process.env));
let provider: TestProvider | undefined;
// The test provider stands for another system: it gets a pool of its own (see TestProviderOptions).
const providerOf = () =>
  (provider ??= createTestProvider({
    db: createDb<PaymentDatabase>({ url: config.mysqlUrl, database: config.database, connectionLimit: 4 }),
    edgeUrl: config.edgeUrl,
    webhookSecret: config.testWebhookSecret,
    webhookUrl: config.testWebhookUrl,
    delayMs: config.testDelayMs,
  }));

const service = startService<PaymentDatabase>({
  name: "payment",
  config,
  migrations,
  services: ({ db }) => [
    bind(PaymentService, createPaymentService({ db, provider: providerOf() })),
    bind(TestCheckoutService, createTestCheckoutService(providerOf())),
  ],
  rules: paymentAccessRules,
  jobs: ({ db, log }) => [
    ...paymentJobs({ db, provider: providerOf() }, config, log),
    testProviderJob(providerOf(), log),
  ],
});
runUntilSignalled(service, createLogger("payment", config.logLevel));
