// The notification service's configuration.
import { envReader, readServiceBaseConfig, type Env, type ServiceBaseConfig } from "../kit/config.ts";
import { loadMailConfig, type MailConfig } from "./email/config.ts";

export interface NotificationConfig extends ServiceBaseConfig {
  /** A product whose available stock falls below this notifies its seller. */
  lowStockThreshold: number;
  /** How often an open WatchNotifications reads the inbox without a signal (writes of other replicas). */
  watchPollMs: number;
  /** LOCAL DEV: the dev accounts are known recipients (BAZAAR_DEMO_SEED=1, as auth seeds them). */
  demoSeed: boolean;
  /** SMTP relay, sender and retry policy of the e-mail outbox (email/config.ts). */
  mail: MailConfig;
}

export function loadNotificationConfig(env: Env): NotificationConfig {
  const read = envReader(env);
  return {
    ...readServiceBaseConfig(read, "notification"),
    lowStockThreshold: read.int("BAZAAR_NOTIFICATION_LOW_STOCK_THRESHOLD", 5, { min: 1, max: 1_000_000 }),
    watchPollMs: read.int("BAZAAR_NOTIFICATION_WATCH_POLL_MS", 500, { min: 50, max: 60_000 }),
    demoSeed: read.flag("BAZAAR_DEMO_SEED", false),
    mail: loadMailConfig(env),
  };
}
