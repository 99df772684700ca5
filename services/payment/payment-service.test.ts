// PaymentService's handlers in memory against a database of their own and the built-in test
// provider: who may call, idempotent creation per order, the status moves, refunds within the
// capture under concurrency, and the events each change leaves in the outbox.
import { fromBinary } from "@bufbuild/protobuf";
import { Code, type CallOptions, type Client } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { PaymentService, PaymentStatus, TestCheckoutService } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { createDb } from "../kit/db.ts";
import { errorInfoOf } from "../kit/error-info.ts";
import { uuidv7 } from "../kit/ids.ts";
import { bind } from "../kit/serve.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import { createTestTokens, oneOfEach, signedIn, type Callers } from "../kit/testing/tokens.ts";
import { paymentAccessRules } from "./access-rules.ts";
import type { PaymentDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { createPaymentService, createTestCheckoutService } from "./payment-service.ts";
import { createTestProvider } from "./providers/test-provider.ts";

let db: Kysely<PaymentDatabase>;
let providerDb: Kysely<PaymentDatabase>;
let callers: Callers;
let server: InMemoryServer;
let payments: Client<typeof PaymentService>;
let asService: CallOptions;

/** A second pool over the test database: the test provider's own (see TestProviderOptions). */
async function ownPool(of: Kysely<PaymentDatabase>): Promise<Kysely<PaymentDatabase>> {
  const { rows } = await sql<{ name: string }>`SELECT DATABASE() AS name`.execute(of);
  return createDb<PaymentDatabase>({ url: inject("mysqlUrl"), database: rows[0]!.name, connectionLimit: 4 });
}

beforeAll(async () => {
  db = await migratedTestDatabase<PaymentDatabase>("payment_handlers", migrations);
  const tokens = await createTestTokens();
  callers = await oneOfEach(tokens);
  asService = (await signedIn(tokens, "service")).options;
  providerDb = await ownPool(db);
  const provider = createTestProvider({
    db: providerDb,
    edgeUrl: "https://shop.example",
    webhookSecret: "test-secret",
  });
  server = serveInMemory({
    services: [
      bind(PaymentService, createPaymentService({ db, provider })),
      bind(TestCheckoutService, createTestCheckoutService(provider)),
    ],
    rules: paymentAccessRules,
    verifier: tokens.verifier,
  });
  payments = server.client(PaymentService);
});

afterAll(async () => {
  await providerDb?.destroy();
  await db?.destroy();
});

const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });

function create(token: string, amountMinor = 5000n, orderId = uuidv7()) {
  return payments.createPayment(
    { orderId, amount: usd(amountMinor), paymentMethodToken: token, returnUrl: "https://shop.example/back" },
    asService,
  );
}

async function captured(amountMinor: bigint) {
  const { payment } = await create("tok_visa", amountMinor);
  await payments.capturePayment({ id: payment!.id }, asService);
  return payment!.id;
}

/** The payloads the outbox holds about a payment, oldest first. */
async function eventsOf(paymentId: string): Promise<string[]> {
  const rows = await db.selectFrom("outbox").select("payload").orderBy("id").execute();
  return rows
    .map((row) => fromBinary(EventSchema, row.payload))
    .filter((event) => event.subjectId === paymentId)
    .map((event) => event.payload.case ?? "");
}

describe("who may call the payment service", () => {
  it.each(
    accessMatrix(PaymentService, {
      createPayment: "service",
      getPayment: "service",
      capturePayment: "service",
      cancelPayment: "service",
      refundPayment: "service",
      listPayments: "service",
      handleWebhook: "public",
    }),
  )("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(server.transport, method, callers[caller])).toBe(expected);
  });

  it.each(accessMatrix(TestCheckoutService, { getTestCheckout: "public", confirmTestCheckout: "public" }))(
    "%s",
    async (_story, method, caller, expected) => {
      expect(await accessOutcome(server.transport, method, callers[caller])).toBe(expected);
    },
  );
});

describe("creating a payment", () => {
  it("when the card is tok_visa, then the payment is AUTHORIZED and PaymentAuthorized is in the outbox", async () => {
    const { payment } = await create("tok_visa", 1999n);
    expect(payment).toMatchObject({ status: PaymentStatus.AUTHORIZED, provider: "test", amount: usd(1999n) });
    expect(payment!.providerPaymentId).not.toBe("");
    expect(await eventsOf(payment!.id)).toEqual(["paymentAuthorized"]);
    // The answer is the row as stored, times included, though it was not read back.
    expect((await payments.getPayment({ id: payment!.id }, asService)).payment).toEqual(payment);
  });

  it("when the same order is paid twice with the same amount, then both calls answer one payment", async () => {
    const orderId = uuidv7();
    const [first, second] = await Promise.all([create("tok_visa", 700n, orderId), create("tok_visa", 700n, orderId)]);
    expect(second.payment!.id).toBe(first.payment!.id);
    expect(await db.selectFrom("payments").where("order_id", "=", orderId).select("id").execute()).toHaveLength(1);
  });

  it("when the same order is paid again with another amount, then failed_precondition PAYMENT_ORDER_MISMATCH", async () => {
    const orderId = uuidv7();
    const { payment } = await create("tok_visa", 700n, orderId);
    const error = await failureOf(create("tok_visa", 701n, orderId));
    expect(Code[error.code]).toBe(Code[Code.FailedPrecondition]);
    expect(errorInfoOf(error)).toEqual({
      reason: "PAYMENT_ORDER_MISMATCH",
      metadata: { order_id: orderId, payment_id: payment!.id },
    });
  });

  it("when the card is declined, then the payment is FAILED with the reason and PaymentFailed is announced", async () => {
    const { payment } = await create("tok_chargeDeclined");
    expect(payment).toMatchObject({ status: PaymentStatus.FAILED, failureReason: "the card was declined" });
    expect(await eventsOf(payment!.id)).toEqual(["paymentFailed"]);
  });

  it("when the provider is unavailable, then unavailable and nothing is stored for the order", async () => {
    const orderId = uuidv7();
    const error = await failureOf(create("tok_unavailable", 100n, orderId));
    expect(Code[error.code]).toBe(Code[Code.Unavailable]);
    expect(await db.selectFrom("payments").where("order_id", "=", orderId).selectAll().execute()).toEqual([]);
    // Nothing half-written: a repeat with a working card goes through.
    expect((await create("tok_visa", 100n, orderId)).payment!.status).toBe(PaymentStatus.AUTHORIZED);
  });

  it("when the card needs 3-D Secure, then REQUIRES_ACTION with a redirect to the test page", async () => {
    const { payment } = await create("tok_threeDSecure");
    expect(payment!.status).toBe(PaymentStatus.REQUIRES_ACTION);
    expect(payment!.nextAction?.redirectUrl).toBe(`https://shop.example/pay/test/${payment!.id}`);
    expect(await eventsOf(payment!.id)).toEqual(["paymentRequiresAction"]);
    expect((await payments.getPayment({ id: payment!.id }, asService)).payment).toEqual(payment);
  });

  it.each([
    ["order_id", { orderId: "not-a-uuid" }],
    ["amount", { amount: undefined }],
    ["amount.amount_minor", { amount: usd(0n) }],
    ["payment_method_token", { paymentMethodToken: "" }],
  ])("when %s is invalid, then invalid_argument names it", async (field, change) => {
    const request = { orderId: uuidv7(), amount: usd(100n), paymentMethodToken: "tok_visa", ...change };
    const error = await failureOf(payments.createPayment(request, asService));
    expect(Code[error.code]).toBe(Code[Code.InvalidArgument]);
    expect(error.message).toContain(field);
  });
});

describe("taking a payment as it is authorized (capture)", () => {
  it("when tok_visa is paid with capture, then CAPTURED with the amount, PaymentCaptured its one event, and it can be refunded", async () => {
    const { payment } = await payments.createPayment(
      { orderId: uuidv7(), amount: usd(2500n), paymentMethodToken: "tok_visa", capture: true },
      asService,
    );
    expect(payment).toMatchObject({ status: PaymentStatus.CAPTURED, captured: usd(2500n) });
    expect((await payments.getPayment({ id: payment!.id }, asService)).payment).toEqual(payment);
    expect(await eventsOf(payment!.id)).toEqual(["paymentCaptured"]);
    const { payment: refunded } = await payments.refundPayment(
      { id: payment!.id, refundKey: uuidv7(), amount: usd(500n) },
      asService,
    );
    expect(refunded!.status).toBe(PaymentStatus.PARTIALLY_REFUNDED);
  });
});

describe("capturing and cancelling", () => {
  it("when an authorized payment is captured, then CAPTURED with the amount and PaymentCaptured in the outbox", async () => {
    const { payment } = await create("tok_visa", 4200n);
    const { payment: after } = await payments.capturePayment({ id: payment!.id }, asService);
    expect(after).toMatchObject({ status: PaymentStatus.CAPTURED, captured: usd(4200n) });
    // A repeat answers the same payment and announces nothing more.
    await payments.capturePayment({ id: payment!.id }, asService);
    expect(await eventsOf(payment!.id)).toEqual(["paymentAuthorized", "paymentCaptured"]);
  });

  it("when an authorized payment is cancelled, then CANCELED, and a capture after it is ILLEGAL_PAYMENT_STATUS", async () => {
    const { payment } = await create("tok_visa");
    const { payment: after } = await payments.cancelPayment({ id: payment!.id }, asService);
    expect(after!.status).toBe(PaymentStatus.CANCELED);
    const error = await failureOf(payments.capturePayment({ id: payment!.id }, asService));
    expect(Code[error.code]).toBe(Code[Code.FailedPrecondition]);
    expect(errorInfoOf(error)).toEqual({
      reason: "ILLEGAL_PAYMENT_STATUS",
      metadata: { payment_id: payment!.id, status: "PAYMENT_STATUS_CANCELED" },
    });
  });

  it("when a payment is unknown, then not_found", async () => {
    const error = await failureOf(payments.getPayment({ id: uuidv7() }, asService));
    expect(Code[error.code]).toBe(Code[Code.NotFound]);
  });
});

describe("refunds", () => {
  const refund = (id: string, amountMinor: bigint, refundKey = uuidv7()) =>
    payments.refundPayment({ id, amount: usd(amountMinor), refundKey }, asService);

  it("when partial refunds reach the capture, then REFUNDED, and one more is REFUND_EXCEEDS_CAPTURE", async () => {
    const id = await captured(1000n);
    expect((await refund(id, 400n)).payment).toMatchObject({
      status: PaymentStatus.PARTIALLY_REFUNDED,
      refunded: usd(400n),
    });
    expect((await refund(id, 600n)).payment).toMatchObject({ status: PaymentStatus.REFUNDED, refunded: usd(1000n) });
    const error = await failureOf(refund(id, 1n));
    expect(Code[error.code]).toBe(Code[Code.FailedPrecondition]);
    expect(errorInfoOf(error)).toEqual({
      reason: "REFUND_EXCEEDS_CAPTURE",
      metadata: { payment_id: id, requested: "1", refundable: "0" },
    });
    expect(await eventsOf(id)).toEqual(["paymentAuthorized", "paymentCaptured", "paymentRefunded", "paymentRefunded"]);
  });

  it("when a refund asks more than is left, then failed_precondition REFUND_EXCEEDS_CAPTURE with the figures", async () => {
    const id = await captured(1000n);
    await refund(id, 300n);
    const error = await failureOf(refund(id, 701n));
    expect(Code[error.code]).toBe(Code[Code.FailedPrecondition]);
    expect(errorInfoOf(error)).toEqual({
      reason: "REFUND_EXCEEDS_CAPTURE",
      metadata: { payment_id: id, requested: "701", refundable: "700" },
    });
  });

  it("when the same refund_key comes twice, then one refund is made and both calls answer it", async () => {
    const id = await captured(1000n);
    const key = uuidv7();
    const [first, second] = await Promise.all([refund(id, 250n, key), refund(id, 250n, key)]);
    expect(second.refund!.id).toBe(first.refund!.id);
    const { payment } = await payments.getPayment({ id }, asService);
    expect(payment).toMatchObject({ refunded: usd(250n) });
    expect(payment!.refunds).toHaveLength(1);
  });

  it("when one refund_key comes for two payments at once, then one refund is made and the other is REFUND_KEY_REUSED", async () => {
    const [one, other] = [await captured(1000n), await captured(1000n)];
    const key = uuidv7();
    for (let round = 0; round < 3; round++) {
      const outcomes = await Promise.allSettled([refund(one, 100n, key), refund(other, 100n, key)]);
      const refused = outcomes.filter((o) => o.status === "rejected").map((o) => errorInfoOf(o.reason)?.reason);
      // The first round races to the unique key; later ones find it on the other payment.
      expect(refused).toEqual(["REFUND_KEY_REUSED"]);
    }
    const refunded = await Promise.all(
      [one, other].map(async (id) => (await payments.getPayment({ id }, asService)).payment!),
    );
    expect(refunded.map((p) => p.refunds.length).sort()).toEqual([0, 1]);
  });

  it("when 10 refunds of 300 race for a capture of 1000, then exactly 3 succeed and the rest are refused", async () => {
    const id = await captured(1000n);
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => refund(id, 300n)));
    const refused = outcomes.filter((o) => o.status === "rejected").map((o) => errorInfoOf(o.reason)?.reason);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(3);
    expect(refused).toEqual(Array(7).fill("REFUND_EXCEEDS_CAPTURE"));
    const { payment } = await payments.getPayment({ id }, asService);
    expect(payment).toMatchObject({ refunded: usd(900n), status: PaymentStatus.PARTIALLY_REFUNDED });
    expect(payment!.refunds).toHaveLength(3);
  });

  it("when a payment was not captured, then a refund is ILLEGAL_PAYMENT_STATUS", async () => {
    const { payment } = await create("tok_visa");
    const error = await failureOf(refund(payment!.id, 1n));
    expect(errorInfoOf(error)?.reason).toBe("ILLEGAL_PAYMENT_STATUS");
  });

  it("when the refund amount is zero, then invalid_argument names amount.amount_minor", async () => {
    const id = await captured(1000n);
    const error = await failureOf(refund(id, 0n));
    expect(Code[error.code]).toBe(Code[Code.InvalidArgument]);
    expect(error.message).toContain("amount.amount_minor");
  });
});

describe("listing payments", () => {
  it("when filtered by order, then only that order's payment; pages of one walk the declined ones newest first", async () => {
    const orderId = uuidv7();
    const { payment } = await create("tok_visa", 100n, orderId);
    const byOrder = await payments.listPayments({ orderId }, asService);
    expect(byOrder.payments.map((p) => p.id)).toEqual([payment!.id]);

    const older = (await create("tok_chargeDeclined")).payment!;
    const newer = (await create("tok_chargeDeclined")).payment!;
    const first = await payments.listPayments({ status: PaymentStatus.FAILED, pageSize: 1 }, asService);
    expect(first.payments.map((p) => p.id)).toEqual([newer.id]);
    expect(first.nextPageToken).not.toBe("");
    const second = await payments.listPayments(
      { status: PaymentStatus.FAILED, pageSize: 1, pageToken: first.nextPageToken },
      asService,
    );
    expect(second.payments.map((p) => p.id)).toEqual([older.id]);
  });
});
