// The Stripe adapter over real HTTP. By default against the local stand-in; `npm run
// test:stripe` runs the same cases against Stripe test mode (STRIPE_SECRET_KEY, sk_test_…),
// skipping only what needs the stand-in's hooks (finishing 3-D Secure, a forced 500).
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PaymentProvider, ProviderUnavailableError, WebhookSignatureError } from "../domain/provider.ts";
import { createStripeProvider, toWebhookEvent } from "./stripe.ts";
import { type StripeStandIn, startStripeStandIn } from "./stripe-stand-in/stand-in.ts";

const live = process.env.BAZAAR_STRIPE_TEST_MODE === "1";
const WEBHOOK_SECRET = "whsec_bazaar_test_secret";
const SECRET_KEY = live ? process.env.STRIPE_SECRET_KEY! : "sk_test_bazaar_stand_in";

let standIn: StripeStandIn | undefined;
let provider: PaymentProvider;

beforeAll(async () => {
  if (!live) standIn = await startStripeStandIn();
  provider = createStripeProvider({
    secretKey: SECRET_KEY,
    webhookSecret: WEBHOOK_SECRET,
    timeoutMs: 20_000,
    ...(standIn ? { apiBase: standIn.apiBase } : {}),
  });
});
afterAll(async () => {
  await standIn?.close();
});

function payment(token = "pm_card_visa", amountMinor = 2500n) {
  return {
    paymentId: randomUUID(),
    orderId: randomUUID(),
    amountMinor,
    currencyCode: "EUR",
    paymentMethodToken: token,
    returnUrl: "https://bazaar.example/checkout/return",
  };
}

describe("stripe provider: payments", () => {
  it("authorizes a visa card with manual capture, then captures it", async () => {
    const request = payment();
    const authorized = await provider.authorize(request);
    expect(authorized).toMatchObject({ status: "AUTHORIZED", amountCapturedMinor: 0n, amountRefundedMinor: 0n });
    expect(authorized.providerPaymentId).toMatch(/^pi_/);

    const captured = await provider.capture({
      paymentId: request.paymentId,
      providerPaymentId: authorized.providerPaymentId,
    });
    expect(captured).toMatchObject({ status: "CAPTURED", amountCapturedMinor: 2500n });
    const again = await provider.retrieve({
      paymentId: request.paymentId,
      providerPaymentId: authorized.providerPaymentId,
    });
    expect(again).toMatchObject({ status: "CAPTURED", amountCapturedMinor: 2500n, amountRefundedMinor: 0n });
  });

  it("takes a visa card at once with automatic capture", async () => {
    const request = { ...payment(), capture: true };
    const taken = await provider.authorize(request);
    expect(taken).toMatchObject({ status: "CAPTURED", amountCapturedMinor: 2500n, amountRefundedMinor: 0n });
    const again = await provider.retrieve({ paymentId: request.paymentId, providerPaymentId: taken.providerPaymentId });
    expect(again).toMatchObject({ status: "CAPTURED", amountCapturedMinor: 2500n });
  });

  it("captures part of an authorization", async () => {
    const request = payment();
    const { providerPaymentId } = await provider.authorize(request);
    const captured = await provider.capture({ paymentId: request.paymentId, providerPaymentId, amountMinor: 1000n });
    expect(captured).toMatchObject({ status: "CAPTURED", amountCapturedMinor: 1000n });
  });

  it("refunds part, then the rest; each refund key once; never more than captured", async () => {
    const request = payment();
    const { providerPaymentId } = await provider.authorize(request);
    await provider.capture({ paymentId: request.paymentId, providerPaymentId });

    const first = { paymentId: request.paymentId, providerPaymentId, refundKey: randomUUID(), amountMinor: 700n };
    const partial = await provider.refund(first);
    expect(partial).toMatchObject({ status: "SUCCEEDED" });
    expect(partial.providerRefundId).toMatch(/^re_/);
    // The same refund key again is the same refund, not a second one.
    expect(await provider.refund(first)).toEqual(partial);
    expect(await provider.retrieve({ paymentId: request.paymentId, providerPaymentId })).toMatchObject({
      amountRefundedMinor: 700n,
    });

    const rest = await provider.refund({ ...first, refundKey: randomUUID(), amountMinor: 1800n });
    expect(rest.status).toBe("SUCCEEDED");
    expect(await provider.retrieve({ paymentId: request.paymentId, providerPaymentId })).toMatchObject({
      status: "CAPTURED",
      amountRefundedMinor: 2500n,
    });
    // Stripe refuses more than is left; that is our bug (a 400), not an outage.
    const tooMuch = provider.refund({ ...first, refundKey: randomUUID(), amountMinor: 1n });
    await expect(tooMuch).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  });

  it("cancels an authorization that was not captured", async () => {
    const request = payment();
    const { providerPaymentId } = await provider.authorize(request);
    const canceled = await provider.cancel({ paymentId: request.paymentId, providerPaymentId });
    expect(canceled).toMatchObject({ status: "CANCELED", amountCapturedMinor: 0n });
  });

  it("answers a declined card as FAILED with the decline message", async () => {
    const failed = await provider.authorize(payment("pm_card_chargeDeclined"));
    expect(failed.status).toBe("FAILED");
    expect(failed.providerPaymentId).toMatch(/^pi_/);
    expect(failed.failureReason).toMatch(/declined/i);
    const seen = await provider.retrieve({ paymentId: "x", providerPaymentId: failed.providerPaymentId });
    expect(seen.status).toBe("FAILED");
    expect(seen.failureReason).toMatch(/declined/i);
  });

  it("asks for 3-D Secure with a redirect URL and the client secret", async () => {
    const request = payment("pm_card_threeDSecure2Required");
    const pending = await provider.authorize(request);
    expect(pending.status).toBe("REQUIRES_ACTION");
    expect(pending.nextAction?.redirectUrl).toMatch(/^https?:\/\//);
    expect(pending.nextAction?.clientSecret).toMatch(new RegExp(`^${pending.providerPaymentId}_secret_`));
    if (standIn) {
      standIn.completeAction(pending.providerPaymentId);
      const after = await provider.retrieve({
        paymentId: request.paymentId,
        providerPaymentId: pending.providerPaymentId,
      });
      expect(after.status).toBe("AUTHORIZED");
    }
  });

  it("authorizing the same payment id twice is one PaymentIntent", async () => {
    const request = payment();
    const first = await provider.authorize(request);
    const second = await provider.authorize(request);
    expect(second).toEqual(first);
    if (standIn) expect(standIn.executions(`pay_${request.paymentId}`)).toBe(1);
    // Different parameters under the same key: Stripe's idempotency_error, not a second payment.
    const changed = provider.authorize({ ...request, amountMinor: 9999n });
    await expect(changed).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
  });

  it("throws ProviderUnavailableError when Stripe cannot be reached", async () => {
    const port = await closedPort();
    const down = createStripeProvider({
      secretKey: SECRET_KEY,
      webhookSecret: WEBHOOK_SECRET,
      timeoutMs: 2_000,
      apiBase: { host: "127.0.0.1", port, protocol: "http" },
    });
    await expect(down.authorize(payment())).rejects.toBeInstanceOf(ProviderUnavailableError);
    await expect(down.retrieve({ paymentId: "x", providerPaymentId: "pi_x" })).rejects.toBeInstanceOf(
      ProviderUnavailableError,
    );
  });

  it.runIf(!live)(
    "throws ProviderUnavailableError on a 500, a 429 and a timeout; the repeat succeeds once",
    async () => {
      const quick = createStripeProvider({
        secretKey: SECRET_KEY,
        webhookSecret: WEBHOOK_SECRET,
        timeoutMs: 500,
        apiBase: standIn!.apiBase,
      });
      for (const kind of ["api_error", "rate_limit", "hang"] as const) {
        const request = payment();
        standIn!.failNext(kind);
        await expect(quick.authorize(request), kind).rejects.toBeInstanceOf(ProviderUnavailableError);
        const authorized = await quick.authorize(request);
        expect(authorized.status, kind).toBe("AUTHORIZED");
        // The failed attempt did nothing (a 5xx is not kept under the key); the repeat ran once.
        expect(standIn!.executions(`pay_${request.paymentId}`), kind).toBe(1);
      }
    },
  );
});

describe.runIf(!live)("stripe stand-in: refuses what Stripe would refuse", () => {
  it("answers an unknown parameter or a value outside the SDK's types 400", async () => {
    const stripe = new Stripe(SECRET_KEY, { ...standIn!.apiBase });
    const params = { amount: 100, currency: "eur", colour: "red" } as unknown as Stripe.PaymentIntentCreateParams;
    const error = await stripe.paymentIntents.create(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ code: "parameter_unknown", param: "colour", statusCode: 400 });
    const badValue = {
      amount: 100,
      currency: "eur",
      capture_method: "later",
    } as unknown as Stripe.PaymentIntentCreateParams;
    const refused = await stripe.paymentIntents.create(badValue).catch((e: unknown) => e);
    expect(refused).toMatchObject({ param: "capture_method", statusCode: 400 });
  });
});

describe("stripe provider: webhooks", () => {
  const intent = {
    id: "pi_3Webhook",
    object: "payment_intent",
    status: "requires_capture",
    amount: 2500,
    amount_received: 0,
    client_secret: "pi_3Webhook_secret_x",
    metadata: { payment_id: "pay-1", order_id: "ord-1" },
    next_action: null,
    last_payment_error: null,
    latest_charge: "ch_1",
  };

  function sign(type: string, object: object, secret = WEBHOOK_SECRET, timestamp = Math.floor(Date.now() / 1000)) {
    const payload = JSON.stringify({ id: `evt_${randomUUID()}`, object: "event", type, data: { object } });
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
    return { payload, header };
  }

  it("verifies a signed event and maps it", () => {
    const { payload, header } = sign("payment_intent.amount_capturable_updated", intent);
    const event = provider.verifyWebhook(Buffer.from(payload), { "stripe-signature": header });
    expect(event).toMatchObject({
      type: "payment.authorized",
      providerPaymentId: "pi_3Webhook",
      paymentId: "pay-1",
      payment: { status: "AUTHORIZED", providerPaymentId: "pi_3Webhook" },
    });
    expect(event.eventId).toMatch(/^evt_/);
  });

  it("refuses a forged, a tampered, an unsigned and a stale event", () => {
    const forged = sign("payment_intent.succeeded", intent, "whsec_someone_else");
    const verify = (body: string, header: string | undefined, nowMs?: number) => () =>
      provider.verifyWebhook(Buffer.from(body), { "stripe-signature": header }, nowMs);
    expect(verify(forged.payload, forged.header)).toThrow(WebhookSignatureError);

    const good = sign("payment_intent.succeeded", intent);
    expect(verify(good.payload.replace("2500", "1"), good.header)).toThrow(WebhookSignatureError);
    expect(verify(good.payload, undefined)).toThrow(WebhookSignatureError);
    // 300 s is Stripe's tolerance: just inside passes, just outside is stale.
    expect(verify(good.payload, good.header, Date.now() + 299_000)).not.toThrow();
    expect(verify(good.payload, good.header, Date.now() + 302_000)).toThrow(/tolerance/);
  });

  it.runIf(!live)("verifies events the stand-in signs from Stripe's example event", async () => {
    const { providerPaymentId } = await provider.authorize(payment());
    const signed = standIn!.signedEvent(
      "payment_intent.amount_capturable_updated",
      standIn!.paymentIntent(providerPaymentId),
      WEBHOOK_SECRET,
    );
    const event = provider.verifyWebhook(Buffer.from(signed.payload), { "stripe-signature": signed.header });
    expect(event).toMatchObject({ eventId: signed.eventId, type: "payment.authorized", providerPaymentId });
  });

  it("maps Stripe event types to provider-neutral ones", () => {
    const event = (type: string, object: object) =>
      toWebhookEvent({ id: "evt_1", object: "event", type, data: { object } } as unknown as Stripe.Event);
    const cases: Array<[string, object, string]> = [
      ["payment_intent.succeeded", { ...intent, status: "succeeded", amount_received: 2500 }, "payment.captured"],
      ["payment_intent.amount_capturable_updated", intent, "payment.authorized"],
      ["payment_intent.payment_failed", { ...intent, status: "requires_payment_method" }, "payment.failed"],
      ["payment_intent.canceled", { ...intent, status: "canceled" }, "payment.canceled"],
      ["payment_intent.requires_action", { ...intent, status: "requires_action" }, "payment.requires_action"],
      [
        "charge.refunded",
        { id: "ch_1", object: "charge", payment_intent: "pi_3Webhook", metadata: {} },
        "refund.succeeded",
      ],
      [
        "refund.updated",
        { id: "re_1", object: "refund", status: "succeeded", payment_intent: "pi_3Webhook" },
        "refund.succeeded",
      ],
      [
        "refund.updated",
        { id: "re_1", object: "refund", status: "failed", payment_intent: "pi_3Webhook" },
        "refund.failed",
      ],
      ["refund.updated", { id: "re_1", object: "refund", status: "pending", payment_intent: "pi_3Webhook" }, "other"],
      ["customer.created", { id: "cus_1", object: "customer" }, "other"],
    ];
    for (const [type, object, expected] of cases) {
      const mapped = event(type, object);
      expect(mapped.type, type).toBe(expected);
      if (expected !== "other") expect(mapped.providerPaymentId, type).toBe("pi_3Webhook");
    }
    expect(
      event("payment_intent.payment_failed", { ...intent, status: "requires_payment_method" }).payment,
    ).toMatchObject({
      status: "FAILED",
    });
  });
});

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
