// Card payments as checkout needs them from the payment service: start one per order, capture
// it once the stock is sold, and give the buyer's money back when an order or a shop order is
// cancelled — a void while nothing was taken, a refund of part or all of a capture otherwise.
import { Code, ConnectError } from "@connectrpc/connect";

export type CardPaymentStatus =
  | "REQUIRES_ACTION"
  | "PROCESSING"
  | "AUTHORIZED"
  | "CAPTURED"
  | "FAILED"
  | "CANCELED"
  | "PARTIALLY_REFUNDED"
  | "REFUNDED";

/** An order's card payment as the payment service answers it. Amounts in minor units. */
export interface CardPayment {
  id: string;
  status: CardPaymentStatus;
  /** The provider's id of the payment. */
  providerPaymentId: string;
  /** What the buyer must do while REQUIRES_ACTION. */
  nextAction?: { redirectUrl: string; clientSecret: string };
  failureReason: string;
  currencyCode: string;
  capturedMinor: bigint;
  refundedMinor: bigint;
  /** The refunds made so far, by their keys. */
  refunds: Array<{ refundKey: string; amountMinor: bigint }>;
}

/** The payment service, as the order domain calls it. Every call is idempotent. */
export interface PaymentsPort {
  /**
   * Starts the order's payment, or answers the one started before. Throws a ConnectError
   * UNAVAILABLE while the provider (or the payment service) cannot be reached.
   */
  start(request: {
    orderId: string;
    amountMinor: bigint;
    currencyCode: string;
    cardToken: string;
    returnUrl: string;
    /** Taken as it is authorized (automatic capture): CAPTURED, no `capture` call. */
    capture: boolean;
  }): Promise<CardPayment>;
  /** The order's payment, if one was started. */
  ofOrder(orderId: string): Promise<CardPayment | undefined>;
  capture(paymentId: string): Promise<CardPayment>;
  /** Voids an authorization (REQUIRES_ACTION or AUTHORIZED). */
  cancel(paymentId: string): Promise<CardPayment>;
  refund(request: {
    paymentId: string;
    refundKey: string;
    currencyCode: string;
    amountMinor: bigint;
  }): Promise<CardPayment>;
}

/** How many times checkout asks a provider that cannot be reached before it gives up. */
const startAttempts = 3;

/**
 * Starts the payment, repeating while the provider cannot be reached; undefined when it stayed
 * unreachable. Repeats are safe: the payment service starts one payment per order.
 */
export async function startPayment(
  payments: PaymentsPort,
  request: Parameters<PaymentsPort["start"]>[0],
): Promise<CardPayment | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await payments.start(request);
    } catch (error) {
      if (ConnectError.from(error).code !== Code.Unavailable) throw error;
      if (attempt >= startAttempts) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
}

/** The payment cannot be given back yet: the provider is still deciding. Retried later. */
export class PaymentStillProcessingError extends Error {
  override name = "PaymentStillProcessingError";
}

/**
 * Gives the buyer back `amountMinor` of the order's payment (a cancelled shop order's share),
 * or without an amount everything still held or taken (a cancelled order). Voids what is only
 * authorized, refunds what was captured — never more than is left of it — and does nothing when
 * no payment was started or nothing is left. Idempotent per refundKey, so after a crash it is
 * simply asked again; a payment still PROCESSING throws PaymentStillProcessingError. Answers
 * whether an authorization was voided and how much was refunded under the key.
 */
export async function returnPayment(
  payments: PaymentsPort,
  request: { orderId: string; refundKey: string; amountMinor?: bigint },
): Promise<{ voided: boolean; refundedMinor: bigint }> {
  const nothing = { voided: false, refundedMinor: 0n };
  const payment = await payments.ofOrder(request.orderId);
  if (!payment) return nothing;
  switch (payment.status) {
    case "REQUIRES_ACTION":
    case "AUTHORIZED":
      await payments.cancel(payment.id);
      return { voided: true, refundedMinor: 0n };
    case "PROCESSING":
      throw new PaymentStillProcessingError(`payment ${payment.id} of order ${request.orderId} is still processing`);
    case "CAPTURED":
    case "PARTIALLY_REFUNDED": {
      const earlier = payment.refunds.find((refund) => refund.refundKey === request.refundKey);
      if (earlier) return { voided: false, refundedMinor: earlier.amountMinor };
      const left = payment.capturedMinor - payment.refundedMinor;
      const amountMinor = request.amountMinor === undefined || request.amountMinor > left ? left : request.amountMinor;
      if (amountMinor <= 0n) return nothing;
      const refund = { paymentId: payment.id, refundKey: request.refundKey, currencyCode: payment.currencyCode };
      await payments.refund({ ...refund, amountMinor });
      return { voided: false, refundedMinor: amountMinor };
    }
    case "CANCELED":
      // Voided already (by an earlier attempt of this very step, or the buyer's bank).
      return { voided: true, refundedMinor: 0n };
    default: {
      // FAILED: nothing was held; REFUNDED: everything went back under other keys, or this one.
      const earlier = payment.refunds.find((refund) => refund.refundKey === request.refundKey);
      return { voided: false, refundedMinor: earlier?.amountMinor ?? 0n };
    }
  }
}
