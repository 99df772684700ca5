// Every migration of the notification database, in order. Add new ones at the end.
import type { Migration } from "kysely/migration";
import * as createEventTables from "../../../kit/migrations/2026_11_23_000000_create_event_tables.ts";
import * as createDeadLetters from "../../../kit/migrations/2026_11_24_000000_create_dead_letters.ts";
import * as createJobLeases from "../../../kit/migrations/2026_11_25_000000_create_job_leases.ts";
import * as notificationInbox from "./2026_12_04_170000_notification_inbox.ts";
import * as emailOutbox from "./2026_12_04_170500_create_email_outbox.ts";
import * as orderBuyers from "./2026_12_04_193000_create_order_buyers_for_refunds.ts";

export const migrations: Record<string, Migration> = {
  "2026_11_23_000000_create_event_tables": createEventTables,
  "2026_11_24_000000_create_dead_letters": createDeadLetters,
  "2026_11_25_000000_create_job_leases": createJobLeases,
  "2026_12_04_170000_notification_inbox": notificationInbox,
  "2026_12_04_170500_create_email_outbox": emailOutbox,
  "2026_12_04_193000_create_order_buyers_for_refunds": orderBuyers,
};
