// OrderService and OrderAdminService handlers in memory, against a database of their own, with
// the cart, the catalog and stock holds in memory: who may call what, whose orders a call sees,
// and which code each refusal answers.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderAdminService, OrderService, OrderStatus, ShopOrderStatus } from "../../gen/bazaar/order/v1/order_pb.ts";
import { errorInfoOf } from "../kit/error-info.ts";
import { uuidv7 } from "../kit/ids.ts";
import { bind } from "../kit/serve.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { bearer, failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import {
  createTestTokens,
  oneOfEach,
  signedIn,
  type Callers,
  type SignedIn,
  type TestTokens,
} from "../kit/testing/tokens.ts";
import { orderAccessRules } from "./access-rules.ts";
import type { OrderDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { FeedSignals } from "../kit/feed-signals.ts";
import type { OrderDeps } from "./domain/ports.ts";
import {
  aCheckout,
  aProduct,
  inMemoryCarts,
  inMemoryPayments,
  inMemoryProducts,
  inMemoryStock,
  type InMemoryCarts,
} from "./in-memory-ports.ts";
import { createOrderAdminService, createOrderService } from "./order-service.ts";

let db: Kysely<OrderDatabase>;
let tokens: TestTokens;
let callers: Callers;
let server: InMemoryServer;
let orders: Client<typeof OrderService>;
let fulfilment: Client<typeof OrderAdminService>;
let asService: SignedIn;
const carts = inMemoryCarts();
const products = inMemoryProducts();
const stock = inMemoryStock();

/** The order service over the shared database, with the given cart service. */
function orderServiceWith(cart: InMemoryCarts, options: { requireVerifiedEmail?: boolean } = {}): InMemoryServer {
  const deps: OrderDeps = {
    db,
    outbox: { wake() {} },
    payments: inMemoryPayments(),
    stock,
    pricing: { taxRateBasisPoints: 500, shippingMinor: 499n },
    currencyCode: "EUR",
    recoverAfterMs: 60_000,
    paymentWaitMs: 60_000,
    captureAtOnce: true,
  };
  return serveInMemory({
    services: [
      bind(
        OrderService,
        createOrderService({
          ...deps,
          cart: cart.client,
          products: products.client,
          feed: { db, signals: new FeedSignals(), pollMs: 100 },
          requireVerifiedEmail: options.requireVerifiedEmail,
        }),
      ),
      bind(OrderAdminService, createOrderAdminService(deps)),
    ],
    rules: orderAccessRules,
    verifier: tokens.verifier,
  });
}

beforeAll(async () => {
  db = await migratedTestDatabase<OrderDatabase>("order_handlers", migrations);
  tokens = await createTestTokens();
  callers = await oneOfEach(tokens);
  asService = await signedIn(tokens, "service", "service:admin");
  server = orderServiceWith(carts);
  orders = server.client(OrderService);
  fulfilment = server.client(OrderAdminService);
});

afterAll(async () => {
  await db?.destroy();
});

/** A buyer whose cart holds `quantity` of a product in stock. */
async function buyerWithCart(quantity = 2) {
  const buyer = await signedIn(tokens, "customer");
  const product = products.shelve(aProduct());
  stock.stock.set(product.id, 10);
  carts.fill(buyer.options, [{ productId: product.id, quantity }]);
  return { buyer, product };
}

/** An order placed and confirmed for a new buyer. */
async function placedOrder() {
  const { buyer } = await buyerWithCart();
  const { order } = await orders.placeOrder(aCheckout(), buyer.options);
  return { buyer, order: order! };
}

describe("who may call the order service", () => {
  const matrix = [
    ...accessMatrix(OrderService, {
      placeOrder: "user",
      listOrders: "user",
      getOrder: "user",
      cancelOrder: "user",
      watchOrders: "user",
    }),
    ...accessMatrix(OrderAdminService, {
      listAllOrders: "service",
      updateOrderStatus: "service",
      eraseBuyerData: "service",
    }),
  ];
  it.each(matrix)("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(server.transport, method, callers[caller])).toBe(expected);
  });
});

describe("checkout", () => {
  it("when a buyer checks out their cart, then PlaceOrder answers a confirmed order priced by the catalog, and stock is held", async () => {
    const { buyer, product } = await buyerWithCart(2);
    const { order } = await orders.placeOrder(aCheckout(), buyer.options);
    expect(order).toMatchObject({ userId: buyer.id, status: OrderStatus.CONFIRMED });
    // 2 × 12.00, 5 % tax, 4.99 shipping.
    expect(order?.total?.amountMinor).toBe(2400n + 120n + 499n);
    expect(stock.stock.get(product.id)).toBe(8);
  });

  it("when the cart is empty, then PlaceOrder answers failed_precondition", async () => {
    const buyer = await signedIn(tokens, "customer");
    expect((await failureOf(orders.placeOrder(aCheckout(), buyer.options))).code).toBe(Code.FailedPrecondition);
  });

  it("when a product in the cart is no longer for sale, then PlaceOrder answers failed_precondition and no order is made", async () => {
    const { buyer, product } = await buyerWithCart();
    products.shelve({ ...product, active: false });
    expect((await failureOf(orders.placeOrder(aCheckout(), buyer.options))).code).toBe(Code.FailedPrecondition);
    expect((await orders.listOrders({}, buyer.options)).orders).toEqual([]);
  });

  it("when stock runs short, then PlaceOrder answers failed_precondition and the order is cancelled", async () => {
    const { buyer, product } = await buyerWithCart(2);
    stock.stock.set(product.id, 1);
    expect((await failureOf(orders.placeOrder(aCheckout(), buyer.options))).code).toBe(Code.FailedPrecondition);
    const { orders: made } = await orders.listOrders({}, buyer.options);
    expect(made.map((o) => o.status)).toEqual([OrderStatus.CANCELLED]);
  });

  it("when a retry repeats the idempotency key, then it gets the same order; with another address, invalid_argument", async () => {
    const { buyer } = await buyerWithCart();
    const checkout = aCheckout();
    const first = await orders.placeOrder(checkout, buyer.options);
    const retry = await orders.placeOrder(checkout, buyer.options);
    expect(retry.order?.id).toBe(first.order?.id);

    const elsewhere = aCheckout({
      idempotencyKey: checkout.idempotencyKey,
      shippingAddress: { ...checkout.shippingAddress, city: "Hamburg" },
    });
    expect((await failureOf(orders.placeOrder(elsewhere, buyer.options))).code).toBe(Code.InvalidArgument);
  });

  it("when the cart service cannot be reached, then PlaceOrder answers unavailable, which clients retry", async () => {
    const unreachable = inMemoryCarts();
    unreachable.goDown();
    const { buyer } = await buyerWithCart();
    const error = await failureOf(
      orderServiceWith(unreachable).client(OrderService).placeOrder(aCheckout(), buyer.options),
    );
    expect(error.code).toBe(Code.Unavailable);
  });
});

describe("checkout with BAZAAR_REQUIRE_VERIFIED_EMAIL", () => {
  it("when the switch is on, then a buyer whose token says the e-mail is unverified is refused and a verified one buys", async () => {
    const strict = orderServiceWith(carts, { requireVerifiedEmail: true }).client(OrderService);
    const product = products.shelve(aProduct());
    stock.stock.set(product.id, 10);
    const buyerId = uuidv7();
    const unverified = bearer(await tokens.sign({ id: buyerId, role: "customer", emailVerified: false }));
    const verified = bearer(await tokens.sign({ id: buyerId, role: "customer", emailVerified: true }));
    carts.fill(unverified, [{ productId: product.id, quantity: 1 }]);
    carts.fill(verified, [{ productId: product.id, quantity: 1 }]);

    const refused = await failureOf(strict.placeOrder(aCheckout(), unverified));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(refused)?.reason).toBe("EMAIL_NOT_VERIFIED");
    expect(await db.selectFrom("orders").select("id").where("user_id", "=", buyerId).execute()).toEqual([]);

    const { order } = await strict.placeOrder(aCheckout(), verified);
    expect(order?.userId).toBe(buyerId);
  });

  it("when the switch is off, then a token without the claim still buys", async () => {
    const { buyer } = await buyerWithCart();
    expect((await orders.placeOrder(aCheckout(), buyer.options)).order?.userId).toBe(buyer.id);
  });
});

describe("whose orders a call sees", () => {
  it("when the order belongs to another user, then GetOrder answers not_found, as for an order that does not exist", async () => {
    const { order } = await placedOrder();
    const stranger = await signedIn(tokens, "customer");
    expect((await failureOf(orders.getOrder({ id: order.id }, stranger.options))).code).toBe(Code.NotFound);
    expect((await failureOf(orders.getOrder({ id: aProduct().id }, stranger.options))).code).toBe(Code.NotFound);
  });

  it("when the order belongs to another user, then CancelOrder answers not_found and the order stays confirmed", async () => {
    const { buyer, order } = await placedOrder();
    const stranger = await signedIn(tokens, "customer");
    expect((await failureOf(orders.cancelOrder({ id: order.id }, stranger.options))).code).toBe(Code.NotFound);
    expect((await orders.getOrder({ id: order.id }, buyer.options)).order?.status).toBe(OrderStatus.CONFIRMED);
  });

  it("when a buyer lists orders, then only their own are listed, a page at a time", async () => {
    const { buyer } = await buyerWithCart();
    const placed = [];
    for (let i = 0; i < 3; i++) placed.push((await orders.placeOrder(aCheckout(), buyer.options)).order!.id);
    await placedOrder();

    const first = await orders.listOrders({ pageSize: 2 }, buyer.options);
    const second = await orders.listOrders({ pageSize: 2, pageToken: first.nextPageToken }, buyer.options);
    expect([...first.orders, ...second.orders].map((o) => o.id)).toEqual(placed.reverse());
    expect(second.nextPageToken).toBe("");
  });

  it("when a page token was not handed out by ListOrders, then it answers invalid_argument", async () => {
    const buyer = await signedIn(tokens, "customer");
    const error = await failureOf(orders.listOrders({ pageToken: "bm90LWEtdG9rZW4" }, buyer.options));
    expect(error.code).toBe(Code.InvalidArgument);
  });
});

describe("status changes", () => {
  it("when an order is delivered, then the buyer's CancelOrder answers failed_precondition", async () => {
    const { buyer, order } = await placedOrder();
    for (const status of [OrderStatus.SHIPPED, OrderStatus.DELIVERED]) {
      await fulfilment.updateOrderStatus({ id: order.id, status }, asService.options);
    }
    expect((await failureOf(orders.cancelOrder({ id: order.id }, buyer.options))).code).toBe(Code.FailedPrecondition);
  });

  it("when a move skips fulfilment steps, then UpdateOrderStatus answers failed_precondition; for an unknown order, not_found", async () => {
    const { order } = await placedOrder();
    const skip = fulfilment.updateOrderStatus({ id: order.id, status: OrderStatus.DELIVERED }, asService.options);
    expect((await failureOf(skip)).code).toBe(Code.FailedPrecondition);
    const unknown = fulfilment.updateOrderStatus({ id: aProduct().id, status: OrderStatus.SHIPPED }, asService.options);
    expect((await failureOf(unknown)).code).toBe(Code.NotFound);
  });

  it("when a buyer cancels their confirmed order, then it is cancelled and its stock given back", async () => {
    const { buyer, product } = await buyerWithCart(3);
    const { order } = await orders.placeOrder(aCheckout(), buyer.options);
    const { order: cancelled } = await orders.cancelOrder({ id: order!.id, reason: "changed my mind" }, buyer.options);
    expect(cancelled?.status).toBe(OrderStatus.CANCELLED);
    expect(stock.stock.get(product.id)).toBe(10);
  });
});

describe("watching orders", () => {
  it("when a resume token was not handed out by WatchOrders, then it answers invalid_argument", async () => {
    const buyer = await signedIn(tokens, "customer");
    const watch = async () => {
      for await (const _ of orders.watchOrders({ resumeToken: "ZmVlZDpub3QtYS1udW1iZXI" }, buyer.options)) break;
    };
    expect((await failureOf(watch())).code).toBe(Code.InvalidArgument);
  });

  it("when since_time is more than 7 days back, then it answers invalid_argument", async () => {
    const buyer = await signedIn(tokens, "customer");
    const sinceTime = timestampFromDate(new Date(Date.now() - 8 * 86_400_000));
    const watch = async () => {
      for await (const _ of orders.watchOrders({ sinceTime }, buyer.options)) break;
    };
    expect((await failureOf(watch())).code).toBe(Code.InvalidArgument);
  });

  it("when a buyer watches from the resume token of their list, then the first update is the change made after the list", async () => {
    const { buyer, order } = await placedOrder();
    const listed = await orders.listOrders({}, buyer.options);
    expect(listed.orders.map((o) => o.status)).toEqual([OrderStatus.CONFIRMED]);
    await orders.cancelOrder({ id: order.id, reason: "changed my mind" }, buyer.options);
    for await (const update of orders.watchOrders({ resumeToken: listed.resumeToken }, buyer.options)) {
      expect(update.order?.id).toBe(order.id);
      expect(update.order?.status).toBe(OrderStatus.CANCELLED);
      break;
    }
  });

  it("when a buyer watches, then the change of their own order arrives and no one else's", async () => {
    const { buyer, order } = await placedOrder();
    await placedOrder();
    const watch = orders.watchOrders({ sinceTime: timestampFromDate(new Date(Date.now() - 60_000)) }, buyer.options);
    for await (const update of watch) {
      expect(update.order?.id).toBe(order.id);
      break;
    }
  });
});

describe("orders split per shop", () => {
  it("when a buyer checks out products of two shops, then the order holds one shop order per shop with its seller, lines and exact subtotal", async () => {
    const buyer = await signedIn(tokens, "customer");
    const [shopA, shopB] = [aProduct(), aProduct()].map((p) => ({ shopId: p.shopId, sellerId: p.sellerId }));
    const teapot = products.shelve(aProduct({ ...shopA!, price: { currencyCode: "EUR", amountMinor: 1999n } }));
    const cups = products.shelve(aProduct({ ...shopA!, price: { currencyCode: "EUR", amountMinor: 333n } }));
    const kettle = products.shelve(aProduct({ ...shopB!, price: { currencyCode: "EUR", amountMinor: 4501n } }));
    for (const product of [teapot, cups, kettle]) stock.stock.set(product.id, 10);
    carts.fill(buyer.options, [
      { productId: teapot.id, quantity: 2 },
      { productId: cups.id, quantity: 3 },
      { productId: kettle.id, quantity: 1 },
    ]);
    const { order: placed } = await orders.placeOrder(aCheckout(), buyer.options);

    const { order } = await orders.getOrder({ id: placed!.id }, buyer.options);
    const byShop = new Map(order!.shopOrders.map((s) => [s.shopId, s]));
    expect(byShop.get(shopA!.shopId)).toMatchObject({
      orderId: order!.id,
      sellerId: shopA!.sellerId,
      subtotal: { currencyCode: "EUR", amountMinor: 2n * 1999n + 3n * 333n },
      status: ShopOrderStatus.CONFIRMED,
    });
    expect(
      byShop
        .get(shopA!.shopId)!
        .items.map((i) => i.productId)
        .sort(),
    ).toEqual([teapot.id, cups.id].sort());
    expect(byShop.get(shopB!.shopId)).toMatchObject({
      sellerId: shopB!.sellerId,
      subtotal: { amountMinor: 4501n },
      status: ShopOrderStatus.CONFIRMED,
    });
    expect(order!.shopOrders.reduce((sum, s) => sum + s.subtotal!.amountMinor, 0n)).toBe(order!.subtotal!.amountMinor);
    expect(byShop.get(shopB!.shopId)!.statusHistory.map((h) => h.status)).toEqual([
      ShopOrderStatus.PENDING,
      ShopOrderStatus.CONFIRMED,
    ]);

    const { orders: listed } = await orders.listOrders({}, buyer.options);
    expect(listed[0]!.shopOrders).toEqual(order!.shopOrders);
    await orders.cancelOrder({ id: order!.id }, buyer.options);
    const { order: cancelled } = await orders.getOrder({ id: order!.id }, buyer.options);
    expect(cancelled!.shopOrders.map((s) => s.status)).toEqual([ShopOrderStatus.CANCELLED, ShopOrderStatus.CANCELLED]);
  });
});

describe("erasing a buyer's data", () => {
  it("when a buyer's data is erased, then their orders keep lines, totals and status but no address beyond the country; other buyers' stay", async () => {
    const { buyer, order } = await placedOrder();
    const product = products.shelve(aProduct());
    stock.stock.set(product.id, 10);
    carts.fill(buyer.options, [{ productId: product.id, quantity: 1 }]);
    const withPhone = { ...aCheckout().shippingAddress, phone: "+49 30 555", line2: "Hinterhaus" };
    const second = (await orders.placeOrder(aCheckout({ shippingAddress: withPhone }), buyer.options)).order!;
    const other = await placedOrder();

    const { erasedOrderCount } = await fulfilment.eraseBuyerData({ userId: buyer.id }, asService.options);

    expect(erasedOrderCount).toBe(2);
    const after = (await orders.getOrder({ id: order.id }, buyer.options)).order!;
    expect(after.shippingAddress).toMatchObject({
      recipientName: "",
      line1: "",
      line2: "",
      city: "",
      region: "",
      postalCode: "",
      phone: "",
      countryCode: "DE",
    });
    expect({ ...after, shippingAddress: undefined, updateTime: undefined }).toEqual({
      ...order,
      shippingAddress: undefined,
      updateTime: undefined,
    });
    const secondAfter = (await orders.getOrder({ id: second.id }, buyer.options)).order!;
    expect([secondAfter.shippingAddress?.phone, secondAfter.shippingAddress?.line2]).toEqual(["", ""]);
    expect(secondAfter.total).toEqual(second.total);
    const untouched = (await orders.getOrder({ id: other.order.id }, other.buyer.options)).order!;
    expect(untouched.shippingAddress?.recipientName).toBe("Ada");
  });

  it("when a buyer's data is erased twice, or they have no orders, then the call succeeds and erases nothing more", async () => {
    const { buyer } = await placedOrder();
    await fulfilment.eraseBuyerData({ userId: buyer.id }, asService.options);
    expect((await fulfilment.eraseBuyerData({ userId: buyer.id }, asService.options)).erasedOrderCount).toBe(0);
    expect((await fulfilment.eraseBuyerData({ userId: uuidv7() }, asService.options)).erasedOrderCount).toBe(0);
  });
});
