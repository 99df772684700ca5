// Orders after checkout against the real mesh: the buyer watching their orders live, admins
// moving them along the status machine over the internal service, cancellations giving stock
// and payment back, another buyer seeing none of it, and the watch resuming across a restart
// of the order service without missing a change.
import { randomBytes, randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type CallOptions, Code, ConnectError, type Client } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  OrderAdminService,
  OrderStatus,
  PaymentMethod,
  PaymentStatus,
  ShopOrderStatus,
  type WatchOrdersResponse,
  type WatchShopOrdersResponse,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { errorInfoOf } from "../../services/kit/error-info.ts";
import { callRest } from "../support/rest.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { devSellerShelf, registerCustomer } from "../support/shoppers.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { eventsAbout, expectEvents } from "../support/events.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const { auth, carts, orders, products, shopOrders } = e2e;
let admin: Client<typeof OrderAdminService>;
let asSeller: ReturnType<typeof bearer>;
let asAdminService: CallOptions;
let shopId = "";
let categoryId = "";

beforeAll(async () => {
  asAdminService = await e2e.asService("admin");
  admin = e2e.internal(OrderAdminService, "order");
  ({ asSeller, shopId, categoryId } = await devSellerShelf(auth, products));
});

const address = {
  recipientName: "Grace",
  line1: "2 Order Street",
  city: "Berlin",
  postalCode: "10115",
  countryCode: "DE",
};
const byCard = { method: PaymentMethod.CARD, cardToken: "tok_visa" };

const newCustomer = () => registerCustomer(auth, "orders");

async function newProduct(cents: bigint, stockOnHand: number, inShop = shopId) {
  const { product } = await products.createProduct(
    {
      product: {
        shopId: inShop,
        categoryId,
        name: `Order item ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: cents },
        stockOnHand,
      },
    },
    asSeller,
  );
  return product!.id;
}

const stockOf = async (id: string) => {
  const { product } = await products.getProduct({ id }, asSeller);
  return { onHand: product!.stockOnHand, available: product!.stockAvailable };
};

async function confirmedOrder(me: ReturnType<typeof bearer>, productId: string, quantity = 1) {
  await carts.addCartItem({ productId, quantity }, me);
  const { order } = await orders.placeOrder(
    { idempotencyKey: randomUUID(), shippingAddress: address, payment: byCard },
    me,
  );
  expect(order!.status).toBe(OrderStatus.CONFIRMED);
  return order!;
}

/** Collects a WatchOrders stream in the background until stopped. */
function watch(me: ReturnType<typeof bearer>, request: Parameters<typeof orders.watchOrders>[0] = {}) {
  const abort = new AbortController();
  const updates: WatchOrdersResponse[] = [];
  const ended = (async () => {
    try {
      for await (const update of orders.watchOrders(request, { ...me, signal: abort.signal })) updates.push(update);
      return undefined;
    } catch (error) {
      return abort.signal.aborted ? undefined : error;
    }
  })();
  return {
    updates,
    ended,
    async until(count: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (updates.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(updates.length).toBeGreaterThanOrEqual(count);
    },
    async stop() {
      abort.abort();
      return ended;
    },
  };
}

const statusesOf = (updates: WatchOrdersResponse[]) => updates.map((u) => u.order!.status);

describe("the journey after checkout", () => {
  it("when a new buyer checks out three products and an admin ships and delivers them, then the buyer's watch saw every change live and in order", async () => {
    const me = await newCustomer();
    const watcher = watch(me, { sinceTime: timestampFromDate(new Date(Date.now() - 1_000)) });
    const [a, b, c] = [await newProduct(1500n, 5), await newProduct(99n, 5), await newProduct(12345n, 5)];
    await carts.addCartItem({ productId: a, quantity: 2 }, me);
    await carts.addCartItem({ productId: b, quantity: 5 }, me);
    const order = await confirmedOrder(me, c, 1);
    // 2 × 15.00 + 5 × 0.99 + 123.45 = 158.40; 5 % tax = 7.92
    expect([order.subtotal!.amountMinor, order.tax!.amountMinor, order.total!.amountMinor]).toEqual([
      15840n,
      792n,
      16632n,
    ]);
    await watcher.until(2);
    const { cart } = await eventually(
      () => carts.getCart({}, me),
      ({ cart }) => cart!.items.length === 0,
      5_000,
      50,
    );
    expect(cart!.items).toEqual([]);
    expect((await orders.listOrders({}, me)).orders.map((o) => o.id)).toEqual([order.id]);

    const shipped = await admin.updateOrderStatus(
      { id: order.id, status: OrderStatus.SHIPPED, note: "DHL 0042" },
      asAdminService,
    );
    expect(shipped.order!.status).toBe(OrderStatus.SHIPPED);
    await watcher.until(3);
    await admin.updateOrderStatus({ id: order.id, status: OrderStatus.DELIVERED }, asAdminService);
    await watcher.until(4);
    await watcher.stop();

    expect(statusesOf(watcher.updates)).toEqual([
      OrderStatus.PENDING,
      OrderStatus.CONFIRMED,
      OrderStatus.SHIPPED,
      OrderStatus.DELIVERED,
    ]);
    expect(new Set(watcher.updates.map((u) => u.order!.id))).toEqual(new Set([order.id]));
    // Each update is the order as it stood right after that change.
    expect(watcher.updates.map((u) => u.order!.statusHistory.length)).toEqual([1, 2, 3, 4]);
    expect(watcher.updates[2]!.order!.statusHistory.at(-1)!.note).toBe("DHL 0042");
    const { order: final } = await orders.getOrder({ id: order.id }, me);
    expect(final!.statusHistory.map((s) => s.status)).toEqual(statusesOf(watcher.updates));
    // OrderPlaced is the confirmation's one event; OrderStatusChanged tells each later move.
    const changed = "bazaar.order.order_status_changed";
    await expectEvents(e2e.mesh.natsUrl, order.id, "bazaar.order.>", [changed, "bazaar.order.order_placed"]);
    expect((await eventsAbout(e2e.mesh.natsUrl, order.id, "bazaar.order.>")).sort()).toEqual([
      "bazaar.order.order_placed",
      changed,
      changed,
    ]);
  });

  it("when an admin makes an illegal move, then failed_precondition names both states and nothing changes", async () => {
    const me = await newCustomer();
    const order = await confirmedOrder(me, await newProduct(900n, 5));
    const backwards = await failureOf(
      admin.updateOrderStatus({ id: order.id, status: OrderStatus.PENDING }, asAdminService),
    );
    expect(backwards.code).toBe(Code.FailedPrecondition);
    expect(backwards.rawMessage).toBe("an order cannot move from CONFIRMED to PENDING");
    const skipping = await failureOf(
      admin.updateOrderStatus({ id: order.id, status: OrderStatus.DELIVERED }, asAdminService),
    );
    expect(skipping.rawMessage).toBe("an order cannot move from CONFIRMED to DELIVERED");
    expect((await orders.getOrder({ id: order.id }, me)).order!.statusHistory).toHaveLength(2);
    expect(
      (await failureOf(admin.updateOrderStatus({ id: randomUUID(), status: OrderStatus.SHIPPED }, asAdminService)))
        .code,
    ).toBe(Code.NotFound);
  });

  it("when the admin service lists all orders, then the user, status and time filters and keyset pages hold", async () => {
    const me = await newCustomer();
    const productId = await newProduct(100n, 20);
    const first = await confirmedOrder(me, productId);
    const between = new Date();
    const second = await confirmedOrder(me, productId);
    const third = await confirmedOrder(me, productId);
    await admin.updateOrderStatus({ id: third.id, status: OrderStatus.PROCESSING }, asAdminService);

    const mine = await admin.listAllOrders({ userId: me.id }, asAdminService);
    expect(mine.orders.map((o) => o.id)).toEqual([third.id, second.id, first.id]);
    const processing = await admin.listAllOrders({ userId: me.id, status: OrderStatus.PROCESSING }, asAdminService);
    expect(processing.orders.map((o) => o.id)).toEqual([third.id]);
    const recent = await admin.listAllOrders(
      { userId: me.id, createTimeFrom: timestampFromDate(between) },
      asAdminService,
    );
    expect(recent.orders.map((o) => o.id)).toEqual([third.id, second.id]);
    const early = await admin.listAllOrders(
      { userId: me.id, createTimeTo: timestampFromDate(between) },
      asAdminService,
    );
    expect(early.orders.map((o) => o.id)).toEqual([first.id]);

    const paged: string[] = [];
    let pageToken = "";
    do {
      const page = await admin.listAllOrders({ userId: me.id, pageSize: 2, pageToken }, asAdminService);
      paged.push(...page.orders.map((o) => o.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(paged).toEqual([third.id, second.id, first.id]);

    const backwards = await failureOf(
      admin.listAllOrders(
        { createTimeFrom: timestampFromDate(new Date()), createTimeTo: timestampFromDate(between) },
        asAdminService,
      ),
    );
    expect(backwards.code).toBe(Code.InvalidArgument);
  });

  it("when a buyer or any other caller reaches for the internal order service, then they are refused", async () => {
    const me = await newCustomer();
    expect((await failureOf(admin.listAllOrders({}, me))).code).toBe(Code.PermissionDenied);
    expect((await failureOf(admin.listAllOrders({}))).code).toBe(Code.Unauthenticated);
  });
});

describe("cancelling", () => {
  it("when a buyer cancels a confirmed card order, then it is CANCELLED, refunded, and the units are back on hand", async () => {
    const me = await newCustomer();
    const productId = await newProduct(2500n, 6);
    const order = await confirmedOrder(me, productId, 4);
    expect(await stockOf(productId)).toEqual({ onHand: 2, available: 2 });

    const { order: cancelled } = await orders.cancelOrder({ id: order.id, reason: "changed my mind" }, me);
    expect(cancelled).toMatchObject({
      status: OrderStatus.CANCELLED,
      payment: expect.objectContaining({ status: PaymentStatus.REFUNDED }),
    });
    expect(cancelled!.statusHistory.at(-1)!.note).toBe("changed my mind");
    expect(await stockOf(productId)).toEqual({ onHand: 6, available: 6 });

    await expectEvents(e2e.mesh.natsUrl, order.id, "bazaar.order.>", ["bazaar.order.order_cancelled"]);

    const again = await failureOf(orders.cancelOrder({ id: order.id }, me));
    expect(again.code).toBe(Code.FailedPrecondition);
    expect(await stockOf(productId)).toEqual({ onHand: 6, available: 6 });
  });

  it("when an admin cancels an order being processed, then its stock returns; a shipped order cannot be cancelled", async () => {
    const me = await newCustomer();
    const productId = await newProduct(800n, 3);
    const processing = await confirmedOrder(me, productId);
    const shipped = await confirmedOrder(me, productId);
    await admin.updateOrderStatus({ id: processing.id, status: OrderStatus.PROCESSING }, asAdminService);
    await admin.updateOrderStatus({ id: shipped.id, status: OrderStatus.SHIPPED }, asAdminService);

    const { order } = await admin.updateOrderStatus(
      { id: processing.id, status: OrderStatus.CANCELLED, note: "out of packaging" },
      asAdminService,
    );
    expect(order!.status).toBe(OrderStatus.CANCELLED);
    expect(await stockOf(productId)).toEqual({ onHand: 2, available: 2 });

    const refused = await failureOf(orders.cancelOrder({ id: shipped.id }, me));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toBe("an order cannot move from SHIPPED to CANCELLED");
  });

  it("when a cash-on-delivery order is cancelled, then nothing is refunded and the stock returns", async () => {
    const me = await newCustomer();
    const productId = await newProduct(300n, 2);
    await carts.addCartItem({ productId, quantity: 2 }, me);
    const { order } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment: { method: PaymentMethod.CASH_ON_DELIVERY } },
      me,
    );
    const { order: cancelled } = await orders.cancelOrder({ id: order!.id }, me);
    expect(cancelled!.payment!.status).toBe(PaymentStatus.DUE_ON_DELIVERY);
    expect(await stockOf(productId)).toEqual({ onHand: 2, available: 2 });
  });
});

describe("another buyer", () => {
  it("when buyer B reaches for buyer A's cart and orders, then not_found everywhere and A's data is unchanged", async () => {
    const alice = await newCustomer();
    const bob = await newCustomer();
    const productId = await newProduct(400n, 10);
    const order = await confirmedOrder(alice, productId);
    await carts.addCartItem({ productId, quantity: 3 }, alice);
    const bobWatch = watch(bob, { sinceTime: timestampFromDate(new Date(Date.now() - 60_000)) });

    expect((await failureOf(orders.getOrder({ id: order.id }, bob))).code).toBe(Code.NotFound);
    expect((await failureOf(orders.cancelOrder({ id: order.id }, bob))).code).toBe(Code.NotFound);
    expect((await orders.listOrders({}, bob)).orders).toEqual([]);
    // Cart calls always mean the caller's own cart: Alice's line is not in Bob's.
    expect((await failureOf(carts.removeCartItem({ productId }, bob))).code).toBe(Code.NotFound);
    expect((await failureOf(carts.updateCartItem({ productId, quantity: 1 }, bob))).code).toBe(Code.NotFound);
    await carts.clearCart({}, bob);
    await admin.updateOrderStatus({ id: order.id, status: OrderStatus.PROCESSING }, asAdminService);

    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await bobWatch.stop()).toBeUndefined();
    expect(bobWatch.updates).toEqual([]);
    expect((await carts.getCart({}, alice)).cart!.items.map((i) => [i.productId, i.quantity])).toEqual([
      [productId, 3],
    ]);
    expect((await orders.getOrder({ id: order.id }, alice)).order!.status).toBe(OrderStatus.PROCESSING);
  });
});

describe("watching across a restart", () => {
  it("when the order service restarts, then a watch resumed with its last token gets exactly the changes it missed, then live ones", async () => {
    const me = await newCustomer();
    const watcher = watch(me);
    // The watch starts at "now": wait until it is surely attached before the order is placed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const order = await confirmedOrder(me, await newProduct(700n, 5));
    await watcher.until(2);

    await e2e.mesh.kill("order", "SIGKILL");
    expect(codeOf(await watcher.ended)).toBe(Code.Unavailable);
    e2e.mesh.relaunch("order");
    await e2e.mesh.ready(60_000);
    const resumeToken = watcher.updates.at(-1)!.resumeToken;

    await admin.updateOrderStatus({ id: order.id, status: OrderStatus.PROCESSING }, asAdminService);
    await admin.updateOrderStatus({ id: order.id, status: OrderStatus.SHIPPED }, asAdminService);
    const resumed = watch(me, { resumeToken });
    await resumed.until(2);
    await admin.updateOrderStatus({ id: order.id, status: OrderStatus.DELIVERED }, asAdminService);
    await resumed.until(3);
    await resumed.stop();
    expect(statusesOf(resumed.updates)).toEqual([OrderStatus.PROCESSING, OrderStatus.SHIPPED, OrderStatus.DELIVERED]);
  }, 120_000);

  it("when a watch asks with a forged token or too far back, then invalid_argument", async () => {
    const me = await newCustomer();
    const forged = watch(me, { resumeToken: "bm90LWEtdG9rZW4" });
    expect(codeOf(await forged.ended)).toBe(Code.InvalidArgument);
    const ancient = watch(me, { sinceTime: timestampFromDate(new Date(Date.now() - 8 * 24 * 3_600_000)) });
    expect(codeOf(await ancient.ended)).toBe(Code.InvalidArgument);
  });
});

const codeOf = (error: unknown) => (error === undefined ? undefined : ConnectError.from(error).code);

describe("a seller fulfils their part of an order", () => {
  it("when the seller accepts, ships with tracking and delivers one shop order of a two-shop order, then the buyer's watch sees each change live and the other shop order is unaffected", async () => {
    const { products: shelf } = await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 100 });
    const otherShop = shelf.map((p) => p.shopId).find((id) => id !== shopId)!;
    expect(otherShop).toBeDefined();
    const me = await newCustomer();
    const [a, b] = [await newProduct(1250n, 5), await newProduct(830n, 5, otherShop)];
    await carts.addCartItem({ productId: a, quantity: 2 }, me);
    await carts.addCartItem({ productId: b, quantity: 1 }, me);
    const { order } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment: byCard },
      me,
    );
    const mine = order!.shopOrders.find((s) => s.shopId === shopId)!;
    const other = order!.shopOrders.find((s) => s.shopId === otherShop)!;
    const watching = watch(me, { sinceTime: timestampFromDate(new Date(Date.now() - 60_000)) });
    await watching.until(2); // PENDING and CONFIRMED, replayed

    const started = Date.now();
    await shopOrders.acceptShopOrder({ id: mine.id }, asSeller);
    await watching.until(3);
    const tracking = { carrier: "DHL", trackingNumber: "JJD0099", trackingUrl: "https://track.example/JJD0099" };
    await shopOrders.shipShopOrder({ id: mine.id, ...tracking }, asSeller);
    await watching.until(4);
    await shopOrders.deliverShopOrder({ id: mine.id }, asSeller);
    await watching.until(5);
    const liveMs = Date.now() - started;
    expect(await watching.stop()).toBeUndefined();

    const seen = watching.updates.slice(2).map((u) => {
      const shop = u.order!.shopOrders.find((s) => s.id === mine.id)!;
      return [u.order!.status, shop.status, shop.trackingNumber];
    });
    // The order is being processed while the other shop has not moved: the rule on Order.status.
    expect(seen).toEqual([
      [OrderStatus.PROCESSING, ShopOrderStatus.PROCESSING, ""],
      [OrderStatus.PROCESSING, ShopOrderStatus.SHIPPED, "JJD0099"],
      [OrderStatus.PROCESSING, ShopOrderStatus.DELIVERED, "JJD0099"],
    ]);
    expect(liveMs).toBeLessThan(10_000);
    const after = (await orders.getOrder({ id: order!.id }, me)).order!;
    const untouched = after.shopOrders.find((s) => s.id === other.id)!;
    expect(untouched.status).toBe(ShopOrderStatus.CONFIRMED);
    expect(untouched.statusHistory).toHaveLength(2);
    expect(after.shopOrders.find((s) => s.id === mine.id)).toMatchObject({ ...tracking });
    await expectEvents(e2e.mesh.natsUrl, mine.id, "bazaar.order.>", [
      "bazaar.order.shop_order_status_changed",
      "bazaar.order.shop_order_status_changed",
      "bazaar.order.shop_order_status_changed",
    ]);

    // The buyer (a customer: refused openly) and anonymous callers cannot move it; the other shop
    // order stays as it was.
    expect((await failureOf(shopOrders.acceptShopOrder({ id: other.id }, me))).code).toBe(Code.PermissionDenied);
    expect((await failureOf(shopOrders.acceptShopOrder({ id: other.id }))).code).toBe(Code.Unauthenticated);

    // An illegal move names both states, over Connect and REST.
    const illegal = await failureOf(shopOrders.deliverShopOrder({ id: other.id }, asSeller));
    expect(illegal.code).toBe(Code.FailedPrecondition);
    const named = {
      order_id: order!.id,
      shop_order_id: other.id,
      from: "SHOP_ORDER_STATUS_CONFIRMED",
      to: "SHOP_ORDER_STATUS_DELIVERED",
    };
    expect(errorInfoOf(illegal)).toEqual({ reason: "ILLEGAL_STATUS_TRANSITION", metadata: named });
    const sellerToken = (asSeller.headers as Record<string, string>).authorization!.slice("Bearer ".length);
    const rest = await callRest(e2e.mesh.edgeUrl, "POST", `/v1/shop-orders/${other.id}:deliver`, {
      token: sellerToken,
      body: {},
    });
    expect(rest.status).toBe(400);
    expect([rest.body.code, rest.body.reason]).toEqual(["failed_precondition", "ILLEGAL_STATUS_TRANSITION"]);
    const readable = JSON.stringify(rest.body.details);
    for (const state of [named.from, named.to, named.shop_order_id]) expect(readable).toContain(state);
    expect(
      (await orders.getOrder({ id: order!.id }, me)).order!.shopOrders.find((s) => s.id === other.id)!.status,
    ).toBe(ShopOrderStatus.CONFIRMED);
  });
});

describe("a seller watches their shop's orders", () => {
  it("when the seller watches and a buyer checks out from that shop, then the new shop order arrives within a second and accepting it shows PROCESSING", async () => {
    const productId = await newProduct(610n, 5);
    const abort = new AbortController();
    const updates: Array<{ update: WatchShopOrdersResponse; at: number }> = [];
    const ended = (async () => {
      try {
        for await (const update of shopOrders.watchShopOrders({ shopId }, { ...asSeller, signal: abort.signal }))
          updates.push({ update, at: Date.now() });
      } catch (error) {
        if (!abort.signal.aborted) throw error;
      }
    })();
    const arrived = async (predicate: (u: WatchShopOrdersResponse) => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!updates.some((u) => predicate(u.update)) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      return updates.find((u) => predicate(u.update))!;
    };
    await new Promise((resolve) => setTimeout(resolve, 300));
    const me = await newCustomer();
    const order = await confirmedOrder(me, productId);
    const placedAt = Date.now();
    const mine = order.shopOrders.find((s) => s.shopId === shopId)!;
    const confirmed = await arrived(
      (u) => u.shopOrder!.id === mine.id && u.shopOrder!.status === ShopOrderStatus.CONFIRMED,
    );
    expect(confirmed).toBeDefined();
    expect(confirmed.at - placedAt).toBeLessThan(1_000);
    await shopOrders.acceptShopOrder({ id: mine.id }, asSeller);
    const acceptedAt = Date.now();
    const processing = await arrived(
      (u) => u.shopOrder!.id === mine.id && u.shopOrder!.status === ShopOrderStatus.PROCESSING,
    );
    expect(processing).toBeDefined();
    expect(processing.at - acceptedAt).toBeLessThan(1_000);
    // Without a signed-in caller there is no watch at all.
    expect(
      (
        await failureOf(
          (async () => {
            for await (const _ of shopOrders.watchShopOrders({ shopId })) break;
          })(),
        )
      ).code,
    ).toBe(Code.Unauthenticated);
    abort.abort();
    await ended;
    console.info(
      `WatchShopOrders: CONFIRMED ${confirmed.at - placedAt} ms after checkout returned, PROCESSING ${processing.at - acceptedAt} ms after accept`,
    );
  });
});
