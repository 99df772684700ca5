// ShopOrderService handlers in memory, against a database of their own, orders placed through
// OrderService with the cart, catalog, shops and stock in memory: a seller lists and watches the
// shop orders of their own shops and nobody else's, admins see any, and which code each refusal
// answers; each seller fulfils only their own (accept → ship → deliver) and the order's status
// follows.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  OrderService,
  OrderStatus,
  PaymentMethod,
  PaymentStatus,
  ShopOrderService,
  ShopOrderStatus,
  type WatchOrdersResponse,
  type WatchShopOrdersResponse,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import { errorInfoOf } from "../kit/error-info.ts";
import { uuidv7 } from "../kit/ids.ts";
import { bind } from "../kit/serve.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import { createTestTokens, oneOfEach, signedIn, type Callers, type TestTokens } from "../kit/testing/tokens.ts";
import { orderAccessRules } from "./access-rules.ts";
import type { OrderDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { cancelShopOrder } from "./domain/cancel-shop-order.ts";
import { FeedSignals } from "../kit/feed-signals.ts";
import type { OrderDeps } from "./domain/ports.ts";
import { recoverOverdueOrders } from "./domain/recovery.ts";
import {
  aCheckout,
  aProduct,
  inMemoryCarts,
  inMemoryPayments,
  inMemoryProducts,
  inMemoryStock,
} from "./in-memory-ports.ts";
import { crashingPorts } from "./crash-points.ts";
import { createOrderService } from "./order-service.ts";
import { createShopOrderService } from "./shop-order-service.ts";
import { cachedShopOwners } from "../kit/shop-owners.ts";
import { inMemoryShops } from "../kit/testing/shops.ts";

let db: Kysely<OrderDatabase>;
let tokens: TestTokens;
let callers: Callers;
let server: InMemoryServer;
let orders: Client<typeof OrderService>;
let shopOrders: Client<typeof ShopOrderService>;
const carts = inMemoryCarts();
const products = inMemoryProducts();
const stock = inMemoryStock();
/** Card payments; `payments.refunds` is every refund asked of the payment service, in order. */
const payments = inMemoryPayments();
const refundsAsked = payments.refunds;
let deps: OrderDeps;
const shops = inMemoryShops();

beforeAll(async () => {
  db = await migratedTestDatabase<OrderDatabase>("order_shop_order_handlers", migrations);
  tokens = await createTestTokens();
  callers = await oneOfEach(tokens);
  const feed = { db, signals: new FeedSignals(), pollMs: 100 };
  deps = {
    db,
    outbox: { wake() {} },
    payments,
    stock,
    pricing: { taxRateBasisPoints: 500, shippingMinor: 499n },
    currencyCode: "EUR",
    recoverAfterMs: 60_000,
    paymentWaitMs: 60_000,
    captureAtOnce: true,
  };
  server = serveInMemory({
    services: [
      bind(
        OrderService,
        createOrderService({
          ...deps,
          cart: carts.client,
          products: products.client,
          feed,
        }),
      ),
      bind(ShopOrderService, createShopOrderService({ ...deps, feed, shops: cachedShopOwners(shops.client) })),
    ],
    rules: orderAccessRules,
    verifier: tokens.verifier,
  });
  orders = server.client(OrderService);
  shopOrders = server.client(ShopOrderService);
});

afterAll(async () => {
  await db?.destroy();
});

/** A seller with a shop of their own. */
async function aSeller() {
  const seller = await signedIn(tokens, "seller");
  const shop = { ...seller, shopId: uuidv7() };
  shops.open({ shopId: shop.shopId, sellerId: seller.id });
  return shop;
}

/** A new buyer's confirmed order of one unit from each of the given shops, at the given prices. */
async function orderFrom(
  shops: Array<{ id: string; shopId: string; priceMinor: bigint }>,
  checkout: Parameters<typeof aCheckout>[0] = {},
) {
  const buyer = await signedIn(tokens, "customer");
  const lines = shops.map((shop) => {
    const product = products.shelve(
      aProduct({
        shopId: shop.shopId,
        sellerId: shop.id,
        price: { currencyCode: "EUR", amountMinor: shop.priceMinor },
      }),
    );
    stock.stock.set(product.id, 10);
    return { productId: product.id, quantity: 1 };
  });
  carts.fill(buyer.options, lines);
  const { order } = await orders.placeOrder(aCheckout(checkout), buyer.options);
  return { buyer, order: order! };
}

describe("who may call the shop order service", () => {
  const matrix = accessMatrix(ShopOrderService, {
    listShopOrders: "seller",
    getShopOrder: "seller",
    acceptShopOrder: "seller",
    shipShopOrder: "seller",
    deliverShopOrder: "seller",
    cancelShopOrder: "seller",
    watchShopOrders: "seller",
  });
  it.each(matrix)("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(server.transport, method, callers[caller])).toBe(expected);
  });
});

describe("a seller's shop orders", () => {
  it("when a buyer orders from two sellers' shops, then each seller lists and reads only the shop order of their own shop", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const { order } = await orderFrom([
      { ...alice, priceMinor: 1999n },
      { ...bob, priceMinor: 4501n },
    ]);
    const { shopOrders: alices } = await shopOrders.listShopOrders({ shopId: alice.shopId }, alice.options);
    expect(alices).toHaveLength(1);
    expect(alices[0]).toMatchObject({
      orderId: order.id,
      shopId: alice.shopId,
      sellerId: alice.id,
      subtotal: { currencyCode: "EUR", amountMinor: 1999n },
      status: ShopOrderStatus.CONFIRMED,
    });
    const { shopOrder } = await shopOrders.getShopOrder({ id: alices[0]!.id }, alice.options);
    expect(shopOrder).toEqual(alices[0]);
    // The seller sees where to send this shop order; the buyer's order carries the address once.
    expect(shopOrder!.shippingAddress).toEqual(order.shippingAddress);
    expect(shopOrder!.shippingAddress?.line1).not.toBe("");
    expect(order.shopOrders.map((s) => s.shippingAddress)).toEqual([undefined, undefined]);

    // Bob asks for Alice's: her shop is refused openly (shops are public), her shop order not found.
    const listing = await failureOf(shopOrders.listShopOrders({ shopId: alice.shopId }, bob.options));
    expect(listing.code).toBe(Code.PermissionDenied);
    expect(errorInfoOf(listing)).toEqual({ reason: "SHOP_NOT_OWNED", metadata: { shop_id: alice.shopId } });
    expect((await failureOf(shopOrders.getShopOrder({ id: alices[0]!.id }, bob.options))).code).toBe(Code.NotFound);
    const bobs = (await shopOrders.listShopOrders({ shopId: bob.shopId }, bob.options)).shopOrders;
    expect(bobs.map((s) => s.subtotal?.amountMinor)).toEqual([4501n]);
  });

  it("when a customer asks for a shop order, even of their own order, then permission_denied", async () => {
    const alice = await aSeller();
    const { buyer, order } = await orderFrom([{ ...alice, priceMinor: 100n }]);
    const id = order.shopOrders[0]!.id;
    expect((await failureOf(shopOrders.getShopOrder({ id }, buyer.options))).code).toBe(Code.PermissionDenied);
    const listing = await failureOf(shopOrders.listShopOrders({ shopId: alice.shopId }, buyer.options));
    expect(listing.code).toBe(Code.PermissionDenied);
  });

  it("when a seller or an admin names a shop the catalog does not know, then not_found", async () => {
    const alice = await aSeller();
    for (const options of [alice.options, callers.admin]) {
      const listing = await failureOf(shopOrders.listShopOrders({ shopId: uuidv7() }, options));
      expect(listing.code).toBe(Code.NotFound);
      const watching = await failureOf(firstUpdate({ shopId: uuidv7() }, options));
      expect(watching.code).toBe(Code.NotFound);
    }
  });

  it("when a seller lists their shop again and again, then its owner is asked of the catalog once", async () => {
    const alice = await aSeller();
    const before = shops.lookups();
    for (let i = 0; i < 3; i++) await shopOrders.listShopOrders({ shopId: alice.shopId }, alice.options);
    expect(shops.lookups() - before).toBe(1);
  });

  it("when an admin asks, then any shop's orders are listed and read", async () => {
    const alice = await aSeller();
    const { order } = await orderFrom([{ ...alice, priceMinor: 700n }]);
    const { shopOrders: listed } = await shopOrders.listShopOrders({ shopId: alice.shopId }, callers.admin);
    expect(listed.map((s) => s.orderId)).toEqual([order.id]);
    expect((await shopOrders.getShopOrder({ id: listed[0]!.id }, callers.admin)).shopOrder?.sellerId).toBe(alice.id);
  });

  it("when a shop has more orders than a page, then keyset pages list each once, newest first, filtered by status", async () => {
    const alice = await aSeller();
    const placed: string[] = [];
    for (let i = 0; i < 5; i++) placed.push((await orderFrom([{ ...alice, priceMinor: 100n + BigInt(i) }])).order.id);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await shopOrders.listShopOrders({ shopId: alice.shopId, pageSize: 2, pageToken }, alice.options);
      expect(page.shopOrders.length).toBeLessThanOrEqual(2);
      seen.push(...page.shopOrders.map((s) => s.orderId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual([...placed].reverse());

    const confirmed = { shopId: alice.shopId, status: ShopOrderStatus.CONFIRMED };
    expect((await shopOrders.listShopOrders(confirmed, alice.options)).shopOrders).toHaveLength(5);
    const shipped = { shopId: alice.shopId, status: ShopOrderStatus.SHIPPED };
    expect((await shopOrders.listShopOrders(shipped, alice.options)).shopOrders).toEqual([]);
    const garbage = { shopId: alice.shopId, pageToken: "bm90LWEtdG9rZW4" };
    expect((await failureOf(shopOrders.listShopOrders(garbage, alice.options))).code).toBe(Code.InvalidArgument);
  });
});

describe("a seller's shop orders in a time range", () => {
  it("when the seller lists from created_after up to created_before, then only the shop orders created in between arrive, page by page", async () => {
    const alice = await aSeller();
    for (let i = 0; i < 5; i++) {
      await orderFrom([{ ...alice, priceMinor: 200n + BigInt(i) }]);
      // Apart by more than the millisecond that create_time shows.
      await new Promise((r) => setTimeout(r, 5));
    }
    const all = (await shopOrders.listShopOrders({ shopId: alice.shopId }, alice.options)).shopOrders.reverse();
    const [, second, third, fourth] = all;
    const range = { createdAfter: second!.createTime, createdBefore: fourth!.createTime };

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await shopOrders.listShopOrders(
        { shopId: alice.shopId, ...range, pageSize: 1, pageToken },
        alice.options,
      );
      seen.push(...page.shopOrders.map((s) => s.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    // Newest first; created_after is inclusive, created_before exclusive, so ranges tile.
    expect(seen).toEqual([third!.id, second!.id]);

    const fromThird = { shopId: alice.shopId, createdAfter: third!.createTime };
    expect((await shopOrders.listShopOrders(fromThird, alice.options)).shopOrders.map((s) => s.id)).toEqual(
      all
        .slice(2)
        .map((s) => s.id)
        .reverse(),
    );
    const beforeThird = { shopId: alice.shopId, createdBefore: third!.createTime };
    expect((await shopOrders.listShopOrders(beforeThird, alice.options)).shopOrders.map((s) => s.id)).toEqual(
      all
        .slice(0, 2)
        .map((s) => s.id)
        .reverse(),
    );
    const shipped = { ...range, shopId: alice.shopId, status: ShopOrderStatus.SHIPPED };
    expect((await shopOrders.listShopOrders(shipped, alice.options)).shopOrders).toEqual([]);
  });

  it("when created_after is not before created_before, then invalid_argument naming created_after", async () => {
    const alice = await aSeller();
    const now = timestampFromDate(new Date());
    for (const createdBefore of [now, timestampFromDate(new Date(Date.now() - 1000))]) {
      const failure = await failureOf(
        shopOrders.listShopOrders({ shopId: alice.shopId, createdAfter: now, createdBefore }, alice.options),
      );
      expect(failure.code).toBe(Code.InvalidArgument);
      expect(failure.rawMessage).toContain("created_after");
    }
  });
});

const tracking = { carrier: "DHL", trackingNumber: "JJD000390007", trackingUrl: "https://track.example/JJD000390007" };

describe("fulfilment of a shop order", () => {
  it("when a seller accepts, ships and delivers their shop order, then the order's status follows by the rule and the other shop's stays", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const { buyer, order } = await orderFrom([
      { ...alice, priceMinor: 1999n },
      { ...bob, priceMinor: 4501n },
    ]);
    const alices = order.shopOrders.find((s) => s.shopId === alice.shopId)!;
    const bobs = order.shopOrders.find((s) => s.shopId === bob.shopId)!;
    const orderStatus = async () => (await orders.getOrder({ id: order.id }, buyer.options)).order!.status;

    const accepted = await shopOrders.acceptShopOrder({ id: alices.id, note: "packing" }, alice.options);
    expect(accepted.shopOrder?.status).toBe(ShopOrderStatus.PROCESSING);
    expect(await orderStatus()).toBe(OrderStatus.PROCESSING);

    const shipped = await shopOrders.shipShopOrder({ id: alices.id, ...tracking }, alice.options);
    expect(shipped.shopOrder).toMatchObject({ status: ShopOrderStatus.SHIPPED, ...tracking });
    // Bob has not shipped yet: the order as a whole is still being processed.
    expect(await orderStatus()).toBe(OrderStatus.PROCESSING);

    const delivered = await shopOrders.deliverShopOrder({ id: alices.id }, alice.options);
    expect(delivered.shopOrder?.status).toBe(ShopOrderStatus.DELIVERED);
    expect(delivered.shopOrder?.statusHistory.map((h) => h.status)).toEqual([
      ShopOrderStatus.PENDING,
      ShopOrderStatus.CONFIRMED,
      ShopOrderStatus.PROCESSING,
      ShopOrderStatus.SHIPPED,
      ShopOrderStatus.DELIVERED,
    ]);
    expect((await shopOrders.getShopOrder({ id: bobs.id }, bob.options)).shopOrder?.status).toBe(
      ShopOrderStatus.CONFIRMED,
    );
    expect(await orderStatus()).toBe(OrderStatus.PROCESSING);

    await shopOrders.acceptShopOrder({ id: bobs.id }, bob.options);
    await shopOrders.shipShopOrder({ id: bobs.id, carrier: "UPS", trackingNumber: "1Z999" }, bob.options);
    expect(await orderStatus()).toBe(OrderStatus.SHIPPED);
    await shopOrders.deliverShopOrder({ id: bobs.id }, bob.options);
    const final = (await orders.getOrder({ id: order.id }, buyer.options)).order!;
    expect(final.status).toBe(OrderStatus.DELIVERED);
    expect(final.statusHistory.map((h) => h.status)).toEqual([
      OrderStatus.PENDING,
      OrderStatus.CONFIRMED,
      OrderStatus.PROCESSING,
      OrderStatus.SHIPPED,
      OrderStatus.DELIVERED,
    ]);
  });

  it("when the buyer watches their orders, then each fulfilment move arrives, also those that leave the order's status as it was", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const { buyer, order } = await orderFrom([
      { ...alice, priceMinor: 300n },
      { ...bob, priceMinor: 400n },
    ]);
    const alices = order.shopOrders.find((s) => s.shopId === alice.shopId)!;
    const stop = new AbortController();
    const seen: WatchOrdersResponse[] = [];
    const watching = (async () => {
      try {
        for await (const update of orders.watchOrders({}, { ...buyer.options, signal: stop.signal })) seen.push(update);
      } catch {
        // aborted
      }
    })();
    const until = async (n: number) => {
      for (let i = 0; i < 100 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 50));
      expect(seen.length).toBeGreaterThanOrEqual(n);
    };
    await new Promise((r) => setTimeout(r, 150));
    await shopOrders.acceptShopOrder({ id: alices.id }, alice.options);
    await until(1);
    await shopOrders.shipShopOrder({ id: alices.id, ...tracking }, alice.options);
    await until(2);
    await shopOrders.deliverShopOrder({ id: alices.id }, alice.options);
    await until(3);
    stop.abort();
    await watching;
    const statusesOf = (update: WatchOrdersResponse) =>
      update.order!.shopOrders.find((s) => s.shopId === alice.shopId)!.status;
    expect(seen.map((u) => u.order!.id)).toEqual([order.id, order.id, order.id]);
    expect(seen.map((u) => u.order!.status)).toEqual([
      OrderStatus.PROCESSING,
      OrderStatus.PROCESSING,
      OrderStatus.PROCESSING,
    ]);
    expect(statusesOf(seen[2]!)).toBe(ShopOrderStatus.DELIVERED);
    // Resuming after the first update replays the other two, none twice.
    const replay: WatchOrdersResponse[] = [];
    const again = new AbortController();
    setTimeout(() => again.abort(), 400);
    try {
      for await (const update of orders.watchOrders(
        { resumeToken: seen[0]!.resumeToken },
        { ...buyer.options, signal: again.signal },
      ))
        replay.push(update);
    } catch {
      // aborted
    }
    expect(replay.map((u) => u.resumeToken)).toEqual([seen[1]!.resumeToken, seen[2]!.resumeToken]);
  });

  it("when another seller, or the buyer, moves a shop order, then not_found or permission_denied and nothing changes", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const { buyer, order } = await orderFrom([{ ...alice, priceMinor: 500n }]);
    const id = order.shopOrders[0]!.id;
    for (const [options, code] of [
      [bob.options, Code.NotFound],
      [buyer.options, Code.PermissionDenied],
    ] as const) {
      expect((await failureOf(shopOrders.acceptShopOrder({ id }, options))).code).toBe(code);
      expect((await failureOf(shopOrders.shipShopOrder({ id, ...tracking }, options))).code).toBe(code);
      expect((await failureOf(shopOrders.deliverShopOrder({ id }, options))).code).toBe(code);
    }
    expect((await failureOf(shopOrders.acceptShopOrder({ id }, {}))).code).toBe(Code.Unauthenticated);
    const { shopOrder } = await shopOrders.getShopOrder({ id }, alice.options);
    expect(shopOrder?.status).toBe(ShopOrderStatus.CONFIRMED);
    expect(shopOrder?.statusHistory).toHaveLength(2);
    expect((await orders.getOrder({ id: order.id }, buyer.options)).order?.status).toBe(OrderStatus.CONFIRMED);
  });

  it("when an admin accepts any shop's order, then it moves", async () => {
    const alice = await aSeller();
    const { order } = await orderFrom([{ ...alice, priceMinor: 500n }]);
    const { shopOrder } = await shopOrders.acceptShopOrder({ id: order.shopOrders[0]!.id }, callers.admin);
    expect(shopOrder?.status).toBe(ShopOrderStatus.PROCESSING);
  });

  it("when a move skips or repeats a step, then failed_precondition ILLEGAL_STATUS_TRANSITION names both states", async () => {
    const alice = await aSeller();
    const { order } = await orderFrom([{ ...alice, priceMinor: 500n }]);
    const id = order.shopOrders[0]!.id;
    const skipped = await failureOf(shopOrders.shipShopOrder({ id, ...tracking }, alice.options));
    expect(skipped.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(skipped)).toEqual({
      reason: "ILLEGAL_STATUS_TRANSITION",
      metadata: {
        order_id: order.id,
        shop_order_id: id,
        from: "SHOP_ORDER_STATUS_CONFIRMED",
        to: "SHOP_ORDER_STATUS_SHIPPED",
      },
    });
    await shopOrders.acceptShopOrder({ id }, alice.options);
    const again = await failureOf(shopOrders.acceptShopOrder({ id }, alice.options));
    expect(errorInfoOf(again)?.metadata).toMatchObject({
      from: "SHOP_ORDER_STATUS_PROCESSING",
      to: "SHOP_ORDER_STATUS_PROCESSING",
    });
    const early = await failureOf(shopOrders.deliverShopOrder({ id }, alice.options));
    expect(errorInfoOf(early)?.metadata).toMatchObject({
      from: "SHOP_ORDER_STATUS_PROCESSING",
      to: "SHOP_ORDER_STATUS_DELIVERED",
    });
  });

  it("when a shop order is cancelled with its order, then it cannot be accepted; once one is shipped the order cannot be cancelled", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const first = await orderFrom([{ ...alice, priceMinor: 500n }]);
    await orders.cancelOrder({ id: first.order.id }, first.buyer.options);
    const cancelled = await failureOf(shopOrders.acceptShopOrder({ id: first.order.shopOrders[0]!.id }, alice.options));
    expect(errorInfoOf(cancelled)?.metadata).toMatchObject({ from: "SHOP_ORDER_STATUS_CANCELLED" });

    const second = await orderFrom([
      { ...alice, priceMinor: 500n },
      { ...bob, priceMinor: 600n },
    ]);
    const alices = second.order.shopOrders.find((s) => s.shopId === alice.shopId)!;
    await shopOrders.acceptShopOrder({ id: alices.id }, alice.options);
    await shopOrders.shipShopOrder({ id: alices.id, ...tracking }, alice.options);
    const refused = await failureOf(orders.cancelOrder({ id: second.order.id }, second.buyer.options));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(refused)?.metadata).toMatchObject({ from: "ORDER_STATUS_PROCESSING", shop_order_id: "" });
  });

  it("when shipping lacks a carrier or tracking number, or the tracking URL is not https, then invalid_argument", async () => {
    const alice = await aSeller();
    const { order } = await orderFrom([{ ...alice, priceMinor: 500n }]);
    const id = order.shopOrders[0]!.id;
    await shopOrders.acceptShopOrder({ id }, alice.options);
    for (const bad of [
      { ...tracking, carrier: "" },
      { ...tracking, trackingNumber: "" },
      { ...tracking, trackingUrl: "http://track.example/1" },
      { ...tracking, trackingUrl: "not a url" },
    ]) {
      expect((await failureOf(shopOrders.shipShopOrder({ id, ...bad }, alice.options))).code).toBe(
        Code.InvalidArgument,
      );
    }
    const { shopOrder } = await shopOrders.shipShopOrder({ id, ...tracking, trackingUrl: "" }, alice.options);
    expect(shopOrder).toMatchObject({ status: ShopOrderStatus.SHIPPED, trackingUrl: "" });
  });
});

/** Collects a WatchShopOrders stream in the background until stopped. */
function watchShop(request: { shopId: string; resumeToken?: string }, options: { headers?: HeadersInit }) {
  const stop = new AbortController();
  const seen: WatchShopOrdersResponse[] = [];
  let failure: unknown;
  const watching = (async () => {
    try {
      for await (const update of shopOrders.watchShopOrders(request, { ...options, signal: stop.signal }))
        seen.push(update);
    } catch (error) {
      if (!stop.signal.aborted) failure = error;
    }
  })();
  return {
    seen,
    async until(n: number) {
      for (let i = 0; i < 100 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 20));
      expect(seen.length).toBeGreaterThanOrEqual(n);
    },
    async stop() {
      stop.abort();
      await watching;
      if (failure) throw failure;
    },
  };
}

const shopStatuses = (updates: WatchShopOrdersResponse[]) => updates.map((u) => u.shopOrder!.status);

/** The first update of a WatchShopOrders stream, or its failure; a stream still quiet after a moment gives undefined. */
async function firstUpdate(request: { shopId: string; resumeToken?: string }, options: { headers?: HeadersInit }) {
  try {
    for await (const update of shopOrders.watchShopOrders(request, { ...options, signal: AbortSignal.timeout(500) }))
      return update;
  } catch (error) {
    if ((error as { code?: Code }).code === Code.Canceled || (error as { code?: Code }).code === Code.DeadlineExceeded)
      return undefined;
    throw error;
  }
  return undefined;
}

describe("a seller watches their shop's orders", () => {
  it("when a buyer checks out from the shop and the seller accepts, then the new shop order and PROCESSING arrive, and nothing of the other shop", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const watch = watchShop({ shopId: alice.shopId }, alice.options);
    await new Promise((r) => setTimeout(r, 150));
    const { order } = await orderFrom([
      { ...alice, priceMinor: 700n },
      { ...bob, priceMinor: 800n },
    ]);
    const alices = order.shopOrders.find((s) => s.shopId === alice.shopId)!;
    await watch.until(2);
    await shopOrders.acceptShopOrder({ id: alices.id }, alice.options);
    await watch.until(3);
    await watch.stop();
    expect(watch.seen.map((u) => u.shopOrder!.id)).toEqual([alices.id, alices.id, alices.id]);
    expect(shopStatuses(watch.seen)).toEqual([
      ShopOrderStatus.PENDING,
      ShopOrderStatus.CONFIRMED,
      ShopOrderStatus.PROCESSING,
    ]);
    expect(watch.seen[2]!.shopOrder!.statusHistory).toHaveLength(3);
  });

  it("when the seller resumes from a token, then the changes after it arrive, none twice and none missing", async () => {
    const alice = await aSeller();
    const first = watchShop({ shopId: alice.shopId }, alice.options);
    await new Promise((r) => setTimeout(r, 150));
    const { order } = await orderFrom([{ ...alice, priceMinor: 900n }]);
    await first.until(2);
    await first.stop();
    const id = order.shopOrders[0]!.id;
    // While nobody watches, the shop order moves twice.
    await shopOrders.acceptShopOrder({ id }, alice.options);
    await shopOrders.shipShopOrder({ id, ...tracking }, alice.options);
    const resumed = watchShop({ shopId: alice.shopId, resumeToken: first.seen[1]!.resumeToken }, alice.options);
    await resumed.until(2);
    await new Promise((r) => setTimeout(r, 200));
    await resumed.stop();
    expect(shopStatuses(resumed.seen)).toEqual([ShopOrderStatus.PROCESSING, ShopOrderStatus.SHIPPED]);
    // since_time replays the whole story of the shop.
    const since = shopOrders.watchShopOrders(
      { shopId: alice.shopId, sinceTime: timestampFromDate(new Date(Date.now() - 60_000)) },
      { ...alice.options, signal: AbortSignal.timeout(300) },
    );
    const replayed: WatchShopOrdersResponse[] = [];
    try {
      for await (const update of since) replayed.push(update);
    } catch {
      // aborted
    }
    expect(shopStatuses(replayed)).toEqual([
      ShopOrderStatus.PENDING,
      ShopOrderStatus.CONFIRMED,
      ShopOrderStatus.PROCESSING,
      ShopOrderStatus.SHIPPED,
    ]);
  });

  it("when the seller watches from the resume token of their list, then the first update is the move made after the list", async () => {
    const alice = await aSeller();
    const { order } = await orderFrom([{ ...alice, priceMinor: 950n }]);
    const id = order.shopOrders[0]!.id;
    const listed = await shopOrders.listShopOrders({ shopId: alice.shopId }, alice.options);
    expect(listed.shopOrders.map((s) => [s.id, s.status])).toEqual([[id, ShopOrderStatus.CONFIRMED]]);
    await shopOrders.acceptShopOrder({ id }, alice.options);
    const watch = watchShop({ shopId: alice.shopId, resumeToken: listed.resumeToken }, alice.options);
    await watch.until(1);
    await new Promise((r) => setTimeout(r, 200));
    await watch.stop();
    expect(shopStatuses(watch.seen)).toEqual([ShopOrderStatus.PROCESSING]);
  });

  it("when another seller or a customer watches the shop, then permission_denied, also when resuming with the owner's token; an admin sees it; a token of another shop is invalid_argument", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const customer = await signedIn(tokens, "customer");
    const admin = await signedIn(tokens, "admin");
    const watch = watchShop({ shopId: alice.shopId }, admin.options);
    await new Promise((r) => setTimeout(r, 150));
    await orderFrom([{ ...alice, priceMinor: 1000n }]);
    await watch.until(2);
    await watch.stop();
    expect(shopStatuses(watch.seen)).toEqual([ShopOrderStatus.PENDING, ShopOrderStatus.CONFIRMED]);
    const resumeToken = watch.seen[0]!.resumeToken;
    for (const request of [{ shopId: alice.shopId }, { shopId: alice.shopId, resumeToken }]) {
      const bobs = await failureOf(firstUpdate(request, bob.options));
      expect(bobs.code).toBe(Code.PermissionDenied);
      expect(errorInfoOf(bobs)?.reason).toBe("SHOP_NOT_OWNED");
      expect((await failureOf(firstUpdate(request, customer.options))).code).toBe(Code.PermissionDenied);
    }
    const foreign = await failureOf(firstUpdate({ shopId: bob.shopId, resumeToken }, bob.options));
    expect(foreign.code).toBe(Code.InvalidArgument);
  });
});

describe("a seller cancels their shop order", () => {
  const byCard = { payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" } };
  const refundRows = (orderId: string) =>
    db
      .selectFrom("order_refunds")
      .select(["refund_key", "shop_order_id", "amount_minor"])
      .where("order_id", "=", orderId)
      .orderBy("id")
      .execute();
  const unitsOf = (order: { shopOrders: Array<{ items: Array<{ productId: string }> }> }, index: number) =>
    stock.stock.get(order.shopOrders[index]!.items[0]!.productId);

  // Subtotals 19.99 + 45.01 = 65.00; tax 5 % = 3.25; shipping 4.99; total 73.24. Tax shares by
  // subtotal: 3.25 × 1999/6500 = 0.9995 → 0.99 and 2.2505 → 2.25, the cent left over to the
  // larger remainder (alice's): 1.00 and 2.25.
  it("when one shop order of a two-shop card order is cancelled, then its stock is back, its subtotal plus tax share refunded exactly, and the other goes on", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const { buyer, order } = await orderFrom(
      [
        { ...alice, priceMinor: 1999n },
        { ...bob, priceMinor: 4501n },
      ],
      byCard,
    );
    expect(order.total?.amountMinor).toBe(7324n);
    const alices = order.shopOrders.find((s) => s.shopId === alice.shopId)!;
    const bobs = order.shopOrders.find((s) => s.shopId === bob.shopId)!;
    const aliceIndex = order.shopOrders.indexOf(alices);
    expect(unitsOf(order, aliceIndex)).toBe(9);

    const { shopOrder } = await shopOrders.cancelShopOrder({ id: alices.id, reason: "out of stock" }, alice.options);
    expect(shopOrder).toMatchObject({
      status: ShopOrderStatus.CANCELLED,
      refunded: { currencyCode: "EUR", amountMinor: 2099n },
    });
    expect(shopOrder!.statusHistory.at(-1)).toMatchObject({ status: ShopOrderStatus.CANCELLED, note: "out of stock" });
    expect(unitsOf(order, aliceIndex)).toBe(10);
    expect(unitsOf(order, 1 - aliceIndex)).toBe(9);
    expect(await refundRows(order.id)).toEqual([
      { refund_key: alices.id, shop_order_id: alices.id, amount_minor: "2099" },
    ]);
    expect(refundsAsked.filter((r) => r.orderId === order.id)).toEqual([
      { orderId: order.id, refundKey: alices.id, amountMinor: 2099n },
    ]);
    const after = (await orders.getOrder({ id: order.id }, buyer.options)).order!;
    expect(after.status).toBe(OrderStatus.CONFIRMED);
    expect(after.refunded?.amountMinor).toBe(2099n);
    expect(after.payment?.status).toBe(PaymentStatus.CAPTURED);
    expect(after.shopOrders.find((s) => s.id === bobs.id)).toMatchObject({
      status: ShopOrderStatus.CONFIRMED,
      refunded: { amountMinor: 0n },
    });

    // The last one left gives back the rest of the payment, shipping included: 45.01 + 2.25 + 4.99.
    const { shopOrder: last } = await shopOrders.cancelShopOrder({ id: bobs.id, reason: "closed" }, bob.options);
    expect(last?.refunded?.amountMinor).toBe(5225n);
    const cancelled = (await orders.getOrder({ id: order.id }, buyer.options)).order!;
    expect(cancelled).toMatchObject({
      status: OrderStatus.CANCELLED,
      refunded: { amountMinor: 7324n },
      payment: expect.objectContaining({ status: PaymentStatus.REFUNDED }),
    });
    expect(cancelled.statusHistory.at(-1)).toMatchObject({ status: OrderStatus.CANCELLED, note: "closed" });
  });

  it("when the whole order is cancelled after one shop order was, then only the rest is refunded and no unit comes back twice", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const { buyer, order } = await orderFrom(
      [
        { ...alice, priceMinor: 1999n },
        { ...bob, priceMinor: 4501n },
      ],
      byCard,
    );
    const alices = order.shopOrders.find((s) => s.shopId === alice.shopId)!;
    await shopOrders.cancelShopOrder({ id: alices.id, reason: "out of stock" }, alice.options);
    const { order: cancelled } = await orders.cancelOrder({ id: order.id }, buyer.options);
    expect(cancelled).toMatchObject({
      status: OrderStatus.CANCELLED,
      refunded: { amountMinor: 7324n },
      payment: expect.objectContaining({ status: PaymentStatus.REFUNDED }),
    });
    expect((await refundRows(order.id)).map((r) => r.amount_minor)).toEqual(["2099", "5225"]);
    expect(unitsOf(order, 0)).toBe(10);
    expect(unitsOf(order, 1)).toBe(10);
  });

  it("when the buyer cancels the whole order while a seller cancels their shop order, then every unit comes back once and the refunds add up to the total", async () => {
    for (let round = 0; round < 5; round++) {
      const [alice, bob] = [await aSeller(), await aSeller()];
      const { buyer, order } = await orderFrom(
        [
          { ...alice, priceMinor: 1999n },
          { ...bob, priceMinor: 4501n },
        ],
        byCard,
      );
      const alices = order.shopOrders.find((s) => s.shopId === alice.shopId)!;
      const [bySeller, byBuyer] = await Promise.allSettled([
        shopOrders.cancelShopOrder({ id: alices.id, reason: "out of stock" }, alice.options),
        orders.cancelOrder({ id: order.id }, buyer.options),
      ]);
      // The buyer always wins or comes second; the seller loses only to the buyer.
      expect(byBuyer.status).toBe("fulfilled");
      if (bySeller.status === "rejected") expect(ConnectError.from(bySeller.reason).code).toBe(Code.FailedPrecondition);
      const after = (await orders.getOrder({ id: order.id }, buyer.options)).order!;
      expect(after).toMatchObject({ status: OrderStatus.CANCELLED, refunded: { amountMinor: 7324n } });
      const rows = await refundRows(order.id);
      expect(rows.reduce((sum, row) => sum + BigInt(row.amount_minor), 0n)).toBe(7324n);
      expect([unitsOf(order, 0), unitsOf(order, 1)]).toEqual([10, 10]);
    }
  });

  it("when a cash-on-delivery shop order is cancelled, then its stock is back and nothing is refunded", async () => {
    const alice = await aSeller();
    const { order } = await orderFrom([{ ...alice, priceMinor: 700n }]);
    const { shopOrder } = await shopOrders.cancelShopOrder(
      { id: order.shopOrders[0]!.id, reason: "cannot deliver" },
      alice.options,
    );
    expect(shopOrder?.refunded?.amountMinor).toBe(0n);
    expect(unitsOf(order, 0)).toBe(10);
    expect(await refundRows(order.id)).toEqual([]);
    expect(refundsAsked.filter((r) => r.orderId === order.id)).toEqual([]);
  });

  it("when another seller (not_found) or the buyer (permission_denied) cancels a shop order, then nothing changes; an admin may", async () => {
    const [alice, bob] = [await aSeller(), await aSeller()];
    const { buyer, order } = await orderFrom([{ ...alice, priceMinor: 500n }], byCard);
    const id = order.shopOrders[0]!.id;
    expect((await failureOf(shopOrders.cancelShopOrder({ id, reason: "no" }, bob.options))).code).toBe(Code.NotFound);
    expect((await failureOf(shopOrders.cancelShopOrder({ id, reason: "no" }, buyer.options))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await failureOf(shopOrders.cancelShopOrder({ id, reason: "no" }, {}))).code).toBe(Code.Unauthenticated);
    const { shopOrder } = await shopOrders.getShopOrder({ id }, alice.options);
    expect(shopOrder).toMatchObject({ status: ShopOrderStatus.CONFIRMED, refunded: { amountMinor: 0n } });
    expect(unitsOf(order, 0)).toBe(9);
    expect(await refundRows(order.id)).toEqual([]);

    const { shopOrder: byAdmin } = await shopOrders.cancelShopOrder({ id, reason: "fraud" }, callers.admin);
    expect(byAdmin?.status).toBe(ShopOrderStatus.CANCELLED);
  });

  it("when the reason is missing or too long, then invalid_argument names reason", async () => {
    const alice = await aSeller();
    const { order } = await orderFrom([{ ...alice, priceMinor: 500n }]);
    const id = order.shopOrders[0]!.id;
    for (const reason of ["", "x".repeat(501)]) {
      const refused = await failureOf(shopOrders.cancelShopOrder({ id, reason }, alice.options));
      expect(refused.code).toBe(Code.InvalidArgument);
      expect(refused.rawMessage).toContain("reason");
    }
  });

  it("when a shop order is accepted it may still be cancelled; once shipped or cancelled, failed_precondition names both states", async () => {
    const alice = await aSeller();
    const first = await orderFrom([{ ...alice, priceMinor: 500n }]);
    const processing = first.order.shopOrders[0]!.id;
    await shopOrders.acceptShopOrder({ id: processing }, alice.options);
    await shopOrders.cancelShopOrder({ id: processing, reason: "broke it" }, alice.options);
    const again = await failureOf(shopOrders.cancelShopOrder({ id: processing, reason: "again" }, alice.options));
    expect(errorInfoOf(again)).toEqual({
      reason: "ILLEGAL_STATUS_TRANSITION",
      metadata: {
        order_id: first.order.id,
        shop_order_id: processing,
        from: "SHOP_ORDER_STATUS_CANCELLED",
        to: "SHOP_ORDER_STATUS_CANCELLED",
      },
    });
    expect(unitsOf(first.order, 0)).toBe(10);

    const second = await orderFrom([{ ...alice, priceMinor: 500n }]);
    const shipped = second.order.shopOrders[0]!.id;
    await shopOrders.acceptShopOrder({ id: shipped }, alice.options);
    await shopOrders.shipShopOrder({ id: shipped, ...tracking }, alice.options);
    const refused = await failureOf(shopOrders.cancelShopOrder({ id: shipped, reason: "late" }, alice.options));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(refused)?.metadata).toMatchObject({
      from: "SHOP_ORDER_STATUS_SHIPPED",
      to: "SHOP_ORDER_STATUS_CANCELLED",
    });
    expect(unitsOf(second.order, 0)).toBe(9);
  });

  it("when the service dies right after the cancellation commits, then the recovery loop returns the stock and refunds once", async () => {
    const alice = await aSeller();
    const { order } = await orderFrom([{ ...alice, priceMinor: 1000n }], byCard);
    const id = order.shopOrders[0]!.id;
    const { promise: died, resolve: die } = Promise.withResolvers<void>();
    const crashing = { ...deps, ...crashingPorts(deps, "before-stock-give-back", die) };
    // Never settles: the process is gone at the crash point.
    void cancelShopOrder(crashing, id, { id: alice.id, isAdmin: true }, "gone");
    await died;
    expect(unitsOf(order, 0)).toBe(9);
    expect(refundsAsked.filter((r) => r.orderId === order.id)).toEqual([]);
    // The refund was decided with the cancellation: subtotal 10.00 + tax 0.50 + shipping 4.99.
    expect((await refundRows(order.id)).map((r) => r.amount_minor)).toEqual(["1549"]);

    const log = { info() {}, warn() {} };
    for (let sweep = 0; sweep < 3; sweep++) await recoverOverdueOrders(deps, log);
    expect(unitsOf(order, 0)).toBe(10);
    expect(refundsAsked.filter((r) => r.orderId === order.id)).toEqual([
      { orderId: order.id, refundKey: id, amountMinor: 1549n },
    ]);
    const settled = await db.selectFrom("shop_orders").select("settle_after").where("id", "=", id).executeTakeFirst();
    expect(settled?.settle_after).toBeNull();
  });
});
