// The payment service's database, typed once.
import type { ColumnType, Generated, Selectable } from "kysely";
import type { EventTables } from "../../kit/events.ts";
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
}

export interface PaymentRefundsTable {
  id: string;
  payment_id: string;
  refund_key: string;
  amount_minor: Minor;
  provider_refund_id: string;
  create_time: Generated<Date>;
}

export interface PaymentDatabase extends EventTables {
  payments: PaymentsTable;
  payment_refunds: PaymentRefundsTable;
}

export type PaymentRow = Selectable<PaymentsTable>;
export type RefundRow = Selectable<PaymentRefundsTable>;
