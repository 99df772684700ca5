// Taking payment. Providers sit behind this interface; the built-in test provider behaves by
// card token the way public payment sandboxes do.

export type PaymentOutcome =
  | { kind: "authorized"; reference: string }
  | { kind: "declined"; reason: string }
  /** The provider could not be reached or failed; the attempt may be retried. */
  | { kind: "unavailable"; reason: string };

export interface PaymentProvider {
  /** Idempotent per order id, like the providers' own idempotency keys. */
  authorize(request: {
    orderId: string;
    amountMinor: bigint;
    currencyCode: string;
    cardToken: string;
  }): Promise<PaymentOutcome>;
  /**
   * Refunds `amountMinor` of the order's payment (a cancelled shop order's share, or the rest of
   * a cancelled order); without an amount, voids or refunds whatever is still authorized, and
   * nothing when nothing was — safe when it is unknown whether an authorization happened (a
   * crash mid-checkout). Idempotent per refundKey, like the providers' own idempotency keys:
   * the order service asks again after a crash and the buyer is refunded once.
   */
  refund(request: { orderId: string; refundKey: string; amountMinor?: bigint }): Promise<void>;
}

/** tok_visa approves, tok_chargeDeclined declines, tok_unavailable fails as if the provider were down. */
export function createTestPaymentProvider(): PaymentProvider {
  return {
    async authorize({ orderId, cardToken }) {
      switch (cardToken) {
        case "tok_visa":
          return { kind: "authorized", reference: `test_auth_${orderId.slice(-12)}` };
        case "tok_unavailable":
          return { kind: "unavailable", reason: "the payment provider is unavailable" };
        default:
          return { kind: "declined", reason: "the card was declined" };
      }
    },
    async refund() {},
  };
}
