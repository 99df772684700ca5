// The built-in test provider: card tokens choose the outcome, as a real provider's test mode
// does, so checkout, 3-D Secure and declines can be exercised without an account anywhere.
//   tok_visa           authorizes at once
//   tok_threeDSecure   REQUIRES_ACTION with a redirect to the edge's test page
//   tok_chargeDeclined FAILED, "the card was declined"
//   tok_unavailable    throws ProviderUnavailableError (the provider cannot be reached)
// Its state lives in this process's memory, keyed by Bazaar payment id, so every call is
// idempotent per payment id (and per refund key) as a real provider's idempotency keys are.
import { createHmac, timingSafeEqual } from "node:crypto";
import {
  ProviderUnavailableError,
  WebhookSignatureError,
  type PaymentProvider,
  type ProviderPayment,
  type ProviderRefund,
  type ProviderWebhookEvent,
} from "../domain/provider.ts";

export const testSignatureHeader = "bazaar-test-signature";
/** How old a webhook's timestamp may be, either way, before it is refused as a replay. */
export const webhookToleranceSeconds = 5 * 60;

export interface TestProviderOptions {
  /** Base of the 3-D Secure page: `${edgeUrl}/pay/test/<paymentId>`. */
  edgeUrl: string;
  webhookSecret: string;
}

interface Stored {
  payment: ProviderPayment;
  amountMinor: bigint;
  refunds: Map<string, { refund: ProviderRefund; amountMinor: bigint }>;
}

export function createTestProvider(options: TestProviderOptions): PaymentProvider {
  const payments = new Map<string, Stored>();
  const find = (paymentId: string): Stored => {
    const stored = payments.get(paymentId);
    if (!stored) throw new ProviderUnavailableError(`test provider: no payment ${paymentId}`);
    return stored;
  };
  const snapshot = (stored: Stored): ProviderPayment => structuredClone(stored.payment);

  return {
    name: "test",
    async authorize(request) {
      const known = payments.get(request.paymentId);
      if (known) return snapshot(known);
      const base = {
        providerPaymentId: `test_pi_${request.paymentId}`,
        amountCapturedMinor: 0n,
        amountRefundedMinor: 0n,
      };
      let payment: ProviderPayment;
      switch (request.paymentMethodToken) {
        case "tok_unavailable":
          throw new ProviderUnavailableError("test provider: tok_unavailable");
        case "tok_chargeDeclined":
          payment = { ...base, status: "FAILED", failureReason: "the card was declined" };
          break;
        case "tok_threeDSecure":
          payment = {
            ...base,
            status: "REQUIRES_ACTION",
            nextAction: { redirectUrl: `${options.edgeUrl.replace(/\/$/, "")}/pay/test/${request.paymentId}` },
          };
          break;
        case "tok_visa":
          payment = { ...base, status: "AUTHORIZED" };
          break;
        default:
          payment = { ...base, status: "FAILED", failureReason: "the card token is not known" };
      }
      payments.set(request.paymentId, { payment, amountMinor: request.amountMinor, refunds: new Map() });
      return structuredClone(payment);
    },
    async capture(request) {
      const stored = find(request.paymentId);
      if (stored.payment.status === "AUTHORIZED") {
        stored.payment.status = "CAPTURED";
        stored.payment.amountCapturedMinor = request.amountMinor ?? stored.amountMinor;
      }
      return snapshot(stored);
    },
    async cancel(request) {
      const stored = find(request.paymentId);
      if (stored.payment.status === "AUTHORIZED" || stored.payment.status === "REQUIRES_ACTION") {
        stored.payment.status = "CANCELED";
        delete stored.payment.nextAction;
      }
      return snapshot(stored);
    },
    async refund(request) {
      const stored = find(request.paymentId);
      const known = stored.refunds.get(request.refundKey);
      if (known) return { ...known.refund };
      const refundable = stored.payment.amountCapturedMinor - stored.payment.amountRefundedMinor;
      const status = request.amountMinor <= refundable ? "SUCCEEDED" : "FAILED";
      const refund: ProviderRefund = { providerRefundId: `test_re_${request.refundKey}`, status };
      if (status === "SUCCEEDED") stored.payment.amountRefundedMinor += request.amountMinor;
      stored.refunds.set(request.refundKey, { refund, amountMinor: request.amountMinor });
      return { ...refund };
    },
    async retrieve(request) {
      return snapshot(find(request.paymentId));
    },
    verifyWebhook(rawBody, headers, nowMs = Date.now()) {
      verifyTestSignature(rawBody, headers[testSignatureHeader], options.webhookSecret, nowMs);
      return readTestEvent(rawBody);
    },
  };
}

/** The header value a test webhook carries: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export function signTestWebhook(rawBody: Buffer, secret: string, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${hmac(secret, t, rawBody)}`;
}

function hmac(secret: string, t: number, rawBody: Buffer): string {
  return createHmac("sha256", secret).update(`${t}.`).update(rawBody).digest("hex");
}

function verifyTestSignature(rawBody: Buffer, header: string | undefined, secret: string, nowMs: number): void {
  if (!header) throw new WebhookSignatureError(`${testSignatureHeader} header is missing`);
  const parts = new Map(
    header.split(",").map((part) => {
      const at = part.indexOf("=");
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get("t"));
  const given = parts.get("v1") ?? "";
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(given)) {
    throw new WebhookSignatureError(`${testSignatureHeader} header is malformed`);
  }
  // The timestamp is signed too, so a captured webhook cannot be replayed with a fresh one.
  if (Math.abs(nowMs / 1000 - t) > webhookToleranceSeconds) {
    throw new WebhookSignatureError("webhook timestamp is outside the tolerance");
  }
  const expected = Buffer.from(hmac(secret, t, rawBody), "hex");
  if (!timingSafeEqual(expected, Buffer.from(given, "hex"))) {
    throw new WebhookSignatureError("webhook signature does not match");
  }
}

const eventTypes = new Set<ProviderWebhookEvent["type"]>([
  "payment.requires_action",
  "payment.authorized",
  "payment.captured",
  "payment.failed",
  "payment.canceled",
  "refund.succeeded",
  "refund.failed",
]);

/** A test webhook's body: `{"id", "type", "payment_id", "provider_payment_id"}`. */
function readTestEvent(rawBody: Buffer): ProviderWebhookEvent {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(rawBody.toString("utf8")) as Record<string, unknown>;
  } catch {
    throw new WebhookSignatureError("webhook body is not JSON");
  }
  const text = (key: string) => (typeof body[key] === "string" ? (body[key] as string) : "");
  if (!text("id") || !text("provider_payment_id")) throw new WebhookSignatureError("webhook body lacks id");
  const type = text("type") as ProviderWebhookEvent["type"];
  return {
    eventId: text("id"),
    type: eventTypes.has(type) ? type : "other",
    providerPaymentId: text("provider_payment_id"),
    ...(text("payment_id") ? { paymentId: text("payment_id") } : {}),
  };
}
