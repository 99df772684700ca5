// The payment flows: ask the provider, then record what it answered together with the event
// announcing it, in one transaction. Provider calls are idempotent per payment id and refund
// key, so when a transaction fails after the provider acted, repeating the call is safe.
import type { Kysely } from "kysely";
import { inTransaction } from "../../kit/db.ts";
import { appendEvent, type NewEvent } from "../../kit/events.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { PaymentDatabase } from "../db/database.ts";
import {
  findPayment,
  findPaymentByOrder,
  findRefundByKey,
  insertPayment,
  insertRefund,
  listPayments,
  moveStatus,
  type PaymentFilter,
} from "../db/payment.repository.ts";
import {
  cancellable,
  capturable,
  IllegalPaymentStatusError,
  PaymentNotFoundError,
  PaymentOrderMismatchError,
  refundable,
  RefundCurrencyError,
  RefundExceedsCaptureError,
  RefundKeyReusedError,
  RefundRefusedError,
  statusAfterRefunds,
  type Payment,
  type PaymentStatus,
  type Refund,
} from "./payment.ts";
import type { PaymentProvider, ProviderPayment } from "./provider.ts";

export interface PaymentDeps {
  db: Kysely<PaymentDatabase>;
  provider: PaymentProvider;
}

const source = "payment";

export interface CreatePayment {
  orderId: string;
  currencyCode: string;
  amountMinor: bigint;
  paymentMethodToken: string;
  returnUrl: string;
  /** Taken as it is authorized (the provider's automatic capture), not by capturePayment. */
  capture?: boolean;
  /** Who asked (the caller's id), named as the actor of the event it makes. */
  actorId?: string;
}

/**
 * One payment per order. The provider is asked before anything is stored, so a provider that
 * cannot be reached leaves nothing behind (ProviderUnavailableError reaches the caller).
 */
export async function createPayment(deps: PaymentDeps, request: CreatePayment): Promise<Payment> {
  const existing = await findPaymentByOrder(deps.db, request.orderId);
  if (existing) return sameOrRefused(existing, request);

  const paymentId = uuidv7();
  const answer = await deps.provider.authorize({
    paymentId,
    orderId: request.orderId,
    amountMinor: request.amountMinor,
    currencyCode: request.currencyCode,
    paymentMethodToken: request.paymentMethodToken,
    ...(request.returnUrl ? { returnUrl: request.returnUrl } : {}),
    capture: request.capture ?? false,
  });
  const inserted = await inTransaction(deps.db, async (trx) => {
    const stored = await insertPayment(trx, {
      id: paymentId,
      orderId: request.orderId,
      currencyCode: request.currencyCode,
      amountMinor: request.amountMinor,
      status: answer.status,
      provider: deps.provider.name,
      providerPaymentId: answer.providerPaymentId,
      redirectUrl: answer.nextAction?.redirectUrl ?? "",
      clientSecret: answer.nextAction?.clientSecret ?? "",
      failureReason: answer.failureReason ?? "",
      capturedMinor: answer.amountCapturedMinor,
    });
    if (!stored) return undefined;
    const payload = newPaymentEvent(answer, { paymentId, orderId: request.orderId }, request);
    if (payload) await appendEvent(trx, { source, actorId: request.actorId, subjectId: paymentId, payload });
    return stored;
  });
  if (!inserted) {
    // A concurrent call for the same order stored its payment first: void ours, answer theirs.
    await deps.provider.cancel({ paymentId, providerPaymentId: answer.providerPaymentId }).catch(() => undefined);
    const winner = await findPaymentByOrder(deps.db, request.orderId);
    if (!winner) throw new Error(`payment of order ${request.orderId} vanished`);
    return sameOrRefused(winner, request);
  }
  return inserted;
}

/** What a new payment announces, by where the provider left it (PROCESSING: nothing yet). */
function newPaymentEvent(
  answer: ProviderPayment,
  ids: { paymentId: string; orderId: string },
  amount: { currencyCode: string; amountMinor: bigint },
): NewEvent["payload"] | undefined {
  const money = { currencyCode: amount.currencyCode, amountMinor: amount.amountMinor };
  switch (answer.status) {
    case "CAPTURED":
      // Taken as it was authorized: it was never AUTHORIZED here, and one event says it was paid.
      return {
        case: "paymentCaptured",
        value: { ...ids, amount: { ...money, amountMinor: answer.amountCapturedMinor } },
      };
    case "AUTHORIZED":
      return { case: "paymentAuthorized", value: { ...ids, amount: money } };
    case "REQUIRES_ACTION":
      return { case: "paymentRequiresAction", value: ids };
    case "FAILED":
      return { case: "paymentFailed", value: { ...ids, reason: answer.failureReason ?? "" } };
    default:
      return undefined;
  }
}

function sameOrRefused(payment: Payment, request: CreatePayment): Payment {
  if (payment.amountMinor !== request.amountMinor || payment.currencyCode !== request.currencyCode) {
    throw new PaymentOrderMismatchError(request.orderId, payment.id);
  }
  return payment;
}

export async function getPayment(deps: PaymentDeps, id: string): Promise<Payment> {
  const payment = await findPayment(deps.db, id);
  if (!payment) throw new PaymentNotFoundError(id);
  return payment;
}

/**
 * Captures all of an authorized payment. The payment's row lock is held across the provider
 * call, so concurrent captures of one payment happen one after the other; a capture of a
 * captured payment answers it unchanged.
 */
export async function capturePayment(deps: PaymentDeps, id: string, actorId = ""): Promise<Payment> {
  return moveWithProvider(deps, id, actorId, {
    done: "CAPTURED",
    from: capturable,
    action: "captured",
    call: async (payment) => {
      const answer = await deps.provider.capture({ paymentId: id, providerPaymentId: payment.providerPaymentId });
      // The provider's view wins: a payment it voided or failed meanwhile is not recorded as taken.
      if (answer.status !== "CAPTURED") throw new IllegalPaymentStatusError(id, answer.status, "captured");
      return { capturedMinor: answer.amountCapturedMinor };
    },
    event: (payment, set) => ({
      case: "paymentCaptured",
      value: {
        paymentId: id,
        orderId: payment.orderId,
        amount: { currencyCode: payment.currencyCode, amountMinor: set.capturedMinor ?? 0n },
      },
    }),
  });
}

/** Voids a payment nothing was taken of; a cancel of a cancelled payment answers it unchanged. */
export async function cancelPayment(deps: PaymentDeps, id: string, actorId = ""): Promise<Payment> {
  return moveWithProvider(deps, id, actorId, {
    done: "CANCELED",
    from: cancellable,
    action: "cancelled",
    call: async (payment) => {
      const answer = await deps.provider.cancel({ paymentId: id, providerPaymentId: payment.providerPaymentId });
      // A provider that is still deciding (processing) or has moved on refuses: nothing changes here.
      if (answer.status !== "CANCELED") throw new IllegalPaymentStatusError(id, answer.status, "cancelled");
      return {};
    },
    event: (payment) => ({ case: "paymentCanceled", value: { paymentId: id, orderId: payment.orderId } }),
  });
}

async function moveWithProvider(
  deps: PaymentDeps,
  id: string,
  actorId: string,
  move: {
    done: PaymentStatus;
    from: readonly PaymentStatus[];
    action: string;
    call: (payment: Payment) => Promise<{ capturedMinor?: bigint }>;
    event: (payment: Payment, set: { capturedMinor?: bigint }) => NewEvent["payload"];
  },
): Promise<Payment> {
  await inTransaction(deps.db, async (trx) => {
    const payment = await findPayment(trx, id, { lock: true });
    if (!payment) throw new PaymentNotFoundError(id);
    if (payment.status === move.done) return;
    if (!move.from.includes(payment.status)) throw new IllegalPaymentStatusError(id, payment.status, move.action);
    const set = await move.call(payment);
    if (await moveStatus(trx, id, move.from, move.done, set)) {
      await appendEvent(trx, { source, actorId, subjectId: id, payload: move.event(payment, set) });
    }
  });
  return getPayment(deps, id);
}

export interface RefundRequest {
  paymentId: string;
  currencyCode: string;
  amountMinor: bigint;
  refundKey: string;
  /** Who asked (the caller's id), named as the actor of the event it makes. */
  actorId?: string;
}

/**
 * Refunds part of a capture, at most what is left of it. Under the payment's row lock the
 * total is checked, the provider asked (idempotent per refund key) and the refund recorded, so
 * concurrent refunds are decided one after the other and only those that fit succeed.
 */
export async function refundPayment(
  deps: PaymentDeps,
  request: RefundRequest,
): Promise<{ refund: Refund; payment: Payment }> {
  const refund = await inTransaction(deps.db, async (trx) => {
    const payment = await findPayment(trx, request.paymentId, { lock: true });
    if (!payment) throw new PaymentNotFoundError(request.paymentId);
    const known = await findRefundByKey(trx, request.refundKey);
    if (known) {
      if (known.paymentId !== payment.id || known.amountMinor !== request.amountMinor) {
        throw new RefundKeyReusedError(payment.id, request.refundKey);
      }
      return known;
    }
    if (!refundable.includes(payment.status))
      throw new IllegalPaymentStatusError(payment.id, payment.status, "refunded");
    const left = payment.capturedMinor - payment.refundedMinor;
    if (request.currencyCode !== payment.currencyCode) throw new RefundCurrencyError(payment.currencyCode);
    if (request.amountMinor > left) {
      throw new RefundExceedsCaptureError(payment.id, request.amountMinor, left);
    }
    const answer = await deps.provider.refund({
      paymentId: payment.id,
      providerPaymentId: payment.providerPaymentId,
      refundKey: request.refundKey,
      amountMinor: request.amountMinor,
    });
    if (answer.status === "FAILED") throw new RefundRefusedError(`the provider refused refund ${request.refundKey}`);
    const made = {
      id: uuidv7(),
      paymentId: payment.id,
      refundKey: request.refundKey,
      amountMinor: request.amountMinor,
      providerRefundId: answer.providerRefundId,
    };
    const total = payment.refundedMinor + request.amountMinor;
    if (!(await insertRefund(trx, made, statusAfterRefunds(payment.capturedMinor, total))))
      throw new RefundKeyReusedError(payment.id, request.refundKey);
    const money = (amountMinor: bigint) => ({ currencyCode: payment.currencyCode, amountMinor });
    await appendEvent(trx, {
      source,
      actorId: request.actorId,
      subjectId: payment.id,
      payload: {
        case: "paymentRefunded",
        value: {
          paymentId: payment.id,
          orderId: payment.orderId,
          refundId: made.id,
          amount: money(made.amountMinor),
          totalRefunded: money(total),
        },
      },
    });
    return { ...made, createTime: new Date() };
  });
  const payment = await getPayment(deps, request.paymentId);
  return { refund: payment.refunds.find((r) => r.id === refund.id) ?? refund, payment };
}

export function listPaymentsPage(deps: PaymentDeps, filter: PaymentFilter): Promise<Payment[]> {
  return listPayments(deps.db, filter);
}
