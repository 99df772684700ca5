// Every migration of the payment database, in order. Add new ones at the end.
import type { Migration } from "kysely/migration";
import * as createEventTables from "../../../kit/migrations/2026_11_23_000000_create_event_tables.ts";
import * as createDeadLetters from "../../../kit/migrations/2026_11_24_000000_create_dead_letters.ts";
import * as createJobLeases from "../../../kit/migrations/2026_11_25_000000_create_job_leases.ts";
import * as createPayments from "./2026_12_04_140000_create_payments.ts";
import * as paymentWebhooks from "./2026_12_04_160000_payment_webhooks_test_provider.ts";
import * as testProviderCaptureAtOnce from "./2026_12_05_210000_test_provider_capture_at_once.ts";

export const migrations: Record<string, Migration> = {
  "2026_11_23_000000_create_event_tables": createEventTables,
  "2026_11_24_000000_create_dead_letters": createDeadLetters,
  "2026_11_25_000000_create_job_leases": createJobLeases,
  "2026_12_04_140000_create_payments": createPayments,
  "2026_12_04_160000_payment_webhooks_test_provider": paymentWebhooks,
  "2026_12_05_210000_test_provider_capture_at_once": testProviderCaptureAtOnce,
};
