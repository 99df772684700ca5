// Payment webhooks and the test provider's 3-D Secure page through the edge, on a real mesh:
// POST /v1/webhooks/test checks the signature and applies an event once however often it comes;
// /pay/test/{id} renders the page, and Approve makes the test provider send its signed webhook
// over HTTP to the edge, which moves the payment. Payments are created on PaymentService's own
// port with the order service's identity, as the order service does.
import { randomUUID } from "node:crypto";
import type { CallOptions, Client } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { PaymentService, PaymentStatus } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { signTestWebhook, testSignatureHeader } from "../../services/payment/providers/test-provider.ts";
import { callRest } from "../support/rest.ts";
import { useMesh } from "../support/use-mesh.ts";

const secret = "e2e-test-webhook-secret";
const e2e = useMesh({ httpVersion: "1.1", env: { BAZAAR_PAYMENT_TEST_WEBHOOK_SECRET: secret } });
let payments: Client<typeof PaymentService>;
let asOrder: CallOptions;

beforeAll(async () => {
  payments = e2e.internal(PaymentService, "payment");
  asOrder = await e2e.asService("order");
});

const returnUrl = "https://shop.example/orders/back";

async function create(token: string) {
  const { payment } = await payments.createPayment(
    {
      orderId: randomUUID(),
      amount: { currencyCode: "EUR", amountMinor: 1999n },
      paymentMethodToken: token,
      returnUrl,
    },
    asOrder,
  );
  return payment!;
}

const statusOf = async (id: string) => (await payments.getPayment({ id }, asOrder)).payment!.status;

/** A webhook body signed as the test provider signs it (or with another secret: forged). */
function webhook(body: object, signWith = secret) {
  const rawBody = JSON.stringify(body);
  return {
    rawBody,
    headers: {
      "content-type": "application/json",
      [testSignatureHeader]: signTestWebhook(Buffer.from(rawBody), signWith),
    },
  };
}

const post = (request: ReturnType<typeof webhook>, provider = "test") =>
  callRest(e2e.mesh.edgeUrl, "POST", `/v1/webhooks/${provider}`, request);

describe("POST /v1/webhooks/{provider}", () => {
  it("when the signature is forged, then 400 WEBHOOK_SIGNATURE_INVALID and the payment is unchanged", async () => {
    const payment = await create("tok_threeDSecure");
    const forged = webhook(
      {
        id: `evt_forged_${randomUUID()}`,
        type: "payment.authorized",
        payment_id: payment.id,
        provider_payment_id: payment.providerPaymentId,
      },
      "not-the-secret",
    );
    const answer = await post(forged);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "invalid_argument", reason: "WEBHOOK_SIGNATURE_INVALID" });
    expect(await statusOf(payment.id)).toBe(PaymentStatus.REQUIRES_ACTION);
  });

  it("when a signed event is replayed 5 times at once, then one is APPLIED and the others are DUPLICATE", async () => {
    const payment = await create("tok_visa");
    const eventId = `evt_e2e_${randomUUID()}`;
    const request = webhook({
      id: eventId,
      type: "payment.authorized",
      payment_id: payment.id,
      provider_payment_id: payment.providerPaymentId,
    });
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(request)));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((answer) => answer.body.eventId)).toEqual(Array(5).fill(eventId));
    expect(answers.map((answer) => answer.body.outcome).sort()).toEqual([
      "APPLIED",
      "DUPLICATE",
      "DUPLICATE",
      "DUPLICATE",
      "DUPLICATE",
    ]);
    expect(await statusOf(payment.id)).toBe(PaymentStatus.AUTHORIZED);
  });

  it("when the provider is unknown, the body too large or the method GET, then 404, 413 and 405", async () => {
    const request = webhook({ id: `evt_${randomUUID()}`, type: "payment.authorized", provider_payment_id: "x" });
    expect((await post(request, "nowhere")).status).toBe(404);
    const huge = { rawBody: "x".repeat(256 * 1024 + 1), headers: { "content-type": "application/json" } };
    const tooLarge = await callRest(e2e.mesh.edgeUrl, "POST", "/v1/webhooks/test", huge);
    expect(tooLarge).toMatchObject({ status: 413, body: { reason: "REQUEST_TOO_LARGE" } });
    expect((await fetch(`${e2e.mesh.edgeUrl}/v1/webhooks/test`)).status).toBe(405);
  });

  it("when PaymentService or TestCheckoutService is called by its RPC path through the edge, then 404", async () => {
    for (const path of [
      "/bazaar.payment.v1.PaymentService/HandleWebhook",
      "/bazaar.payment.v1.PaymentService/GetPayment",
      "/bazaar.payment.v1.TestCheckoutService/ConfirmTestCheckout",
    ]) {
      const response = await fetch(`${e2e.mesh.edgeUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(response.status, path).toBe(404);
    }
  });
});

describe("the test provider's 3-D Secure page at /pay/test/{paymentId}", () => {
  it("when the buyer opens the redirect and approves, then 303 back, and the provider's webhook over HTTP authorizes the payment", async () => {
    const payment = await create("tok_threeDSecure");
    const redirect = payment.nextAction!.redirectUrl;
    expect(redirect).toBe(`${e2e.mesh.edgeUrl}/pay/test/${payment.id}`);

    const page = await fetch(redirect);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain("19.99 EUR");
    expect(html).toMatch(/<button type="submit" name="decision" value="approve">Approve<\/button>/);
    expect(html).not.toMatch(/<script/);

    const confirmed = await fetch(redirect, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "decision=approve",
      redirect: "manual",
    });
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.get("location")).toBe(`${returnUrl}?payment_id=${payment.id}`);

    const status = await eventually(
      () => statusOf(payment.id),
      (value) => value === PaymentStatus.AUTHORIZED,
      10_000,
    );
    expect(status).toBe(PaymentStatus.AUTHORIZED);
    expect(await (await fetch(redirect)).text()).toContain("not waiting for confirmation");
    const again = await fetch(redirect, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "decision=approve",
      redirect: "manual",
    });
    expect(again.status).toBe(409);
  });

  it("when the buyer declines, then the payment becomes FAILED with the 3-D Secure reason", async () => {
    const payment = await create("tok_threeDSecure");
    const declined = await fetch(payment.nextAction!.redirectUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "decision=decline",
      redirect: "manual",
    });
    expect(declined.status).toBe(303);
    const status = await eventually(
      () => statusOf(payment.id),
      (value) => value === PaymentStatus.FAILED,
      10_000,
    );
    expect(status).toBe(PaymentStatus.FAILED);
    expect((await payments.getPayment({ id: payment.id }, asOrder)).payment!.failureReason).toBe(
      "the card was declined (3-D Secure declined)",
    );
  });

  it("when the payment is unknown or the decision missing, then 404 and 400 pages", async () => {
    expect((await fetch(`${e2e.mesh.edgeUrl}/pay/test/${randomUUID()}`)).status).toBe(404);
    const payment = await create("tok_threeDSecure");
    const bad = await fetch(payment.nextAction!.redirectUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "decision=maybe",
    });
    expect(bad.status).toBe(400);
  });
});
