// The Stripe card provider: PaymentIntents with manual or automatic capture through the official
// SDK. Every call carries a Stripe idempotency key derived from the Bazaar payment id (refunds:
// the refund key), so a call whose outcome is unknown is simply repeated and Stripe answers it once.
import Stripe from "stripe";
import {
  type PaymentProvider,
  type ProviderPayment,
  type ProviderRefund,
  ProviderUnavailableError,
  type ProviderWebhookEvent,
  WebhookSignatureError,
} from "../domain/provider.ts";

export interface StripeProviderOptions {
  secretKey: string;
  webhookSecret: string;
  /** Where the API is (the local stand-in in tests); api.stripe.com over https when absent. */
  apiBase?: { host: string; port: number; protocol: "http" | "https" };
  timeoutMs: number;
  /** The SDK's own retries of a failed connection (safe: every call has an idempotency key). */
  maxNetworkRetries?: number;
}

/** Stripe's documented default: a signature older than five minutes is refused. */
const WEBHOOK_TOLERANCE_SECONDS = 300;

export function createStripeProvider(options: StripeProviderOptions): PaymentProvider {
  const stripe = new Stripe(options.secretKey, {
    timeout: options.timeoutMs,
    maxNetworkRetries: options.maxNetworkRetries ?? 0,
    ...(options.apiBase ?? {}),
  });
  // The charge tells how much was refunded; the PaymentIntent alone does not.
  const expand = ["latest_charge"];

  return {
    name: "stripe",

    async authorize(request) {
      const params: Stripe.PaymentIntentCreateParams = {
        amount: toStripeAmount(request.amountMinor),
        currency: request.currencyCode.toLowerCase(),
        capture_method: request.capture ? "automatic" : "manual",
        confirm: true,
        // Cards only: no redirect-based methods whose confirmation would need a return_url.
        allowed_payment_method_types: ["card"],
        payment_method: request.paymentMethodToken,
        metadata: { payment_id: request.paymentId, order_id: request.orderId },
        expand,
        ...(request.returnUrl ? { return_url: request.returnUrl } : {}),
      };
      try {
        const intent = await stripe.paymentIntents.create(params, { idempotencyKey: `pay_${request.paymentId}` });
        return toProviderPayment(intent);
      } catch (error) {
        // A decline answers 402 with the PaymentIntent it left in requires_payment_method.
        if (error instanceof Stripe.errors.StripeCardError) {
          const intent = error.payment_intent;
          return {
            providerPaymentId: intent?.id ?? "",
            status: "FAILED",
            failureReason: error.message,
            amountCapturedMinor: 0n,
            amountRefundedMinor: 0n,
          };
        }
        throw unavailableOr(error);
      }
    },

    async capture(request) {
      const params: Stripe.PaymentIntentCaptureParams = { expand };
      if (request.amountMinor !== undefined) params.amount_to_capture = toStripeAmount(request.amountMinor);
      return call(async () =>
        toProviderPayment(
          await stripe.paymentIntents.capture(request.providerPaymentId, params, {
            idempotencyKey: `capture_${request.paymentId}`,
          }),
        ),
      );
    },

    async cancel(request) {
      return call(async () =>
        toProviderPayment(
          await stripe.paymentIntents.cancel(
            request.providerPaymentId,
            { expand },
            { idempotencyKey: `cancel_${request.paymentId}` },
          ),
        ),
      );
    },

    async refund(request) {
      const params: Stripe.RefundCreateParams = {
        payment_intent: request.providerPaymentId,
        amount: toStripeAmount(request.amountMinor),
        metadata: { payment_id: request.paymentId, refund_key: request.refundKey },
      };
      return call(async () =>
        toProviderRefund(await stripe.refunds.create(params, { idempotencyKey: `refund_${request.refundKey}` })),
      );
    },

    async retrieve(request) {
      return call(async () =>
        toProviderPayment(await stripe.paymentIntents.retrieve(request.providerPaymentId, { expand })),
      );
    },

    verifyWebhook(rawBody, headers, nowMs) {
      const signature = headers["stripe-signature"];
      if (!signature) throw new WebhookSignatureError("missing Stripe-Signature header");
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(
          rawBody,
          signature,
          options.webhookSecret,
          WEBHOOK_TOLERANCE_SECONDS,
          undefined,
          nowMs,
        );
      } catch (error) {
        throw new WebhookSignatureError(error instanceof Error ? error.message : String(error));
      }
      return toWebhookEvent(event);
    },
  };
}

/** Named errors the caller may repeat the call after; anything else (4xx: our bug) as is. */
function unavailableOr(error: unknown): unknown {
  if (
    error instanceof Stripe.errors.StripeConnectionError ||
    error instanceof Stripe.errors.StripeAPIError ||
    error instanceof Stripe.errors.StripeRateLimitError ||
    (error instanceof Stripe.errors.StripeError && (error.statusCode ?? 0) >= 500)
  ) {
    return new ProviderUnavailableError(`stripe: ${error.message}`, { cause: error });
  }
  return error;
}

async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw unavailableOr(error);
  }
}

function toStripeAmount(amountMinor: bigint): number {
  // Stripe amounts are integers in minor units well below 2^53 (its maximum is 8 digits).
  if (amountMinor <= 0n || amountMinor > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`amount out of range: ${amountMinor}`);
  }
  return Number(amountMinor);
}

export function toProviderPayment(intent: Stripe.PaymentIntent): ProviderPayment {
  const charge = typeof intent.latest_charge === "object" ? intent.latest_charge : null;
  const payment: ProviderPayment = {
    providerPaymentId: intent.id,
    status: "FAILED",
    amountCapturedMinor: BigInt(intent.amount_received ?? 0),
    amountRefundedMinor: BigInt(charge?.amount_refunded ?? 0),
  };
  switch (intent.status) {
    case "requires_action": {
      payment.status = "REQUIRES_ACTION";
      const redirectUrl = intent.next_action?.redirect_to_url?.url ?? undefined;
      payment.nextAction = {
        ...(redirectUrl ? { redirectUrl } : {}),
        ...(intent.client_secret ? { clientSecret: intent.client_secret } : {}),
      };
      break;
    }
    case "requires_capture":
      payment.status = "AUTHORIZED";
      break;
    case "succeeded":
      payment.status = "CAPTURED";
      break;
    case "canceled":
      payment.status = "CANCELED";
      break;
    case "processing":
      // Stripe is still deciding; its webhook or reconciliation settles it.
      payment.status = "PROCESSING";
      break;
    default:
      // requires_payment_method after a confirm is a decline; requires_confirmation does not
      // happen for confirm=true card payments.
      payment.status = "FAILED";
      payment.failureReason = intent.last_payment_error?.message ?? `payment intent is ${intent.status}`;
  }
  return payment;
}

function toProviderRefund(refund: Stripe.Refund): ProviderRefund {
  const status = refund.status === "succeeded" ? "SUCCEEDED" : refund.status === "failed" ? "FAILED" : "PENDING";
  return { providerRefundId: refund.id, status };
}

const PAYMENT_EVENTS: Record<string, ProviderWebhookEvent["type"]> = {
  "payment_intent.requires_action": "payment.requires_action",
  "payment_intent.amount_capturable_updated": "payment.authorized",
  "payment_intent.succeeded": "payment.captured",
  "payment_intent.payment_failed": "payment.failed",
  "payment_intent.canceled": "payment.canceled",
};

export function toWebhookEvent(event: Stripe.Event): ProviderWebhookEvent {
  const object = event.data.object as { object?: string };
  const mapped = PAYMENT_EVENTS[event.type];
  if (mapped && object.object === "payment_intent") {
    const intent = object as Stripe.PaymentIntent;
    return {
      eventId: event.id,
      type: mapped,
      providerPaymentId: intent.id,
      ...(intent.metadata?.payment_id ? { paymentId: intent.metadata.payment_id } : {}),
      payment: toProviderPayment(intent),
    };
  }
  if (event.type === "charge.refunded" && object.object === "charge") {
    const charge = object as Stripe.Charge;
    return {
      eventId: event.id,
      type: "refund.succeeded",
      providerPaymentId: idOf(charge.payment_intent),
      ...(charge.metadata?.payment_id ? { paymentId: charge.metadata.payment_id } : {}),
    };
  }
  if ((event.type === "refund.updated" || event.type === "refund.failed") && object.object === "refund") {
    const refund = object as Stripe.Refund;
    const type =
      refund.status === "succeeded" ? "refund.succeeded" : refund.status === "failed" ? "refund.failed" : "other";
    return {
      eventId: event.id,
      type,
      providerPaymentId: idOf(refund.payment_intent),
      ...(refund.metadata?.payment_id ? { paymentId: refund.metadata.payment_id } : {}),
    };
  }
  const id = (object as { id?: string }).id ?? "";
  return { eventId: event.id, type: "other", providerPaymentId: id };
}

function idOf(value: string | { id: string } | null | undefined): string {
  return typeof value === "string" ? value : (value?.id ?? "");
}
