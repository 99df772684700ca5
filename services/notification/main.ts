// Wiring only: config → database → gRPC server (NotificationService, AccountMailService) →
// durable consumers of order, payment, product and auth events and of every service's dead-letter
// announcements, one per concern → the e-mail delivery job.
import { AccountMailService, NotificationService } from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { startConsumer } from "../kit/consumer.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { bind } from "../kit/serve.ts";
import { notificationAccessRules } from "./access-rules.ts";
import { loadNotificationConfig } from "./config.ts";
import type { NotificationDatabase } from "./db/database.ts";
import { seedDevRecipients } from "./db/demo-seed.ts";
import { migrations } from "./db/migrations/index.ts";
import { FeedSignals } from "../kit/feed-signals.ts";
import { mailJobs } from "./email/delivery.ts";
import { adminAlertsConsumer, alertAdmins } from "./events/admin-alerts.ts";
import { notifyOrderEvents, orderEventsConsumer } from "./events/order-events.ts";
import { notifyPaymentEvents, paymentEventsConsumer } from "./events/payment-events.ts";
import { followProductEvents, productEventsConsumer } from "./events/product-events.ts";
import { followUserEvents, userEventsConsumer } from "./events/user-events.ts";
import { createAccountMailService, createNotificationService } from "./notification-service.ts";

const config = loadConfigOrExit(() => loadNotificationConfig(process.env));
const signals = new FeedSignals();

const service = startService<NotificationDatabase>({
  name: "notification",
  config,
  migrations,
  services: ({ db }) => [
    bind(NotificationService, createNotificationService({ db, feed: { db, signals, pollMs: config.watchPollMs } })),
    bind(AccountMailService, createAccountMailService({ db })),
  ],
  rules: notificationAccessRules,
  consumers: ({ db, nats, log }) =>
    [
      { ...orderEventsConsumer, handle: notifyOrderEvents(signals) },
      { ...paymentEventsConsumer, handle: notifyPaymentEvents(signals) },
      { ...productEventsConsumer, handle: followProductEvents(signals, config.lowStockThreshold) },
      { ...userEventsConsumer, handle: followUserEvents(signals) },
      { ...adminAlertsConsumer, handle: alertAdmins(signals) },
    ].map((consumer) =>
      startConsumer<NotificationDatabase>({ js: nats.js, jsm: nats.jsm, db, log, source: "notification", ...consumer }),
    ),
  jobs: ({ db, log }) => mailJobs({ db, log, config: config.mail }),
  async onReady({ db, log }) {
    if (!config.demoSeed) return;
    const created = await seedDevRecipients(db);
    if (created > 0) log.info({ created }, "dev accounts added as recipients");
  },
});
runUntilSignalled(service, createLogger("notification", config.logLevel));
