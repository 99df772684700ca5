// The refund key AdminService.RefundPayment hands the payment service. Refund keys are unique
// over all payments, and checkout uses order and shop order ids as its keys: the "admin:" prefix
// keeps an admin's key (even an order id typed as a key) from ever naming checkout's refund.
import { createHash } from "node:crypto";

export interface AdminRefund {
  paymentId: string;
  currencyCode: string;
  amountMinor: bigint;
  /** Trimmed. */
  reason: string;
  /** The admin's own key; empty when they gave none. */
  refundKey: string;
}

/**
 * The admin's key behind the prefix; without one, a key derived from what the refund is
 * (payment, amount, reason), so a retried HTTP request refunds once. Given keys cannot hold ":"
 * (the contract's pattern), so they never collide with a derived one.
 */
export function paymentRefundKey(refund: AdminRefund): string {
  if (refund.refundKey) return `admin:${refund.refundKey}`;
  const digest = createHash("sha256")
    .update(JSON.stringify([refund.paymentId, refund.currencyCode, String(refund.amountMinor), refund.reason]))
    .digest("hex");
  return `admin:derived:${digest}`;
}
