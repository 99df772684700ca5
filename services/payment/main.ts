// Wiring only: config → database → payment provider → gRPC server (PaymentService).
import { PaymentService } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { bind } from "../kit/serve.ts";
import { paymentAccessRules } from "./access-rules.ts";
import { loadPaymentConfig } from "./config.ts";
import type { PaymentDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { createPaymentService } from "./payment-service.ts";
import { createTestProvider } from "./providers/test-provider.ts";

const config = loadConfigOrExit(() => loadPaymentConfig(process.env));
const provider = createTestProvider({ edgeUrl: config.edgeUrl, webhookSecret: config.testWebhookSecret });

const service = startService<PaymentDatabase>({
  name: "payment",
  config,
  migrations,
  services: ({ db }) => [bind(PaymentService, createPaymentService({ db, provider }))],
  rules: paymentAccessRules,
});
runUntilSignalled(service, createLogger("payment", config.logLevel));
