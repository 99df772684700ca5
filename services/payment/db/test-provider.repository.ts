// The built-in test provider's own state: what a real provider keeps on its side (payments,
// refunds, the webhooks it still has to deliver), in the payment database so a restart of the
// payment service loses none of it. Only providers/test-provider.ts uses these.
import { sql, type Kysely, type Transaction } from "kysely";
import type { PaymentDatabase, TestProviderPaymentsTable } from "./database.ts";

type Db = Kysely<PaymentDatabase> | Transaction<PaymentDatabase>;
export type TestStatus = TestProviderPaymentsTable["status"];

export interface TestPayment {
  paymentId: string;
  providerPaymentId: string;
  status: TestStatus;
  currencyCode: string;
  amountMinor: bigint;
  capturedMinor: bigint;
  refundedMinor: bigint;
  failureReason: string;
  redirectUrl: string;
  returnUrl: string;
  /** Taken as it is authorized (automatic capture). */
  captureAtOnce: boolean;
}

const nowSql = sql<Date>`UTC_TIMESTAMP(6)`;
const inMs = (ms: number) => sql<Date>`UTC_TIMESTAMP(6) + INTERVAL ${Math.max(0, Math.round(ms * 1000))} MICROSECOND`;

export async function findTestPayment(
  db: Db,
  paymentId: string,
  options: { lock?: boolean } = {},
): Promise<TestPayment | undefined> {
  let query = db.selectFrom("test_provider_payments").selectAll().where("payment_id", "=", paymentId);
  if (options.lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) return undefined;
  return {
    paymentId: row.payment_id,
    providerPaymentId: row.provider_payment_id,
    status: row.status,
    currencyCode: row.currency_code,
    amountMinor: BigInt(row.amount_minor),
    capturedMinor: BigInt(row.captured_minor),
    refundedMinor: BigInt(row.refunded_minor),
    failureReason: row.failure_reason,
    redirectUrl: row.redirect_url,
    returnUrl: row.return_url,
    captureAtOnce: Boolean(row.capture_at_once),
  };
}

/**
 * Stores a new payment; a repeat for the same payment id changes nothing (idempotency) and
 * answers false.
 */
export async function insertTestPayment(
  db: Db,
  payment: Omit<TestPayment, "refundedMinor">,
  settleAfterMs?: number,
): Promise<boolean> {
  const result = await db
    .insertInto("test_provider_payments")
    .ignore()
    .values({
      payment_id: payment.paymentId,
      provider_payment_id: payment.providerPaymentId,
      status: payment.status,
      currency_code: payment.currencyCode,
      amount_minor: payment.amountMinor,
      failure_reason: payment.failureReason,
      redirect_url: payment.redirectUrl,
      return_url: payment.returnUrl,
      captured_minor: payment.capturedMinor,
      capture_at_once: payment.captureAtOnce ? 1 : 0,
      settle_time: settleAfterMs === undefined ? null : inMs(settleAfterMs),
    })
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Moves a payment from one of `from` to `to`; true when this call moved it. */
export async function moveTestPayment(
  db: Db,
  paymentId: string,
  from: readonly TestStatus[],
  to: TestStatus,
  set: { capturedMinor?: bigint | "whole amount"; failureReason?: string } = {},
): Promise<boolean> {
  const result = await db
    .updateTable("test_provider_payments")
    .set({
      status: to,
      settle_time: null,
      ...(to !== "REQUIRES_ACTION" ? { redirect_url: "" } : {}),
      ...(set.capturedMinor === "whole amount"
        ? { captured_minor: sql<bigint>`amount_minor` }
        : set.capturedMinor !== undefined
          ? { captured_minor: set.capturedMinor }
          : {}),
      ...(set.failureReason !== undefined ? { failure_reason: set.failureReason } : {}),
    })
    .where("payment_id", "=", paymentId)
    .where("status", "in", [...from])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Ids of PROCESSING payments whose settle time has come. */
export async function dueTestSettlements(db: Db, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom("test_provider_payments")
    .select("payment_id")
    .where("settle_time", "<=", nowSql)
    .where("status", "=", "PROCESSING")
    .orderBy("settle_time")
    .limit(limit)
    .execute();
  return rows.map((row) => row.payment_id);
}

export async function findTestRefund(
  db: Db,
  paymentId: string,
  refundKey: string,
): Promise<{ status: "SUCCEEDED" | "FAILED"; amountMinor: bigint } | undefined> {
  const row = await db
    .selectFrom("test_provider_refunds")
    .selectAll()
    .where("payment_id", "=", paymentId)
    .where("refund_key", "=", refundKey)
    .executeTakeFirst();
  return row ? { status: row.status, amountMinor: BigInt(row.amount_minor) } : undefined;
}

export async function insertTestRefund(
  trx: Transaction<PaymentDatabase>,
  refund: { refundKey: string; paymentId: string; amountMinor: bigint; status: "SUCCEEDED" | "FAILED" },
): Promise<void> {
  await trx
    .insertInto("test_provider_refunds")
    .values({
      refund_key: refund.refundKey,
      payment_id: refund.paymentId,
      amount_minor: refund.amountMinor,
      status: refund.status,
    })
    .execute();
  if (refund.status === "SUCCEEDED") {
    await trx
      .updateTable("test_provider_payments")
      .set((eb) => ({ refunded_minor: eb("refunded_minor", "+", refund.amountMinor as never) as never }))
      .where("payment_id", "=", refund.paymentId)
      .execute();
  }
}

/** Queues a signed webhook for delivery, due at once. */
export async function enqueueTestWebhook(
  db: Db,
  webhook: { eventId: string; paymentId: string; body: string },
): Promise<void> {
  await db
    .insertInto("test_provider_webhooks")
    .values({ event_id: webhook.eventId, payment_id: webhook.paymentId, body: webhook.body })
    .execute();
}

export interface DueWebhook {
  eventId: string;
  body: string;
  attempts: number;
}

/** Undelivered webhooks whose next attempt has come, oldest first. */
export async function dueTestWebhooks(db: Db, limit: number): Promise<DueWebhook[]> {
  const rows = await db
    .selectFrom("test_provider_webhooks")
    .select(["event_id", "body", "attempts"])
    .where("deliver_time", "is", null)
    .where("next_attempt_time", "<=", nowSql)
    .orderBy("next_attempt_time")
    .limit(limit)
    .execute();
  return rows.map((row) => ({ eventId: row.event_id, body: row.body, attempts: row.attempts }));
}

export async function markTestWebhookDelivered(db: Db, eventId: string): Promise<void> {
  await db
    .updateTable("test_provider_webhooks")
    .set((eb) => ({ deliver_time: nowSql, attempts: eb("attempts", "+", 1) }))
    .where("event_id", "=", eventId)
    .execute();
}

export async function markTestWebhookFailed(db: Db, eventId: string, error: string, retryInMs: number): Promise<void> {
  await db
    .updateTable("test_provider_webhooks")
    .set((eb) => ({
      next_attempt_time: inMs(retryInMs),
      attempts: eb("attempts", "+", 1),
      last_error: error.slice(0, 300),
    }))
    .where("event_id", "=", eventId)
    .execute();
}

/** Every webhook queued for a payment, oldest first (tests and the page's diagnostics). */
export async function testWebhooksOf(
  db: Db,
  paymentId: string,
): Promise<Array<{ eventId: string; body: string; delivered: boolean; attempts: number }>> {
  const rows = await db
    .selectFrom("test_provider_webhooks")
    .selectAll()
    .where("payment_id", "=", paymentId)
    .orderBy("event_id")
    .execute();
  return rows.map((row) => ({
    eventId: row.event_id,
    body: row.body,
    delivered: row.deliver_time !== null,
    attempts: row.attempts,
  }));
}
