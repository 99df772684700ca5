// A seller cancels their shop's part of a two-shop card order against the real mesh: the units
// go back on hand, the refund (subtotal plus tax share) is recorded in the order database to the
// minor unit, the other shop's order goes on, and the buyer and the seller see it live. Then the
// order service is SIGKILLed right after a cancellation commits and, restarted on the same data,
// finishes it exactly once: the stock returned once, one refund row with the exact amount.
import { randomBytes, randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  OrderStatus,
  PaymentMethod,
  PaymentStatus,
  ShopOrderStatus,
  type Order,
  type WatchOrdersResponse,
  type WatchShopOrdersResponse,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import { PaymentService, PaymentStatus as ProtoPaymentStatus } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { errorInfoOf } from "../../services/kit/error-info.ts";
import { bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { eventsAbout } from "../support/events.ts";
import {
  cancelledShopOrderUnitsAddUp,
  ordersSettled,
  query,
  refundsWithinPayments,
  shopOrdersAddUp,
} from "../support/invariants.ts";
import { callRest } from "../support/rest.ts";
import { devSellerShelf, registerCustomer, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh({
  env: {
    // A flat shipping cost, so the last shop order's refund carries it.
    BAZAAR_SHIPPING_COST_MINOR: "499",
    // Recovery takes over a crashed cancellation within a second of the restart.
    BAZAAR_ORDER_RECOVER_AFTER_MS: "3000",
    BAZAAR_ORDER_RECOVERY_SWEEP_MS: "500",
  },
});
const { admin, auth, carts, orders, products, shops, shopOrders } = e2e;

/** Seller A: the dev seller and one of their shops. Seller B: a new seller with a shop of their own. */
const sellerA = { options: {} as ReturnType<typeof bearer>, token: "", shopId: "" };
const sellerB = { options: {} as ReturnType<typeof bearer>, token: "", shopId: "" };
let categoryId = "";

beforeAll(async () => {
  const shelf = await devSellerShelf(auth, products);
  sellerA.options = shelf.asSeller;
  sellerA.token = tokenOf(shelf.asSeller);
  sellerA.shopId = shelf.shopId;
  categoryId = shelf.categoryId;
  const registered = await auth.register({
    email: `seller-b-${randomBytes(4).toString("hex")}@example.test`,
    password: "password-123",
    displayName: "Seller B",
    role: Role.SELLER,
  });
  sellerB.token = registered.tokens!.accessToken;
  sellerB.options = bearer(sellerB.token);
  const { shop } = await shops.createShop(
    {
      shop: {
        name: `Second shop ${randomBytes(3).toString("hex")}`,
        address: { line1: "9 Side St", city: "Berlin", postalCode: "10999", countryCode: "DE" },
        location: { latitude: 52.5, longitude: 13.41 },
      },
    },
    sellerB.options,
  );
  sellerB.shopId = shop!.id;
});

function tokenOf(options: ReturnType<typeof bearer>): string {
  return (options.headers as Record<string, string>).authorization!.slice("Bearer ".length);
}

const address = {
  recipientName: "Margaret",
  line1: "4 Refund Road",
  city: "Berlin",
  postalCode: "10115",
  countryCode: "DE",
};

async function newProduct(seller: typeof sellerA, cents: bigint, stockOnHand: number) {
  const { product } = await products.createProduct(
    {
      product: {
        shopId: seller.shopId,
        categoryId,
        name: `Cancel item ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: cents },
        stockOnHand,
      },
    },
    seller.options,
  );
  return product!.id;
}

// Read signed in: the edge caches anonymous catalog reads for a moment.
const onHand = async (id: string) => (await products.getProduct({ id }, sellerA.options)).product!.stockOnHand;

const refundRows = (orderId: string) =>
  query<{ refund_key: string; shop_order_id: string | null; amount_minor: string }>(
    e2e.mesh.mysqlUrl,
    e2e.mesh.env.BAZAAR_ORDER_DB!,
    "SELECT refund_key, shop_order_id, CAST(amount_minor AS CHAR) AS amount_minor FROM order_refunds WHERE order_id = ? ORDER BY id",
    [orderId],
  );

/**
 * A new buyer's card order of 2 × 12.50 from shop A and 1 × 8.30 from shop B: subtotal 33.30,
 * tax 5 % = 1.665 → 1.67, shipping 4.99, total 39.96. Tax shares by subtotal: A 1.25375 → 1.25,
 * B 0.41625 → 0.41 + the cent left over (larger remainder) = 0.42.
 */
async function twoShopOrder() {
  const me = await registerCustomer(auth, "cancel");
  const [a, b] = [await newProduct(sellerA, 1250n, 5), await newProduct(sellerB, 830n, 5)];
  await carts.addCartItem({ productId: a, quantity: 2 }, me);
  await carts.addCartItem({ productId: b, quantity: 1 }, me);
  const { order } = await orders.placeOrder(
    {
      idempotencyKey: randomUUID(),
      shippingAddress: address,
      payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
    },
    me,
  );
  expect(order).toMatchObject({ status: OrderStatus.CONFIRMED, total: { amountMinor: 3996n } });
  const mine = order!.shopOrders.find((s) => s.shopId === sellerA.shopId)!;
  const theirs = order!.shopOrders.find((s) => s.shopId === sellerB.shopId)!;
  return { me, order: order!, a, b, mine, theirs };
}

/** Collects a server stream in the background until stopped. */
function collect<T>(open: (signal: AbortSignal) => AsyncIterable<T>) {
  const abort = new AbortController();
  const updates: T[] = [];
  const ended = (async () => {
    try {
      for await (const update of open(abort.signal)) updates.push(update);
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  return {
    updates,
    async until(seen: (update: T) => boolean, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!updates.some(seen) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(updates.some(seen)).toBe(true);
    },
    async stop() {
      abort.abort();
      await ended;
    },
  };
}

describe("a seller cancels their shop order of a two-shop card order", () => {
  it("when seller A cancels, then A's units are back, the exact refund is recorded, B's shop order is untouched, and buyer and seller see it live", async () => {
    const { me, order, a, b, mine, theirs } = await twoShopOrder();
    expect([await onHand(a), await onHand(b)]).toEqual([3, 4]);
    const since = timestampFromDate(new Date(Date.now() - 60_000));
    const buyerWatch = collect<WatchOrdersResponse>((signal) =>
      orders.watchOrders({ sinceTime: since }, { ...me, signal }),
    );
    const sellerWatch = collect<WatchShopOrdersResponse>((signal) =>
      shopOrders.watchShopOrders({ shopId: sellerA.shopId, sinceTime: since }, { ...sellerA.options, signal }),
    );
    await buyerWatch.until((u) => u.order!.id === order.id && u.order!.status === OrderStatus.CONFIRMED);

    const started = Date.now();
    const { shopOrder } = await shopOrders.cancelShopOrder({ id: mine.id, reason: "the kiln broke" }, sellerA.options);
    expect(shopOrder).toMatchObject({
      status: ShopOrderStatus.CANCELLED,
      refunded: { currencyCode: "USD", amountMinor: 2625n },
    });
    const cancelledMine = (u: WatchOrdersResponse) =>
      u.order!.id === order.id &&
      u.order!.shopOrders.find((s) => s.id === mine.id)?.status === ShopOrderStatus.CANCELLED;
    await buyerWatch.until(cancelledMine);
    await sellerWatch.until((u) => u.shopOrder!.id === mine.id && u.shopOrder!.status === ShopOrderStatus.CANCELLED);
    expect(Date.now() - started).toBeLessThan(5_000);
    const seenByBuyer = buyerWatch.updates.find(cancelledMine)!.order!;
    expect(seenByBuyer.status).toBe(OrderStatus.CONFIRMED);
    expect(seenByBuyer.shopOrders.find((s) => s.id === mine.id)!.statusHistory.at(-1)!.note).toBe("the kiln broke");
    await buyerWatch.stop();
    await sellerWatch.stop();

    // Stock of A's product back on hand, B's still sold; exactly one refund row of 25.00 + 1.25.
    expect(
      await eventually(
        () => onHand(a),
        (units) => units === 5,
      ),
    ).toBe(5);
    expect(await onHand(b)).toBe(4);
    expect(await refundRows(order.id)).toEqual([{ refund_key: mine.id, shop_order_id: mine.id, amount_minor: "2625" }]);

    const after = (await orders.getOrder({ id: order.id }, me)).order!;
    expect(after).toMatchObject({
      status: OrderStatus.CONFIRMED,
      refunded: { amountMinor: 2625n },
      payment: expect.objectContaining({ status: PaymentStatus.CAPTURED }),
    });
    const untouched = after.shopOrders.find((s) => s.id === theirs.id)!;
    expect(untouched).toMatchObject({ status: ShopOrderStatus.CONFIRMED, refunded: { amountMinor: 0n } });
    // The payment service gave back exactly that share of the capture, under the shop order's key.
    const { payment } = await e2e
      .internal(PaymentService, "payment")
      .getPayment({ id: after.payment!.paymentId }, await e2e.asService("order"));
    expect(payment).toMatchObject({
      status: ProtoPaymentStatus.PARTIALLY_REFUNDED,
      captured: { amountMinor: 3996n },
      refunded: { amountMinor: 2625n },
    });
    expect(payment!.refunds.map((refund) => [refund.refundKey, refund.amount!.amountMinor])).toEqual([
      [mine.id, 2625n],
    ]);
    expect(untouched.statusHistory).toHaveLength(2);
    expect(await eventsAbout(e2e.mesh.natsUrl, mine.id, "bazaar.order.>")).toEqual([
      "bazaar.order.shop_order_status_changed",
    ]);
    // The audit trail names the move, the refund and the reason.
    const asAdmin = await signIn(auth, devAccounts.admin);
    const { events: audited } = await eventually(
      () => admin.listAuditEvents({ subjectId: mine.id, eventType: "shop_order_status_changed" }, asAdmin),
      ({ events }) => events.length > 0,
    );
    expect(audited.map((event) => event.summary)).toEqual([
      `shop order ${mine.id} of order ${order.id} CONFIRMED → CANCELLED, refunded 2625 USD: the kiln broke`,
    ]);

    // B may still fulfil theirs; cancelling it too refunds the rest (8.30 + 0.42 + 4.99) and
    // the order is CANCELLED, its refunds adding up to its total.
    const { shopOrder: last } = await shopOrders.cancelShopOrder({ id: theirs.id, reason: "closed" }, sellerB.options);
    expect(last?.refunded?.amountMinor).toBe(1371n);
    const cancelled = (await orders.getOrder({ id: order.id }, me)).order!;
    expect(cancelled).toMatchObject({
      status: OrderStatus.CANCELLED,
      refunded: { amountMinor: 3996n },
      payment: expect.objectContaining({ status: PaymentStatus.REFUNDED }),
    });
    const amounts = (await refundRows(order.id)).map((row) => BigInt(row.amount_minor));
    expect(amounts.reduce((sum, amount) => sum + amount, 0n)).toBe(3996n);
    expect(
      await eventually(
        () => onHand(b),
        (units) => units === 5,
      ),
    ).toBe(5);
  });

  it("when another seller (not_found) or the buyer (permission_denied) cancels A's shop order, then nothing changes", async () => {
    const { me, order, a, mine } = await twoShopOrder();
    for (const [options, code] of [
      [sellerB.options, Code.NotFound],
      [me, Code.PermissionDenied],
    ] as const) {
      const refused = await failureOf(shopOrders.cancelShopOrder({ id: mine.id, reason: "not mine" }, options));
      expect(refused.code).toBe(code);
    }
    const rest = await callRest(e2e.mesh.edgeUrl, "POST", `/v1/shop-orders/${mine.id}:cancel`, {
      token: sellerB.token,
      body: { reason: "not mine" },
    });
    expect([rest.status, rest.body.code]).toEqual([404, "not_found"]);
    expect((await orders.getOrder({ id: order.id }, me)).order!.shopOrders.find((s) => s.id === mine.id)).toMatchObject(
      { status: ShopOrderStatus.CONFIRMED, refunded: { amountMinor: 0n } },
    );
    expect(await onHand(a)).toBe(3);
    expect(await refundRows(order.id)).toEqual([]);
  });

  it("when A cancels over REST without a reason, then invalid_argument names reason; with one, the shop order is CANCELLED", async () => {
    const { order, mine } = await twoShopOrder();
    const path = `/v1/shop-orders/${mine.id}:cancel`;
    const refused = await callRest(e2e.mesh.edgeUrl, "POST", path, { token: sellerA.token, body: { reason: "" } });
    expect([refused.status, refused.body.code]).toEqual([400, "invalid_argument"]);
    expect(JSON.stringify(refused.body)).toContain("reason");
    const done = await callRest(e2e.mesh.edgeUrl, "POST", path, { token: sellerA.token, body: { reason: "sold out" } });
    expect(done.status).toBe(200);
    expect(done.body.shopOrder).toMatchObject({
      status: "SHOP_ORDER_STATUS_CANCELLED",
      refunded: { currencyCode: "USD", amountMinor: "2625" },
    });
    expect((await refundRows(order.id)).map((row) => row.amount_minor)).toEqual(["2625"]);
  });

  it("when A's shop order is already shipped, then failed_precondition names both states and nothing is returned", async () => {
    const { order, a, mine } = await twoShopOrder();
    await shopOrders.acceptShopOrder({ id: mine.id }, sellerA.options);
    await shopOrders.shipShopOrder({ id: mine.id, carrier: "DHL", trackingNumber: "JJD1" }, sellerA.options);
    const refused = await failureOf(shopOrders.cancelShopOrder({ id: mine.id, reason: "too late" }, sellerA.options));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(refused)).toEqual({
      reason: "ILLEGAL_STATUS_TRANSITION",
      metadata: {
        order_id: order.id,
        shop_order_id: mine.id,
        from: "SHOP_ORDER_STATUS_SHIPPED",
        to: "SHOP_ORDER_STATUS_CANCELLED",
      },
    });
    expect(await onHand(a)).toBe(3);
    expect(await refundRows(order.id)).toEqual([]);
  });

  it("when the whole order is cancelled after A's shop order was, then only the rest is refunded and A's units come back once", async () => {
    const { me, order, a, b, mine } = await twoShopOrder();
    await shopOrders.cancelShopOrder({ id: mine.id, reason: "the kiln broke" }, sellerA.options);
    const { order: cancelled } = await orders.cancelOrder({ id: order.id, reason: "rather not" }, me);
    expect(cancelled).toMatchObject({ status: OrderStatus.CANCELLED, refunded: { amountMinor: 3996n } });
    expect((await refundRows(order.id)).map((row) => [row.refund_key, row.amount_minor])).toEqual([
      [mine.id, "2625"],
      [order.id, "1371"],
    ]);
    expect([await onHand(a), await onHand(b)]).toEqual([5, 5]);
  });
});

describe("an order service killed in the middle of a shop order's cancellation", () => {
  it("when it dies right after the cancellation commits, then after restart the stock is returned once and one refund row holds the exact amount", async () => {
    const { me, order, a, b, mine } = await twoShopOrder();
    await e2e.mesh.kill("order", "SIGTERM");
    e2e.mesh.relaunch("order", { BAZAAR_ORDER_CRASH_AT: "before-stock-give-back" });
    await e2e.mesh.ready(60_000);

    const failure = await failureOf(shopOrders.cancelShopOrder({ id: mine.id, reason: "flooded" }, sellerA.options));
    expect(failure.code).toBe(Code.Unavailable);
    expect(await e2e.mesh.exited("order")).toMatch(/SIGKILL|not running/);
    // The cancellation committed before the crash; its stock and refund had not happened yet.
    expect(await onHand(a)).toBe(3);
    expect(await refundRows(order.id)).toEqual([{ refund_key: mine.id, shop_order_id: mine.id, amount_minor: "2625" }]);

    e2e.mesh.relaunch("order", { BAZAAR_ORDER_CRASH_AT: "none" });
    await e2e.mesh.ready(60_000);
    const settled = async () =>
      (
        await query<{ settle_after: Date | null }>(
          e2e.mesh.mysqlUrl,
          e2e.mesh.env.BAZAAR_ORDER_DB!,
          "SELECT settle_after FROM shop_orders WHERE id = ?",
          [mine.id],
        )
      )[0]!.settle_after === null;
    expect(await eventually(settled, (done) => done, 30_000, 200)).toBe(true);
    expect(await onHand(a)).toBe(5);
    expect(await onHand(b)).toBe(4);
    expect(await refundRows(order.id)).toEqual([{ refund_key: mine.id, shop_order_id: mine.id, amount_minor: "2625" }]);
    const after: Order = (await orders.getOrder({ id: order.id }, me)).order!;
    expect(after.status).toBe(OrderStatus.CONFIRMED);
    expect(after.shopOrders.find((s) => s.id === mine.id)).toMatchObject({
      status: ShopOrderStatus.CANCELLED,
      refunded: { amountMinor: 2625n },
    });
    // Once more for good measure: a later sweep changes nothing.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await onHand(a)).toBe(5);
  }, 120_000);
});

describe("the invariants over every order of this file", () => {
  it("when every cancellation has settled, then each returned its lines' units, no refund exceeds what was paid, and nothing is outstanding", async () => {
    const stores = {
      mysqlUrl: e2e.mesh.mysqlUrl,
      natsUrl: e2e.mesh.natsUrl,
      databases: { order: e2e.mesh.env.BAZAAR_ORDER_DB!, product: e2e.mesh.env.BAZAAR_PRODUCT_DB! },
    };
    const check = async () => [
      ...(await ordersSettled(stores)),
      ...(await shopOrdersAddUp(stores)),
      ...(await cancelledShopOrderUnitsAddUp(stores)),
      ...(await refundsWithinPayments(stores)),
    ];
    expect(await eventually(check, (violations) => violations.length === 0, 15_000, 250)).toEqual([]);
  });
});
