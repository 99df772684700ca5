// What the payment service needs from a card payment provider (the built-in test provider,
// Stripe). Every call is idempotent per Bazaar payment id (and per refund key for refunds), as
// the providers' own idempotency keys are, so a call whose outcome is unknown is simply repeated.

/** A payment as the provider sees it. Amounts are exact, in minor units. */
export interface ProviderPayment {
  /** The provider's own id (a Stripe PaymentIntent id, `pi_…`). */
  providerPaymentId: string;
  status: "REQUIRES_ACTION" | "PROCESSING" | "AUTHORIZED" | "CAPTURED" | "FAILED" | "CANCELED";
  /** What the buyer must do next while REQUIRES_ACTION (3-D Secure). */
  nextAction?: { redirectUrl?: string; clientSecret?: string };
  /** Why, when FAILED (a decline), in words a buyer may read. */
  failureReason?: string;
  amountCapturedMinor: bigint;
  amountRefundedMinor: bigint;
}

export interface ProviderRefund {
  providerRefundId: string;
  status: "SUCCEEDED" | "PENDING" | "FAILED";
}

/** A verified webhook, in the provider-neutral terms the payment service acts on. */
export interface ProviderWebhookEvent {
  /** The provider's event id: a replay of the same id is applied once. */
  eventId: string;
  type:
    | "payment.requires_action"
    | "payment.authorized"
    | "payment.captured"
    | "payment.failed"
    | "payment.canceled"
    | "refund.succeeded"
    | "refund.failed"
    /** Anything else the provider sends: acknowledged and ignored. */
    | "other";
  providerPaymentId: string;
  /** The Bazaar payment id, when the provider echoes it back (metadata). */
  paymentId?: string;
  /** The payment as of the event, when the event carries it. */
  payment?: ProviderPayment;
}

export interface PaymentProvider {
  /** "test" or "stripe": the {provider} of POST /v1/webhooks/{provider}. */
  readonly name: string;
  /**
   * Starts a payment: with manual capture (AUTHORIZED, then `capture`), or with `capture` taken
   * as it is authorized (CAPTURED; after the buyer confirms, for 3-D Secure). Declines come back
   * as status FAILED with a reason; a provider that cannot be reached throws
   * ProviderUnavailableError.
   */
  authorize(request: {
    paymentId: string;
    orderId: string;
    amountMinor: bigint;
    currencyCode: string;
    /** A card token or payment method id (tok_visa, pm_…). */
    paymentMethodToken: string;
    /** Where a 3-D Secure page sends the buyer back to. */
    returnUrl?: string;
    /** Take the payment as it is authorized (automatic capture). */
    capture?: boolean;
  }): Promise<ProviderPayment>;
  /** Captures what was authorized (all of it unless amountMinor is given). */
  capture(request: { paymentId: string; providerPaymentId: string; amountMinor?: bigint }): Promise<ProviderPayment>;
  /** Voids an authorization that was not captured. */
  cancel(request: { paymentId: string; providerPaymentId: string }): Promise<ProviderPayment>;
  /** Refunds part or all of a captured payment; idempotent per refundKey. */
  refund(request: {
    paymentId: string;
    providerPaymentId: string;
    refundKey: string;
    amountMinor: bigint;
  }): Promise<ProviderRefund>;
  /** The payment as the provider sees it now (reconciliation). */
  retrieve(request: { paymentId: string; providerPaymentId: string }): Promise<ProviderPayment>;
  /**
   * Checks a webhook's signature over the raw body (with the provider's timestamp tolerance) and
   * reads it; throws WebhookSignatureError when it is forged, stale or unreadable.
   */
  verifyWebhook(rawBody: Buffer, headers: Record<string, string | undefined>, nowMs?: number): ProviderWebhookEvent;
}

/** The provider could not be reached or failed; the call may be repeated. */
export class ProviderUnavailableError extends Error {
  override name = "ProviderUnavailableError";
}

/** A webhook whose signature does not verify: answered 400, nothing stored. */
export class WebhookSignatureError extends Error {
  override name = "WebhookSignatureError";
}
