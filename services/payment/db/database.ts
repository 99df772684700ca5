// The payment service's database, typed once.
import type { ColumnType, Generated, Selectable } from "kysely";
import type { EventTables } from "../../kit/events.ts";
import type { JobLeaseTables } from "../../kit/job-leases.ts";
import type { PaymentStatus } from "../domain/payment.ts";

// BIGINT money arrives as an exact string and is written from a bigint.
type Minor = ColumnType<string, bigint, bigint>;

export interface PaymentsTable {
  id: string;
  order_id: string;
  currency_code: string;
  amount_minor: Minor;
  status: PaymentStatus;
  provider: string;
  provider_payment_id: string;
  redirect_url: Generated<string>;
  client_secret: Generated<string>;
  failure_reason: Generated<string>;
  captured_minor: ColumnType<string, bigint | undefined, bigint>;
  refunded_minor: ColumnType<string, bigint | undefined, bigint>;
  create_time: Generated<Date>;
  update_time: Generated<Date>;
  reconcile_time: ColumnType<Date | null, never, Date>;
}

export interface PaymentRefundsTable {
  id: string;
  payment_id: string;
  refund_key: string;
  amount_minor: Minor;
  provider_refund_id: string;
  create_time: Generated<Date>;
}

export type WebhookOutcome = "APPLIED" | "IGNORED" | "KEPT" | "EXPIRED";

export interface WebhookEventsTable {
  provider: string;
  event_id: string;
  outcome: WebhookOutcome;
  event_type: string;
  provider_payment_id: string;
  payment_id: Generated<string>;
  receive_time: Generated<Date>;
  apply_time: Date | null;
}

export interface TestProviderPaymentsTable {
  payment_id: string;
  provider_payment_id: string;
  status: "REQUIRES_ACTION" | "PROCESSING" | "AUTHORIZED" | "CAPTURED" | "FAILED" | "CANCELED";
  currency_code: string;
  amount_minor: Minor;
  captured_minor: ColumnType<string, bigint | undefined, bigint>;
  refunded_minor: ColumnType<string, bigint | undefined, bigint>;
  failure_reason: Generated<string>;
  redirect_url: Generated<string>;
  return_url: Generated<string>;
  settle_time: Date | null;
  /** Taken as it is authorized (automatic capture). */
  capture_at_once: Generated<number>;
  create_time: Generated<Date>;
}

export interface TestProviderRefundsTable {
  refund_key: string;
  payment_id: string;
  amount_minor: Minor;
  status: "SUCCEEDED" | "FAILED";
}

export interface TestProviderWebhooksTable {
  event_id: string;
  payment_id: string;
  body: string;
  attempts: Generated<number>;
  next_attempt_time: Generated<Date>;
  deliver_time: Date | null;
  last_error: Generated<string>;
}

export interface PaymentDatabase extends EventTables, JobLeaseTables {
  payments: PaymentsTable;
  payment_refunds: PaymentRefundsTable;
  webhook_events: WebhookEventsTable;
  test_provider_payments: TestProviderPaymentsTable;
  test_provider_refunds: TestProviderRefundsTable;
  test_provider_webhooks: TestProviderWebhooksTable;
}

export type PaymentRow = Selectable<PaymentsTable>;
export type RefundRow = Selectable<PaymentRefundsTable>;
