// A payment as the service keeps it, the status moves it allows, and the refusals a caller can
// branch on. Plain data and functions: no SQL, no provider calls.

export type PaymentStatus =
  | "REQUIRES_ACTION"
  | "PROCESSING"
  | "AUTHORIZED"
  | "CAPTURED"
  | "FAILED"
  | "CANCELED"
  | "PARTIALLY_REFUNDED"
  | "REFUNDED";

export interface Refund {
  id: string;
  paymentId: string;
  refundKey: string;
  amountMinor: bigint;
  providerRefundId: string;
  createTime: Date;
}

export interface Payment {
  id: string;
  orderId: string;
  currencyCode: string;
  amountMinor: bigint;
  status: PaymentStatus;
  provider: string;
  providerPaymentId: string;
  nextAction: { redirectUrl: string; clientSecret: string } | undefined;
  failureReason: string;
  capturedMinor: bigint;
  refundedMinor: bigint;
  createTime: Date;
  updateTime: Date;
  refunds: Refund[];
}

/** Statuses a capture starts from. */
export const capturable: readonly PaymentStatus[] = ["AUTHORIZED"];
/**
 * Statuses a cancel starts from: nothing was taken yet. Not PROCESSING: the provider is deciding
 * and refuses to cancel meanwhile (as Stripe does for `processing` intents).
 */
export const cancellable: readonly PaymentStatus[] = ["REQUIRES_ACTION", "AUTHORIZED"];
/**
 * Statuses a refund starts from: something was taken. REFUNDED is one, so a refund beyond the
 * capture is always REFUND_EXCEEDS_CAPTURE, whether anything is left or not.
 */
export const refundable: readonly PaymentStatus[] = ["CAPTURED", "PARTIALLY_REFUNDED", "REFUNDED"];

/** The status after refunds totalling `refundedMinor` of a capture. */
export function statusAfterRefunds(capturedMinor: bigint, refundedMinor: bigint): PaymentStatus {
  return refundedMinor >= capturedMinor ? "REFUNDED" : "PARTIALLY_REFUNDED";
}

export class PaymentNotFoundError extends Error {
  override name = "PaymentNotFoundError";
  readonly paymentId: string;
  constructor(paymentId: string) {
    super(`payment ${paymentId} not found`);
    this.paymentId = paymentId;
  }
}

/** The order already has a payment of another amount or currency. */
export class PaymentOrderMismatchError extends Error {
  override name = "PaymentOrderMismatchError";
  readonly orderId: string;
  readonly paymentId: string;
  constructor(orderId: string, paymentId: string) {
    super(`order ${orderId} already has payment ${paymentId} with another amount or currency`);
    this.orderId = orderId;
    this.paymentId = paymentId;
  }
}

export class IllegalPaymentStatusError extends Error {
  override name = "IllegalPaymentStatusError";
  readonly paymentId: string;
  readonly status: PaymentStatus;
  constructor(paymentId: string, status: PaymentStatus, action: string) {
    super(`payment ${paymentId} is ${status}: it cannot be ${action}`);
    this.paymentId = paymentId;
    this.status = status;
  }
}

export class RefundExceedsCaptureError extends Error {
  override name = "RefundExceedsCaptureError";
  readonly paymentId: string;
  readonly requestedMinor: bigint;
  readonly refundableMinor: bigint;
  constructor(paymentId: string, requestedMinor: bigint, refundableMinor: bigint) {
    super(`refund of ${requestedMinor} exceeds the ${refundableMinor} still refundable of payment ${paymentId}`);
    this.paymentId = paymentId;
    this.requestedMinor = requestedMinor;
    this.refundableMinor = refundableMinor;
  }
}

export class RefundKeyReusedError extends Error {
  override name = "RefundKeyReusedError";
  readonly paymentId: string;
  readonly refundKey: string;
  constructor(paymentId: string, refundKey: string) {
    super(`refund_key ${refundKey} was already used for another refund`);
    this.paymentId = paymentId;
    this.refundKey = refundKey;
  }
}

/** The provider refused a refund (its own view of the payment disagrees); nothing was stored. */
export class RefundRefusedError extends Error {
  override name = "RefundRefusedError";
}

/** A refund in another currency than its payment's. */
export class RefundCurrencyError extends Error {
  override name = "RefundCurrencyError";
  constructor(currencyCode: string) {
    super(`amount.currency_code must be the payment's currency, ${currencyCode}`);
  }
}
