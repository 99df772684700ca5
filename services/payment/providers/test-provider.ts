// The built-in test provider: card tokens choose the outcome, as a real provider's test mode
// does, so checkout, 3-D Secure, declines and late confirmations can be exercised without an
// account anywhere.
//   tok_visa            authorizes at once (or, started with `capture`, is taken at once)
//   tok_threeDSecure    REQUIRES_ACTION with a redirect to the edge's test page (/pay/test/<id>);
//                       Approve → AUTHORIZED, Decline → FAILED, each followed by a signed webhook
//   tok_delayedSuccess  PROCESSING; after `delayMs` it turns AUTHORIZED by itself and sends its
//                       webhook (the late-success path); it cannot be cancelled meanwhile
//   tok_chargeDeclined  FAILED, "the card was declined"
//   tok_unavailable     throws ProviderUnavailableError (the provider cannot be reached)
// A payment started with `capture` (automatic capture) turns CAPTURED wherever the list says
// AUTHORIZED, and its webhook says payment.captured.
// Its state lives in the payment database (test_provider_* tables), keyed by Bazaar payment id,
// so every call is idempotent per payment id (and per refund key) as a real provider's
// idempotency keys are, and a restart of the payment service loses nothing. Webhooks are queued
// in the same transaction as the change they announce and POSTed by runDue(), a leased job, with
// backoff until the receiver answers 2xx.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import { inTransaction } from "../../kit/db.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { PaymentDatabase } from "../db/database.ts";
import {
  dueTestSettlements,
  dueTestWebhooks,
  enqueueTestWebhook,
  findTestPayment,
  findTestRefund,
  insertTestPayment,
  insertTestRefund,
  markTestWebhookDelivered,
  markTestWebhookFailed,
  moveTestPayment,
  type TestPayment,
} from "../db/test-provider.repository.ts";
import { IllegalPaymentStatusError, PaymentNotFoundError } from "../domain/payment.ts";
import {
  ProviderUnavailableError,
  WebhookSignatureError,
  type PaymentProvider,
  type ProviderPayment,
  type ProviderWebhookEvent,
} from "../domain/provider.ts";

export const testSignatureHeader = "bazaar-test-signature";
/** How old a webhook's timestamp may be, either way, before it is refused as a replay. */
export const webhookToleranceSeconds = 5 * 60;
export const declinedBy3ds = "the card was declined (3-D Secure declined)";

/** Sends one webhook; answers the HTTP status (a throw counts as a failed attempt). */
export type WebhookSender = (url: string, body: string, headers: Record<string, string>) => Promise<number>;

export interface TestProviderOptions {
  /**
   * The payment database through a pool of its own: a real provider is another system, and the
   * payment service holds a payment's row lock (and a connection of its pool) across provider
   * calls, so a provider drawing on the same pool could wait for ever under load.
   */
  db: Kysely<PaymentDatabase>;
  /** Base of the 3-D Secure page: `${edgeUrl}/pay/test/<paymentId>`. */
  edgeUrl: string;
  webhookSecret: string;
  /** Where webhooks go; `${edgeUrl}/v1/webhooks/test` when absent. */
  webhookUrl?: string;
  /** How long tok_delayedSuccess stays PROCESSING; 5000 when absent. */
  delayMs?: number;
  /** How webhooks are POSTed; fetch with a 5 s timeout when absent. */
  send?: WebhookSender;
}

/** What the hosted test page shows. */
export interface TestCheckout {
  paymentId: string;
  currencyCode: string;
  amountMinor: bigint;
  status: ProviderPayment["status"];
  returnUrl: string;
}

export interface TestProvider extends PaymentProvider {
  /** The payment behind a test page; PaymentNotFoundError when the provider has none. */
  checkout(paymentId: string): Promise<TestCheckout>;
  /** The buyer's answer on the page; IllegalPaymentStatusError unless it is REQUIRES_ACTION. */
  confirm(paymentId: string, approve: boolean): Promise<TestCheckout>;
  /** Settles due delayed payments and delivers due webhooks (the provider's own background job). */
  runDue(): Promise<{ settled: number; delivered: number; failed: number }>;
}

/** Retry delay after `attempts` failed deliveries: 1 s, 2 s, 4 s … at most 5 minutes. */
export function webhookBackoffMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.min(attempts, 20), 5 * 60_000);
}

const fetchSender: WebhookSender = async (url, body, headers) => {
  const response = await fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(5_000) });
  await response.arrayBuffer().catch(() => undefined);
  return response.status;
};

export function createTestProvider(options: TestProviderOptions): TestProvider {
  const { db } = options;
  const edgeUrl = options.edgeUrl.replace(/\/$/, "");
  const webhookUrl = options.webhookUrl ?? `${edgeUrl}/v1/webhooks/test`;
  const delayMs = options.delayMs ?? 5_000;
  const send = options.send ?? fetchSender;

  const find = async (paymentId: string): Promise<TestPayment> => {
    const stored = await findTestPayment(db, paymentId);
    if (!stored) throw new ProviderUnavailableError(`test provider: no payment ${paymentId}`);
    return stored;
  };
  const current = async (paymentId: string) => viewOf(await find(paymentId));
  /** Queues the webhook announcing where a payment now stands (in the caller's transaction). */
  const announce = (trx: Parameters<typeof enqueueTestWebhook>[0], payment: TestPayment, type: string) => {
    const eventId = `evt_test_${uuidv7()}`;
    const body = JSON.stringify({
      id: eventId,
      type,
      payment_id: payment.paymentId,
      provider_payment_id: payment.providerPaymentId,
      created: Math.floor(Date.now() / 1000),
    });
    return enqueueTestWebhook(trx, { eventId, paymentId: payment.paymentId, body });
  };
  const checkoutOf = (payment: TestPayment): TestCheckout => ({
    paymentId: payment.paymentId,
    currencyCode: payment.currencyCode,
    amountMinor: payment.amountMinor,
    status: payment.status,
    returnUrl: payment.returnUrl,
  });

  return {
    name: "test",
    async authorize(request) {
      const base = {
        paymentId: request.paymentId,
        providerPaymentId: `test_pi_${request.paymentId}`,
        currencyCode: request.currencyCode,
        amountMinor: request.amountMinor,
        failureReason: "",
        redirectUrl: "",
        returnUrl: request.returnUrl ?? "",
        captureAtOnce: request.capture ?? false,
        capturedMinor: 0n,
      };
      let payment: Omit<TestPayment, "refundedMinor">;
      let settleAfterMs: number | undefined;
      switch (request.paymentMethodToken) {
        case "tok_unavailable":
          throw new ProviderUnavailableError("test provider: tok_unavailable");
        case "tok_chargeDeclined":
          payment = { ...base, status: "FAILED", failureReason: "the card was declined" };
          break;
        case "tok_threeDSecure":
          payment = { ...base, status: "REQUIRES_ACTION", redirectUrl: `${edgeUrl}/pay/test/${request.paymentId}` };
          break;
        case "tok_delayedSuccess":
          payment = { ...base, status: "PROCESSING" };
          settleAfterMs = delayMs;
          break;
        case "tok_visa":
          payment = base.captureAtOnce
            ? { ...base, status: "CAPTURED", capturedMinor: request.amountMinor }
            : { ...base, status: "AUTHORIZED" };
          break;
        default:
          payment = { ...base, status: "FAILED", failureReason: "the card token is not known" };
      }
      // A repeat for a payment it already has answers where that payment stands now.
      if (!(await insertTestPayment(db, payment, settleAfterMs))) return current(request.paymentId);
      return viewOf({ ...payment, refundedMinor: 0n });
    },
    async capture(request) {
      await moveTestPayment(db, request.paymentId, ["AUTHORIZED"], "CAPTURED", {
        capturedMinor: request.amountMinor ?? "whole amount",
      });
      return current(request.paymentId);
    },
    async cancel(request) {
      await find(request.paymentId);
      // PROCESSING is not cancellable: the answer shows it unchanged, as Stripe's does.
      await moveTestPayment(db, request.paymentId, ["AUTHORIZED", "REQUIRES_ACTION"], "CANCELED");
      return current(request.paymentId);
    },
    async refund(request) {
      await find(request.paymentId);
      return inTransaction(db, async (trx) => {
        const payment = (await findTestPayment(trx, request.paymentId, { lock: true }))!;
        const known = await findTestRefund(trx, request.paymentId, request.refundKey);
        const providerRefundId = `test_re_${request.refundKey}`;
        if (known) return { providerRefundId, status: known.status };
        const left = payment.capturedMinor - payment.refundedMinor;
        const status = payment.status === "CAPTURED" && request.amountMinor <= left ? "SUCCEEDED" : "FAILED";
        await insertTestRefund(trx, {
          refundKey: request.refundKey,
          paymentId: request.paymentId,
          amountMinor: request.amountMinor,
          status,
        });
        return { providerRefundId, status };
      });
    },
    async retrieve(request) {
      return current(request.paymentId);
    },
    verifyWebhook(rawBody, headers, nowMs = Date.now()) {
      verifyTestSignature(rawBody, headers[testSignatureHeader], options.webhookSecret, nowMs);
      return readTestEvent(rawBody);
    },
    async checkout(paymentId) {
      const payment = await findTestPayment(db, paymentId);
      if (!payment) throw new PaymentNotFoundError(paymentId);
      return checkoutOf(payment);
    },
    async confirm(paymentId, approve) {
      return inTransaction(db, async (trx) => {
        const payment = await findTestPayment(trx, paymentId, { lock: true });
        if (!payment) throw new PaymentNotFoundError(paymentId);
        if (payment.status !== "REQUIRES_ACTION") {
          throw new IllegalPaymentStatusError(paymentId, payment.status, "confirmed on the test page");
        }
        const approved = authorizedStatusOf(payment);
        const to = approve ? approved : "FAILED";
        await moveTestPayment(
          trx,
          paymentId,
          ["REQUIRES_ACTION"],
          to,
          approve ? authorizedSetOf(payment) : { failureReason: declinedBy3ds },
        );
        const moved = { ...payment, status: to, redirectUrl: "" } as TestPayment;
        await announce(trx, moved, approve ? webhookTypeOf(approved) : "payment.failed");
        return checkoutOf(moved);
      });
    },
    async runDue() {
      let settled = 0;
      for (const paymentId of await dueTestSettlements(db, 100)) {
        const moved = await inTransaction(db, async (trx) => {
          const payment = await findTestPayment(trx, paymentId, { lock: true });
          if (!payment) return false;
          const to = authorizedStatusOf(payment);
          if (!(await moveTestPayment(trx, paymentId, ["PROCESSING"], to, authorizedSetOf(payment)))) return false;
          await announce(trx, { ...payment, status: to }, webhookTypeOf(to));
          return true;
        });
        if (moved) settled++;
      }
      let delivered = 0;
      let failed = 0;
      for (const webhook of await dueTestWebhooks(db, 50)) {
        const body = Buffer.from(webhook.body);
        const headers = {
          "content-type": "application/json",
          [testSignatureHeader]: signTestWebhook(body, options.webhookSecret),
        };
        let outcome: string;
        try {
          const status = await send(webhookUrl, webhook.body, headers);
          outcome = status >= 200 && status < 300 ? "" : `HTTP ${status}`;
        } catch (error) {
          outcome = error instanceof Error ? error.message : String(error);
        }
        if (outcome === "") {
          await markTestWebhookDelivered(db, webhook.eventId);
          delivered++;
        } else {
          await markTestWebhookFailed(db, webhook.eventId, outcome, webhookBackoffMs(webhook.attempts));
          failed++;
        }
      }
      return { settled, delivered, failed };
    },
  };
}

/** Where an approved payment goes: taken at once with automatic capture, else held for capture. */
function authorizedStatusOf(payment: TestPayment): "AUTHORIZED" | "CAPTURED" {
  return payment.captureAtOnce ? "CAPTURED" : "AUTHORIZED";
}

function authorizedSetOf(payment: TestPayment): { capturedMinor?: "whole amount" } {
  return payment.captureAtOnce ? { capturedMinor: "whole amount" } : {};
}

function webhookTypeOf(status: "AUTHORIZED" | "CAPTURED"): "payment.authorized" | "payment.captured" {
  return status === "CAPTURED" ? "payment.captured" : "payment.authorized";
}

function viewOf(payment: TestPayment): ProviderPayment {
  return {
    providerPaymentId: payment.providerPaymentId,
    status: payment.status,
    ...(payment.status === "REQUIRES_ACTION" ? { nextAction: { redirectUrl: payment.redirectUrl } } : {}),
    ...(payment.failureReason ? { failureReason: payment.failureReason } : {}),
    amountCapturedMinor: payment.capturedMinor,
    amountRefundedMinor: payment.refundedMinor,
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
