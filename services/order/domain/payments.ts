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
   * Voids or refunds whatever was authorized for the order; nothing when nothing was. Safe to
   * repeat, and safe when it is unknown whether an authorization happened (a crash mid-checkout).
   */
  refund(request: { orderId: string }): Promise<void>;
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
