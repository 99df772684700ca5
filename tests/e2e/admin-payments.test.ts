// Admins and card payments against the real mesh: an admin lists payments through the edge's REST
// routes (status filter, keyset pages) and refunds them (admin → payment under the admin
// service's identity): part, then the rest; never more than was captured, concurrent refunds
// included; the same refund key refunds once; every refund is in the audit trail with its reason.
// Captured payments come from the payment service itself, called as the order service would
// (CreatePayment with tok_visa, then CapturePayment), so these stories do not depend on checkout.
import { randomUUID } from "node:crypto";
import { Code, type CallOptions } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { PaymentService, PaymentStatus } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { errorInfoOf } from "../../services/kit/error-info.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { callRest, type RestRequest } from "../support/rest.ts";
import { signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const { auth, admin } = e2e;
let asAdmin: ReturnType<typeof bearer>;
let adminToken = "";
let asOrderService: CallOptions;
let payments: ReturnType<typeof e2e.internal<typeof PaymentService>>;

const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });
const rest = (method: string, path: string, request: RestRequest = {}) =>
  callRest(e2e.mesh.edgeUrl, method, path, { token: adminToken, ...request });

beforeAll(async () => {
  adminToken = (await auth.login(devAccounts.admin)).tokens!.accessToken;
  asAdmin = await signIn(auth, devAccounts.admin);
  asOrderService = await e2e.asService("order");
  payments = e2e.internal(PaymentService, "payment");
});

/** A card payment of a new order, authorized with tok_visa and, unless told otherwise, captured. */
async function cardPayment(amountMinor: bigint, capture = true): Promise<string> {
  const { payment } = await payments.createPayment(
    { orderId: randomUUID(), amount: usd(amountMinor), paymentMethodToken: "tok_visa" },
    asOrderService,
  );
  expect(payment?.status).toBe(PaymentStatus.AUTHORIZED);
  if (capture) await payments.capturePayment({ id: payment!.id }, asOrderService);
  return payment!.id;
}

const paymentNow = async (id: string) => (await payments.getPayment({ id }, asOrderService)).payment!;

describe("listing payments", () => {
  it("when an admin lists captured payments over REST a page at a time, then they come newest first, each once, and none in another status", async () => {
    const captured = [await cardPayment(1_000n), await cardPayment(2_000n), await cardPayment(3_000n)];
    const authorized = await cardPayment(4_000n, false);
    const listed: Array<{ id: string; status: string }> = [];
    let pageToken = "";
    let pages = 0;
    do {
      const query = new URLSearchParams({ status: "PAYMENT_STATUS_CAPTURED", pageSize: "2" });
      if (pageToken) query.set("pageToken", pageToken);
      const answer = await rest("GET", `/v1/admin/payments?${query}`);
      expect(answer.status).toBe(200);
      listed.push(...answer.body.payments);
      pageToken = answer.body.nextPageToken ?? "";
      pages += 1;
    } while (pageToken && pages < 50);
    expect(pages).toBeGreaterThanOrEqual(2);
    const ids = listed.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(listed.every((p) => p.status === "PAYMENT_STATUS_CAPTURED")).toBe(true);
    expect(ids.filter((id) => captured.includes(id))).toEqual([...captured].reverse());
    expect(ids).not.toContain(authorized);
    expect([...ids].sort().reverse()).toEqual(ids); // UUIDv7 ids: newest first

    const { orderId } = await paymentNow(authorized);
    const byOrder = await rest("GET", `/v1/admin/payments?orderId=${orderId}`);
    expect(byOrder.body.payments.map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([
      [authorized, "PAYMENT_STATUS_AUTHORIZED"],
    ]);
  });

  it("when a customer, a seller or nobody lists or refunds payments over REST, then 403 or 401", async () => {
    const paymentId = await cardPayment(500n);
    const customer = (await auth.login(devAccounts.customer)).tokens!.accessToken;
    const seller = (await auth.login(devAccounts.seller)).tokens!.accessToken;
    const refund = { amount: { currencyCode: "USD", amountMinor: "1" }, reason: "x" };
    for (const [token, status] of [
      [customer, 403],
      [seller, 403],
      ["", 401],
    ] as const) {
      const asThem = token ? { token } : { token: undefined };
      expect((await rest("GET", "/v1/admin/payments", asThem)).status).toBe(status);
      expect((await rest("POST", `/v1/admin/payments/${paymentId}:refund`, { ...asThem, body: refund })).status).toBe(
        status,
      );
    }
    expect((await paymentNow(paymentId)).refunded?.amountMinor).toBe(0n);
  });
});

describe("refunding a payment", () => {
  it("when an admin refunds part over REST and then the rest, then the payment is partially refunded, then refunded", async () => {
    const paymentId = await cardPayment(2_500n);
    const part = await rest("POST", `/v1/admin/payments/${paymentId}:refund`, {
      body: {
        amount: { currencyCode: "USD", amountMinor: "1000" },
        reason: "one item broken",
        refundKey: randomUUID(),
      },
    });
    expect(part.status).toBe(200);
    expect(part.body.payment).toMatchObject({
      status: "PAYMENT_STATUS_PARTIALLY_REFUNDED",
      refunded: { currencyCode: "USD", amountMinor: "1000" },
    });
    expect(part.body.refund.refundKey).toMatch(/^admin:/);

    const remainder = await rest("POST", `/v1/admin/payments/${paymentId}:refund`, {
      body: { amount: { currencyCode: "USD", amountMinor: "1500" }, reason: "the rest, order returned" },
    });
    expect(remainder.status).toBe(200);
    expect(remainder.body.payment).toMatchObject({
      status: "PAYMENT_STATUS_REFUNDED",
      refunded: { currencyCode: "USD", amountMinor: "2500" },
    });
    expect(
      remainder.body.payment.refunds.map((r: { amount: { amountMinor: string } }) => r.amount.amountMinor),
    ).toEqual(["1000", "1500"]);
  });

  it("when a refund is more than is left, then REFUND_EXCEEDS_CAPTURE over REST and gRPC, and nothing changed", async () => {
    const paymentId = await cardPayment(1_000n);
    await admin.refundPayment({ id: paymentId, amount: usd(700n), reason: "most of it" }, asAdmin);
    const before = await paymentNow(paymentId);

    const answer = await rest("POST", `/v1/admin/payments/${paymentId}:refund`, {
      body: { amount: { currencyCode: "USD", amountMinor: "301" }, reason: "too much" },
    });
    expect([answer.status, answer.body.reason]).toEqual([400, "REFUND_EXCEEDS_CAPTURE"]);
    const error = await failureOf(
      admin.refundPayment({ id: paymentId, amount: usd(301n), reason: "too much" }, asAdmin),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(error)).toEqual({
      reason: "REFUND_EXCEEDS_CAPTURE",
      metadata: { payment_id: paymentId, requested: "301", refundable: "300" },
    });

    const after = await paymentNow(paymentId);
    expect(after.refunded).toEqual(before.refunded);
    expect(after.status).toBe(PaymentStatus.PARTIALLY_REFUNDED);
    expect(after.refunds.map((r) => r.id)).toEqual(before.refunds.map((r) => r.id));
  });

  it("when an unknown payment is refunded, then not_found; an uncaptured one, ILLEGAL_PAYMENT_STATUS", async () => {
    const unknown = admin.refundPayment({ id: randomUUID(), amount: usd(1n), reason: "x" }, asAdmin);
    expect((await failureOf(unknown)).code).toBe(Code.NotFound);
    const authorized = await cardPayment(500n, false);
    const error = await failureOf(admin.refundPayment({ id: authorized, amount: usd(1n), reason: "x" }, asAdmin));
    expect(errorInfoOf(error)).toEqual({
      reason: "ILLEGAL_PAYMENT_STATUS",
      metadata: { payment_id: authorized, status: "PAYMENT_STATUS_AUTHORIZED" },
    });
  });

  it("when admins refund one payment concurrently, then the refunds never add up to more than the capture", async () => {
    const paymentId = await cardPayment(1_000n);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        admin
          .refundPayment({ id: paymentId, amount: usd(150n), reason: `claim ${i}`, refundKey: randomUUID() }, asAdmin)
          .then(
            () => "refunded",
            (error) => errorInfoOf(error)?.reason ?? String(error),
          ),
      ),
    );
    expect(outcomes.filter((o) => o === "refunded")).toHaveLength(6);
    expect(outcomes.filter((o) => o === "REFUND_EXCEEDS_CAPTURE")).toHaveLength(4);
    const after = await paymentNow(paymentId);
    expect(after.refunded?.amountMinor).toBe(900n);
    expect(after.refunds).toHaveLength(6);
  });

  it("when the same refund is sent twice, with one key or with none, then it refunds once", async () => {
    const paymentId = await cardPayment(1_000n);
    const refundKey = randomUUID();
    const keyed = { amount: { currencyCode: "USD", amountMinor: "200" }, reason: "late delivery", refundKey };
    const first = await rest("POST", `/v1/admin/payments/${paymentId}:refund`, { body: keyed });
    const again = await rest("POST", `/v1/admin/payments/${paymentId}:refund`, { body: keyed });
    expect(again.body.refund.id).toBe(first.body.refund.id);

    const unkeyed = { amount: { currencyCode: "USD", amountMinor: "300" }, reason: "scratched" };
    const [one, two] = await Promise.all([
      rest("POST", `/v1/admin/payments/${paymentId}:refund`, { body: unkeyed }),
      rest("POST", `/v1/admin/payments/${paymentId}:refund`, { body: unkeyed }),
    ]);
    expect([one.status, two.status]).toEqual([200, 200]);
    expect(two.body.refund.id).toBe(one.body.refund.id);

    const after = await paymentNow(paymentId);
    expect(after.refunded?.amountMinor).toBe(500n);
    expect(after.refunds).toHaveLength(2);
  });
});

describe("the audit trail", () => {
  it("when an admin refunds, then the audit trail holds the refund once, with the admin, the amount and the reason", async () => {
    const paymentId = await cardPayment(1_000n);
    const refund = { id: paymentId, amount: usd(250n), reason: "wrong size sent", refundKey: "ticket-7781" };
    await admin.refundPayment(refund, asAdmin);
    await admin.refundPayment(refund, asAdmin); // a retry: the same refund, not a new action

    const audited = await eventually(
      async () =>
        (await admin.listAuditEvents({ subjectId: paymentId, eventType: "admin_action_performed" }, asAdmin)).events,
      (events) => events.length > 0,
      5_000,
      20,
    );
    // Give a second entry, were there one, the time the first took to arrive.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { events } = await admin.listAuditEvents(
      { subjectId: paymentId, eventType: "admin_action_performed" },
      asAdmin,
    );
    expect(events).toHaveLength(1);
    expect(audited[0]?.actorId).toBe(devAccounts.admin.id);
    expect(JSON.parse(events[0]!.payloadJson)).toMatchObject({
      action: "RefundPayment",
      targetType: "payment",
      targetId: paymentId,
    });
    expect(JSON.parse(JSON.parse(events[0]!.payloadJson).detailsJson)).toEqual({
      id: paymentId,
      amount: { currencyCode: "USD", amountMinor: "250" },
      reason: "wrong size sent",
      refundKey: "admin:ticket-7781",
    });
    // The payment service's own event about the refund is in the same trail, said in words.
    const aboutPayment = await eventually(
      async () =>
        (await admin.listAuditEvents({ subjectId: paymentId, eventType: "payment_refunded" }, asAdmin)).events,
      (events) => events.length > 0,
      5_000,
      20,
    );
    expect(aboutPayment.map((e) => e.summary)).toEqual([
      `payment ${paymentId} of order ${(await paymentNow(paymentId)).orderId}: 250 USD refunded, 250 USD in all`,
    ]);
  });
});
