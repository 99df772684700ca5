// The test provider against a real MariaDB: authorizing is idempotent per payment, capture takes
// the whole amount unless told otherwise (a payment started with capture is taken as it is
// authorized), and its webhook signature is HMAC-SHA256 over `${t}.${rawBody}` with 5 minutes'
// tolerance.
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import type { PaymentDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { testWebhooksOf } from "../db/test-provider.repository.ts";
import { ProviderUnavailableError, WebhookSignatureError } from "../domain/provider.ts";
import { uuidv7 } from "../../kit/ids.ts";
import { createTestProvider, signTestWebhook, testSignatureHeader, type TestProvider } from "./test-provider.ts";

const secret = "whsec-test";
let db: Kysely<PaymentDatabase>;
let provider: TestProvider;

beforeAll(async () => {
  db = await migratedTestDatabase<PaymentDatabase>("payment_test_provider", migrations);
  provider = createTestProvider({ db, edgeUrl: "https://shop.example", webhookSecret: secret });
});

afterAll(async () => {
  await db?.destroy();
});
const body = Buffer.from(JSON.stringify({ id: "evt_1", type: "payment.authorized", provider_payment_id: "test_pi_1" }));
const now = Date.UTC(2026, 11, 4, 12);

describe("test provider webhooks", () => {
  it("when the signature is valid, then the event is read", () => {
    const headers = { [testSignatureHeader]: signTestWebhook(body, secret, now) };
    expect(provider.verifyWebhook(body, headers, now)).toEqual({
      eventId: "evt_1",
      type: "payment.authorized",
      providerPaymentId: "test_pi_1",
    });
  });

  it("when the body was changed after signing, then WebhookSignatureError", () => {
    const headers = { [testSignatureHeader]: signTestWebhook(body, secret, now) };
    const forged = Buffer.from(body.toString().replace("evt_1", "evt_2"));
    expect(() => provider.verifyWebhook(forged, headers, now)).toThrow(WebhookSignatureError);
  });

  it("when it is signed with another secret, then WebhookSignatureError", () => {
    const headers = { [testSignatureHeader]: signTestWebhook(body, "another-secret", now) };
    expect(() => provider.verifyWebhook(body, headers, now)).toThrow(WebhookSignatureError);
  });

  it("when the timestamp is more than 5 minutes old, then WebhookSignatureError, at 5 minutes it passes", () => {
    const headers = { [testSignatureHeader]: signTestWebhook(body, secret, now - 301_000) };
    expect(() => provider.verifyWebhook(body, headers, now)).toThrow(/tolerance/);
    const edge = { [testSignatureHeader]: signTestWebhook(body, secret, now - 300_000) };
    expect(provider.verifyWebhook(body, edge, now).eventId).toBe("evt_1");
  });

  it("when the header is missing or malformed, then WebhookSignatureError", () => {
    expect(() => provider.verifyWebhook(body, {}, now)).toThrow(WebhookSignatureError);
    expect(() => provider.verifyWebhook(body, { [testSignatureHeader]: "t=abc,v1=zz" }, now)).toThrow(
      WebhookSignatureError,
    );
  });
});

describe("test provider payments", () => {
  const authorize = (paymentId: string, paymentMethodToken: string) =>
    provider.authorize({ paymentId, orderId: uuidv7(), amountMinor: 1549n, currencyCode: "EUR", paymentMethodToken });

  it("when a payment is authorized again, even with another card, then the answer is where the first one stands", async () => {
    const paymentId = uuidv7();
    const first = await authorize(paymentId, "tok_visa");
    expect(first).toMatchObject({
      providerPaymentId: `test_pi_${paymentId}`,
      status: "AUTHORIZED",
      amountCapturedMinor: 0n,
    });
    expect(await authorize(paymentId, "tok_chargeDeclined")).toEqual(first);
    await provider.capture({ paymentId, providerPaymentId: first.providerPaymentId });
    expect(await authorize(paymentId, "tok_visa")).toMatchObject({ status: "CAPTURED", amountCapturedMinor: 1549n });
  });

  it("when a capture names an amount, then that much is captured; when it names none, the whole amount", async () => {
    const [part, whole] = [uuidv7(), uuidv7()];
    await authorize(part, "tok_visa");
    await authorize(whole, "tok_visa");
    const captured = await provider.capture({
      paymentId: part,
      providerPaymentId: `test_pi_${part}`,
      amountMinor: 1000n,
    });
    expect(captured).toMatchObject({ status: "CAPTURED", amountCapturedMinor: 1000n });
    expect(await provider.capture({ paymentId: whole, providerPaymentId: `test_pi_${whole}` })).toMatchObject({
      status: "CAPTURED",
      amountCapturedMinor: 1549n,
    });
  });

  it("when a payment is started with capture, then tok_visa is taken at once, and 3-D Secure once its buyer approves, with a payment.captured webhook", async () => {
    const [atOnce, afterApproval] = [uuidv7(), uuidv7()];
    const start = (paymentId: string, paymentMethodToken: string) =>
      provider.authorize({
        paymentId,
        orderId: uuidv7(),
        amountMinor: 1549n,
        currencyCode: "EUR",
        paymentMethodToken,
        capture: true,
      });
    expect(await start(atOnce, "tok_visa")).toMatchObject({ status: "CAPTURED", amountCapturedMinor: 1549n });
    expect(await start(afterApproval, "tok_threeDSecure")).toMatchObject({
      status: "REQUIRES_ACTION",
      amountCapturedMinor: 0n,
    });
    await provider.confirm(afterApproval, true);
    expect(await provider.retrieve({ paymentId: afterApproval, providerPaymentId: "" })).toMatchObject({
      status: "CAPTURED",
      amountCapturedMinor: 1549n,
    });
    const webhooks = await testWebhooksOf(db, afterApproval);
    expect(webhooks.map((webhook) => JSON.parse(webhook.body).type)).toEqual(["payment.captured"]);
  });

  it("when a declined card is authorized, then FAILED with the reason; capturing an unknown payment is a provider error", async () => {
    expect(await authorize(uuidv7(), "tok_chargeDeclined")).toMatchObject({
      status: "FAILED",
      failureReason: "the card was declined",
    });
    const unknown = uuidv7();
    await expect(provider.capture({ paymentId: unknown, providerPaymentId: `test_pi_${unknown}` })).rejects.toThrow(
      ProviderUnavailableError,
    );
  });
});
