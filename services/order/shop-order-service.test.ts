// ShopOrderService handlers in memory, against a database of their own, orders placed through
// OrderService with the cart, catalog and stock in memory: a seller sees the shop orders of
// their own shops and nobody else's, admins see any, and which code each refusal answers.
import { Code, type Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderService, ShopOrderService, ShopOrderStatus } from "../../gen/bazaar/order/v1/order_pb.ts";
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
import { OrderChangeSignals } from "./domain/order-feed.ts";
import { createTestPaymentProvider } from "./domain/payments.ts";
import type { OrderDeps } from "./domain/ports.ts";
import { aCheckout, aProduct, inMemoryCarts, inMemoryProducts, inMemoryStock } from "./in-memory-ports.ts";
import { createOrderService } from "./order-service.ts";
import { createShopOrderService } from "./shop-order-service.ts";

let db: Kysely<OrderDatabase>;
let tokens: TestTokens;
let callers: Callers;
let server: InMemoryServer;
let orders: Client<typeof OrderService>;
let shopOrders: Client<typeof ShopOrderService>;
const carts = inMemoryCarts();
const products = inMemoryProducts();
const stock = inMemoryStock();

beforeAll(async () => {
  db = await migratedTestDatabase<OrderDatabase>("order_shop_order_handlers", migrations);
  tokens = await createTestTokens();
  callers = await oneOfEach(tokens);
  const deps: OrderDeps = {
    db,
    outbox: { wake() {} },
    payments: createTestPaymentProvider(),
    stock,
    pricing: { taxRateBasisPoints: 500, shippingMinor: 499n },
    currencyCode: "EUR",
    recoverAfterMs: 60_000,
    faults: { reached() {} },
  };
  server = serveInMemory({
    services: [
      bind(
        OrderService,
        createOrderService({
          ...deps,
          cart: carts.client,
          products: products.client,
          feed: { db, signals: new OrderChangeSignals(), pollMs: 100 },
        }),
      ),
      bind(ShopOrderService, createShopOrderService(deps)),
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
  return { ...seller, shopId: uuidv7() };
}

/** A new buyer's confirmed order of one unit from each of the given shops, at the given prices. */
async function orderFrom(shops: Array<{ id: string; shopId: string; priceMinor: bigint }>) {
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
  const { order } = await orders.placeOrder(aCheckout(), buyer.options);
  return { buyer, order: order! };
}

describe("who may call the shop order service", () => {
  const matrix = accessMatrix(ShopOrderService, { listShopOrders: "user", getShopOrder: "user" });
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

    // Bob asks for Alice's: nothing listed, the shop order itself not found.
    expect((await shopOrders.listShopOrders({ shopId: alice.shopId }, bob.options)).shopOrders).toEqual([]);
    expect((await failureOf(shopOrders.getShopOrder({ id: alices[0]!.id }, bob.options))).code).toBe(Code.NotFound);
    const bobs = (await shopOrders.listShopOrders({ shopId: bob.shopId }, bob.options)).shopOrders;
    expect(bobs.map((s) => s.subtotal?.amountMinor)).toEqual([4501n]);
  });

  it("when a customer asks for a shop order, even of their own order, then not_found", async () => {
    const alice = await aSeller();
    const { buyer, order } = await orderFrom([{ ...alice, priceMinor: 100n }]);
    const id = order.shopOrders[0]!.id;
    expect((await failureOf(shopOrders.getShopOrder({ id }, buyer.options))).code).toBe(Code.NotFound);
    expect((await shopOrders.listShopOrders({ shopId: alice.shopId }, buyer.options)).shopOrders).toEqual([]);
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
