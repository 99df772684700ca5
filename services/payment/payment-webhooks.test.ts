// Webhooks, the test provider's hosted page and delayed confirmations, and reconciliation,
// against a database of their own: the test provider sends its signed webhooks to the service's
// HandleWebhook (in memory) as it would to the edge, and every assertion reads what the
// database and the outbox hold.
import { fromBinary } from "@bufbuild/protobuf";
import { Code, type CallOptions, type Client } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import {
  PaymentService,
  PaymentStatus,
  TestCheckoutService,
  WebhookOutcome,
} from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { createDb } from "../kit/db.ts";
import { errorInfoOf } from "../kit/error-info.ts";
import { uuidv7 } from "../kit/ids.ts";
import { bind } from "../kit/serve.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import { createTestTokens, signedIn } from "../kit/testing/tokens.ts";
import { paymentAccessRules } from "./access-rules.ts";
import type { PaymentDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { testWebhooksOf } from "./db/test-provider.repository.ts";
import { convergePayment, reconcilePayments } from "./domain/converge.ts";
import { applyKeptWebhooks } from "./domain/webhooks.ts";
import { createPaymentService, createTestCheckoutService } from "./payment-service.ts";
import {
  createTestProvider,
  declinedBy3ds,
  signTestWebhook,
  testSignatureHeader,
  type TestProvider,
  type WebhookSender,
} from "./providers/test-provider.ts";

const secret = "webhook-test-secret";
let db: Kysely<PaymentDatabase>;
let providerDb: Kysely<PaymentDatabase>;
let asService: CallOptions;
const servers: InMemoryServer[] = [];
/** Webhooks the provider sent, in order, and what the service answered each. */
const sent: Array<{ body: string; outcome: WebhookOutcome }> = [];
/** The payment service of the current "process". */
let payments: Client<typeof PaymentService>;
let checkout: Client<typeof TestCheckoutService>;
let provider: TestProvider;

/** Delivers to the current service, as the edge would pass it on; 200 unless it refuses. */
const deliver: WebhookSender = async (_url, body, headers) => {
  try {
    const answer = await payments.handleWebhook({ provider: "test", payload: Buffer.from(body), headers });
    sent.push({ body, outcome: answer.outcome });
    return 200;
  } catch {
    return 400;
  }
};

/** A payment-service "process": a new provider object and server over the same database. */
function startProcess(
  options: { delayMs?: number; send?: WebhookSender; wrap?: (p: TestProvider) => TestProvider } = {},
) {
  const made = createTestProvider({
    db: providerDb,
    edgeUrl: "https://shop.example",
    webhookSecret: secret,
    delayMs: options.delayMs ?? 5_000,
    send: options.send ?? deliver,
  });
  provider = options.wrap ? options.wrap(made) : made;
  const server = serveInMemory({
    services: [
      bind(PaymentService, createPaymentService({ db, provider })),
      bind(TestCheckoutService, createTestCheckoutService(provider)),
    ],
    rules: paymentAccessRules,
    verifier: tokens.verifier,
  });
  servers.push(server);
  payments = server.client(PaymentService);
  checkout = server.client(TestCheckoutService);
}

let tokens: Awaited<ReturnType<typeof createTestTokens>>;

/** A second pool over the test database: the test provider's own (see TestProviderOptions). */
async function ownPool(of: Kysely<PaymentDatabase>): Promise<Kysely<PaymentDatabase>> {
  const { rows } = await sql<{ name: string }>`SELECT DATABASE() AS name`.execute(of);
  return createDb<PaymentDatabase>({ url: inject("mysqlUrl"), database: rows[0]!.name, connectionLimit: 4 });
}

beforeAll(async () => {
  db = await migratedTestDatabase<PaymentDatabase>("payment_webhooks", migrations);
  providerDb = await ownPool(db);
  tokens = await createTestTokens();
  asService = (await signedIn(tokens, "service")).options;
  startProcess();
});

afterAll(async () => {
  servers.length = 0;
  await providerDb?.destroy();
  await db?.destroy();
});

const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });

async function create(token: string, amountMinor = 5000n) {
  const { payment } = await payments.createPayment(
    { orderId: uuidv7(), amount: usd(amountMinor), paymentMethodToken: token, returnUrl: "https://shop.example/back" },
    asService,
  );
  return payment!;
}

const statusOf = async (id: string) => (await payments.getPayment({ id }, asService)).payment!.status;

async function eventsOf(paymentId: string): Promise<string[]> {
  const rows = await db.selectFrom("outbox").select("payload").orderBy("id").execute();
  return rows
    .map((row) => fromBinary(EventSchema, row.payload))
    .filter((event) => event.subjectId === paymentId)
    .map((event) => event.payload.case ?? "");
}

const webhookRows = (eventId: string) =>
  db.selectFrom("webhook_events").selectAll().where("event_id", "=", eventId).execute();

function signed(body: object, nowMs = Date.now()) {
  const payload = Buffer.from(JSON.stringify(body));
  return { provider: "test", payload, headers: { [testSignatureHeader]: signTestWebhook(payload, secret, nowMs) } };
}

/** A 3-D Secure payment the buyer approved; its webhook is queued, not yet delivered. */
async function approved3ds() {
  const payment = await create("tok_threeDSecure");
  await checkout.confirmTestCheckout({ paymentId: payment.id, approve: true });
  const [webhook] = await testWebhooksOf(db, payment.id);
  return { payment, body: webhook!.body };
}

describe("the test provider's 3-D Secure page", () => {
  it("when the page is read, then it shows the amount, REQUIRES_ACTION and the return URL", async () => {
    const payment = await create("tok_threeDSecure", 1234n);
    const { checkout: page } = await checkout.getTestCheckout({ paymentId: payment.id });
    expect(page).toMatchObject({
      paymentId: payment.id,
      amount: usd(1234n),
      status: PaymentStatus.REQUIRES_ACTION,
      returnUrl: "https://shop.example/back",
    });
  });

  it("when the buyer approves, then the provider's signed webhook moves the payment to AUTHORIZED", async () => {
    const payment = await create("tok_threeDSecure");
    const { checkout: page } = await checkout.confirmTestCheckout({ paymentId: payment.id, approve: true });
    expect(page!.status).toBe(PaymentStatus.AUTHORIZED);
    expect(await statusOf(payment.id)).toBe(PaymentStatus.REQUIRES_ACTION);
    expect(await provider.runDue()).toMatchObject({ delivered: 1, failed: 0 });
    expect(await statusOf(payment.id)).toBe(PaymentStatus.AUTHORIZED);
    expect(await eventsOf(payment.id)).toEqual(["paymentRequiresAction", "paymentAuthorized"]);
    expect((await testWebhooksOf(db, payment.id))[0]).toMatchObject({ delivered: true, attempts: 1 });
  });

  it("when the buyer declines, then FAILED with the 3-D Secure reason and PaymentFailed", async () => {
    const payment = await create("tok_threeDSecure");
    await checkout.confirmTestCheckout({ paymentId: payment.id, approve: false });
    await provider.runDue();
    const { payment: after } = await payments.getPayment({ id: payment.id }, asService);
    expect(after).toMatchObject({ status: PaymentStatus.FAILED, failureReason: declinedBy3ds });
    expect(await eventsOf(payment.id)).toEqual(["paymentRequiresAction", "paymentFailed"]);
  });

  it("when a payment is not waiting for the buyer, then confirming is ILLEGAL_PAYMENT_STATUS", async () => {
    const payment = await create("tok_visa");
    const error = await failureOf(checkout.confirmTestCheckout({ paymentId: payment.id, approve: true }));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(error)).toMatchObject({
      reason: "ILLEGAL_PAYMENT_STATUS",
      metadata: { payment_id: payment.id, status: "PAYMENT_STATUS_AUTHORIZED" },
    });
    expect((await failureOf(checkout.getTestCheckout({ paymentId: uuidv7() }))).code).toBe(Code.NotFound);
  });

  it("when the receiver answers 500, then the webhook stays queued and is retried after a backoff", async () => {
    const payment = await create("tok_threeDSecure");
    await checkout.confirmTestCheckout({ paymentId: payment.id, approve: true });
    const failing = createTestProvider({
      db: providerDb,
      edgeUrl: "https://shop.example",
      webhookSecret: secret,
      send: async () => 500,
    });
    expect(await failing.runDue()).toMatchObject({ delivered: 0, failed: 1 });
    // Not due again at once: the next attempt waits a second.
    expect(await failing.runDue()).toMatchObject({ delivered: 0, failed: 0 });
    expect((await testWebhooksOf(db, payment.id))[0]).toMatchObject({ delivered: false, attempts: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await provider.runDue()).toMatchObject({ delivered: 1 });
    expect(await statusOf(payment.id)).toBe(PaymentStatus.AUTHORIZED);
  });
});

describe("receiving webhooks", () => {
  it("when the same event comes 5 times at once, then it is applied once and the others are DUPLICATE", async () => {
    const { payment, body } = await approved3ds();
    const request = { provider: "test", payload: Buffer.from(body), headers: signed({}).headers };
    request.headers[testSignatureHeader] = signTestWebhook(request.payload, secret);
    const answers = await Promise.all(Array.from({ length: 5 }, () => payments.handleWebhook(request)));
    const outcomes = answers.map((answer) => answer.outcome).sort();
    expect(outcomes).toEqual([
      WebhookOutcome.APPLIED,
      WebhookOutcome.DUPLICATE,
      WebhookOutcome.DUPLICATE,
      WebhookOutcome.DUPLICATE,
      WebhookOutcome.DUPLICATE,
    ]);
    expect(await eventsOf(payment.id)).toEqual(["paymentRequiresAction", "paymentAuthorized"]);
    expect(await webhookRows(answers[0]!.eventId)).toHaveLength(1);
  });

  it("when the signature is forged or stale, then invalid_argument WEBHOOK_SIGNATURE_INVALID and nothing is stored", async () => {
    const { payment, body } = await approved3ds();
    const eventId = (JSON.parse(body) as { id: string }).id;
    const forged = signed(JSON.parse(body) as object);
    forged.headers[testSignatureHeader] = signTestWebhook(forged.payload, "not-the-secret");
    const stale = signed(JSON.parse(body) as object, Date.now() - 301_000);
    for (const request of [forged, stale]) {
      const error = await failureOf(payments.handleWebhook(request));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(errorInfoOf(error)).toMatchObject({ reason: "WEBHOOK_SIGNATURE_INVALID", metadata: { provider: "test" } });
    }
    expect(await webhookRows(eventId)).toHaveLength(0);
    expect(await statusOf(payment.id)).toBe(PaymentStatus.REQUIRES_ACTION);
    expect(await eventsOf(payment.id)).toEqual(["paymentRequiresAction"]);
  });

  it("when the provider is not configured, then not_found", async () => {
    const error = await failureOf(payments.handleWebhook({ ...signed({ id: "evt_x" }), provider: "stripe" }));
    expect(error.code).toBe(Code.NotFound);
  });

  it("when an event type is not acted on, then IGNORED once and DUPLICATE after", async () => {
    const request = signed({ id: `evt_other_${uuidv7()}`, type: "customer.created", provider_payment_id: "x" });
    expect((await payments.handleWebhook(request)).outcome).toBe(WebhookOutcome.IGNORED);
    expect((await payments.handleWebhook(request)).outcome).toBe(WebhookOutcome.DUPLICATE);
  });

  it("when captured arrives before authorized, then the payment converges on CAPTURED and the late one changes nothing", async () => {
    const { payment, body: authorizedBody } = await approved3ds();
    await provider.capture({ paymentId: payment.id, providerPaymentId: payment.providerPaymentId });
    const captured = signed({
      id: `evt_test_${uuidv7()}`,
      type: "payment.captured",
      payment_id: payment.id,
      provider_payment_id: payment.providerPaymentId,
    });
    expect((await payments.handleWebhook(captured)).outcome).toBe(WebhookOutcome.APPLIED);
    const { payment: after } = await payments.getPayment({ id: payment.id }, asService);
    expect(after).toMatchObject({ status: PaymentStatus.CAPTURED, captured: usd(5000n) });
    const late = signed(JSON.parse(authorizedBody) as object);
    expect((await payments.handleWebhook(late)).outcome).toBe(WebhookOutcome.APPLIED);
    expect(await statusOf(payment.id)).toBe(PaymentStatus.CAPTURED);
    expect(await eventsOf(payment.id)).toEqual(["paymentRequiresAction", "paymentAuthorized", "paymentCaptured"]);
  });

  it("when the webhook arrives before CreatePayment has stored the payment, then KEPT, and the job applies it after", async () => {
    // A provider that confirms and delivers its webhook while authorize() has not answered yet.
    let keptOutcome: WebhookOutcome | undefined;
    startProcess({
      wrap: (inner) => ({
        ...inner,
        async authorize(request) {
          const answer = await inner.authorize(request);
          await inner.confirm(request.paymentId, true);
          await inner.runDue();
          keptOutcome = sent.at(-1)?.outcome;
          return answer;
        },
      }),
    });
    const payment = await create("tok_threeDSecure");
    expect(keptOutcome).toBe(WebhookOutcome.KEPT);
    expect(await statusOf(payment.id)).toBe(PaymentStatus.REQUIRES_ACTION);
    const run = await applyKeptWebhooks({ db, provider }, { maxAgeSeconds: 3600 });
    expect(run.applied).toBeGreaterThanOrEqual(1);
    expect(await statusOf(payment.id)).toBe(PaymentStatus.AUTHORIZED);
    expect(await eventsOf(payment.id)).toEqual(["paymentRequiresAction", "paymentAuthorized"]);
    const [row] = await webhookRows((JSON.parse(sent.at(-1)!.body) as { id: string }).id);
    expect(row).toMatchObject({ outcome: "APPLIED", payment_id: payment.id });
    startProcess();
  });

  it("when a kept webhook's payment never appears, then it is given up after the maximum age and kept as EXPIRED", async () => {
    const request = signed({
      id: `evt_test_${uuidv7()}`,
      type: "payment.authorized",
      payment_id: uuidv7(),
      provider_payment_id: "test_pi_never",
    });
    const { eventId, outcome } = await payments.handleWebhook(request);
    expect(outcome).toBe(WebhookOutcome.KEPT);
    await db
      .updateTable("webhook_events")
      .set({ receive_time: new Date(Date.now() - 120_000) })
      .where("event_id", "=", eventId)
      .execute();
    const run = await applyKeptWebhooks({ db, provider }, { maxAgeSeconds: 60 });
    expect(run.expired.map((e) => e.eventId)).toContain(eventId);
    expect(await webhookRows(eventId)).toMatchObject([{ outcome: "EXPIRED" }]);
  });
});

describe("reconciliation", () => {
  it("when a 3-D Secure payment's webhook was lost, then reconciliation settles it from the provider's view", async () => {
    const { payment } = await approved3ds();
    await db.deleteFrom("test_provider_webhooks").where("payment_id", "=", payment.id).execute();
    await db
      .updateTable("payments")
      .set({ update_time: new Date(Date.now() - 60_000) })
      .where("id", "=", payment.id)
      .execute();
    const counts = await reconcilePayments({ db, provider }, { afterSeconds: 30 });
    expect(counts.settled).toBeGreaterThanOrEqual(1);
    expect(await statusOf(payment.id)).toBe(PaymentStatus.AUTHORIZED);
    expect(await eventsOf(payment.id)).toEqual(["paymentRequiresAction", "paymentAuthorized"]);
  });

  it("when our payment is CANCELED but the provider reports it AUTHORIZED (a late success), then it is voided again and stays CANCELED", async () => {
    const payment = await create("tok_visa");
    await payments.cancelPayment({ id: payment.id }, asService);
    const cancels: string[] = [];
    // Stripe allows this race (a confirmation landing after our cancel); the test provider does not.
    const racing: TestProvider = {
      ...provider,
      retrieve: async (request) => ({ ...(await provider.retrieve(request)), status: "AUTHORIZED" }),
      cancel: async (request) => {
        cancels.push(request.paymentId);
        return provider.cancel(request);
      },
    };
    expect(await convergePayment({ db, provider: racing }, payment.id)).toEqual([]);
    expect(cancels).toEqual([payment.id]);
    expect(await statusOf(payment.id)).toBe(PaymentStatus.CANCELED);
    expect(await eventsOf(payment.id)).toEqual(["paymentAuthorized", "paymentCanceled"]);
  });

  it("when a payment stays AUTHORIZED, then reconciliation asks about it once per threshold, not on every run", async () => {
    const payment = await create("tok_visa");
    await db
      .updateTable("payments")
      .set({ update_time: new Date(Date.now() - 60_000) })
      .where("id", "=", payment.id)
      .execute();
    const asked: string[] = [];
    const counting: TestProvider = {
      ...provider,
      retrieve: async (request) => {
        asked.push(request.paymentId);
        return provider.retrieve(request);
      },
    };
    await reconcilePayments({ db, provider: counting }, { afterSeconds: 30 });
    await reconcilePayments({ db, provider: counting }, { afterSeconds: 30 });
    expect(asked.filter((id) => id === payment.id)).toHaveLength(1);
    expect(await statusOf(payment.id)).toBe(PaymentStatus.AUTHORIZED);
  });

  it("when a payment changed recently, then reconciliation leaves it alone", async () => {
    const { payment } = await approved3ds();
    await reconcilePayments({ db, provider }, { afterSeconds: 30 });
    expect(await statusOf(payment.id)).toBe(PaymentStatus.REQUIRES_ACTION);
  });
});

describe("the test provider's state", () => {
  it("when the payment service restarts (a new provider object over the same database), then capture, refund and cancel of earlier payments work", async () => {
    const first = await create("tok_visa", 900n);
    const second = await create("tok_visa", 400n);
    startProcess();
    await payments.capturePayment({ id: first.id }, asService);
    const { payment } = await payments.refundPayment(
      { id: first.id, amount: usd(300n), refundKey: uuidv7() },
      asService,
    );
    expect(payment).toMatchObject({ status: PaymentStatus.PARTIALLY_REFUNDED, refunded: usd(300n) });
    expect((await payments.cancelPayment({ id: second.id }, asService)).payment!.status).toBe(PaymentStatus.CANCELED);
  });

  it("when a delayed success is PROCESSING, then cancel is refused; once due it turns AUTHORIZED and sends its webhook", async () => {
    startProcess({ delayMs: 300 });
    const payment = await create("tok_delayedSuccess");
    expect(payment.status).toBe(PaymentStatus.PROCESSING);
    const error = await failureOf(payments.cancelPayment({ id: payment.id }, asService));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(error)).toMatchObject({
      reason: "ILLEGAL_PAYMENT_STATUS",
      metadata: { status: "PAYMENT_STATUS_PROCESSING" },
    });
    expect(
      (await provider.cancel({ paymentId: payment.id, providerPaymentId: payment.providerPaymentId })).status,
    ).toBe("PROCESSING");
    expect(await provider.runDue()).toMatchObject({ settled: 0 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await provider.runDue()).toMatchObject({ settled: 1 });
    expect(await statusOf(payment.id)).toBe(PaymentStatus.AUTHORIZED);
    expect(await eventsOf(payment.id)).toEqual(["paymentAuthorized"]);
    startProcess();
  });
});
