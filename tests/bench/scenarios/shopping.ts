// The signed-in paths through the edge, driven by the node driver because each request carries
// its own shopper's token and body: AddCartItem, GetCart, PlaceOrder, Login and the seller's
// ListShopOrders (Connect JSON, h2c).
import { dbBaselineIds } from "../baselines/database.ts";
import { rawBaselineIds } from "../baselines/http-hello.ts";
import { runEach } from "../load/closed-loop.ts";
import { LatencyRecorder } from "../load/figures.ts";
import { connectUnary, Http2Connections } from "../load/http2-client.ts";
import { callEdge } from "../wire.ts";
import { nodeDriverScenario, type RunContext, type Scenario } from "./scenario.ts";
import type { Shopper, Shoppers } from "./shoppers.ts";

export const shoppingScenarioIds = [
  "cart.add-cart-item",
  "order.place-order",
  "auth.login",
  "order.list-shop-orders",
  "order.place-order-cod",
  "cart.get-cart",
] as const;
const [addCartItemId, placeOrderId, loginId, listShopOrdersId, placeOrderCodId, getCartId] = shoppingScenarioIds;

/** A cart holds at most this many of the checkout products, so its size stays what it was. */
const productsPerCart = 4;
const shippingAddress = {
  recipientName: "Bench Shopper",
  line1: "Oranienstraße 1",
  city: "Berlin",
  postalCode: "10999",
  countryCode: "DE",
};

export function shoppingScenarios(edgeUrl: string, cast: Shoppers): Scenario[] {
  const origin = new URL(edgeUrl).origin;
  const { shoppers, productIds } = cast;
  const edgeShape = { protocol: "h2c", rawBaseline: rawBaselineIds.h2cNodeDriver } as const;

  let added = 0;
  const addCartItem = nodeDriverScenario(
    {
      ...edgeShape,
      id: addCartItemId,
      title: `AddCartItem, signed in, ${shoppers.length} shoppers`,
      sweep: true,
      dbBaseline: dbBaselineIds.reserveStock,
      // Carts are emptied first so every run starts from the same few lines.
      prepare: (run) => emptyCarts(edgeUrl, shoppers, run.concurrency),
    },
    origin,
    (connections, worker) => {
      const n = added++;
      const shopperIndex = n % shoppers.length;
      // Each shopper cycles through a few products: a line grows by one each time round.
      const round = Math.floor(n / shoppers.length);
      const productId = productIds[(shopperIndex + (round % productsPerCart)) % productIds.length];
      const body = JSON.stringify({ productId, quantity: 1 });
      return connectUnary(
        connections.for(worker),
        "/bazaar.cart.v1.CartService/AddCartItem",
        body,
        signedIn(shoppers[shopperIndex]!),
      );
    },
  );

  let read = 0;
  const getCart = nodeDriverScenario(
    {
      ...edgeShape,
      id: getCartId,
      title: `GetCart, signed in, ${shoppers.length} shoppers, carts as AddCartItem left them`,
      sweep: true,
      dbBaseline: dbBaselineIds.primaryKeySelect,
    },
    origin,
    (connections, worker) =>
      connectUnary(
        connections.for(worker),
        "/bazaar.cart.v1.CartService/GetCart",
        "{}",
        signedIn(shoppers[read++ % shoppers.length]!),
      ),
  );

  let loggedIn = 0;
  const login = nodeDriverScenario(
    {
      ...edgeShape,
      id: loginId,
      title: `Login (argon2id), ${shoppers.length} accounts`,
      // The auth service hashes one password per core at a time; more callers only queue.
      sweep: false,
      concurrency: 8,
    },
    origin,
    (connections, worker) => {
      const shopper = shoppers[loggedIn++ % shoppers.length]!;
      return connectUnary(
        connections.for(worker),
        "/bazaar.auth.v1.AuthService/Login",
        JSON.stringify({ email: shopper.email, password: shopper.password }),
      );
    },
  );

  return [
    addCartItem,
    getCart,
    placeOrderScenario(edgeUrl, cast, "card"),
    login,
    listShopOrdersScenario(edgeUrl, cast),
    placeOrderScenario(edgeUrl, cast, "cash"),
  ];
}

/** Shop orders the seller's shop holds at least before ListShopOrders is measured: five full pages. */
const shopOrdersBeforeListing = 100;
const shopOrdersPerPage = 20;

/**
 * The seller's first page of their shop's orders, newest first. Run alone (--only), the orders
 * PlaceOrder would have left are placed first, unmeasured, by the same shoppers.
 */
function listShopOrdersScenario(edgeUrl: string, cast: Shoppers): Scenario {
  const { seller } = cast;
  const body = JSON.stringify({ shopId: seller.shopId, pageSize: shopOrdersPerPage });
  const headers = { authorization: `Bearer ${seller.accessToken}` };
  return nodeDriverScenario(
    {
      protocol: "h2c",
      rawBaseline: rawBaselineIds.h2cNodeDriver,
      dbBaseline: dbBaselineIds.primaryKeySelect,
      id: listShopOrdersId,
      title: `ListShopOrders, the demo seller, first page of ${shopOrdersPerPage}`,
      sweep: true,
      prepare: () => ensureShopOrders(edgeUrl, cast, shopOrdersBeforeListing),
    },
    new URL(edgeUrl).origin,
    (connections, worker) =>
      connectUnary(
        connections.for(worker),
        "/bazaar.order.v1.ShopOrderService/ListShopOrders",
        body,
        headers,
        (answer) => {
          const count = (JSON.parse(answer) as { shopOrders?: unknown[] }).shopOrders?.length ?? 0;
          return count === shopOrdersPerPage ? undefined : `page of ${count}`;
        },
      ),
  );
}

/** Places orders of the checkout products until the seller's shop holds `count` shop orders. */
async function ensureShopOrders(edgeUrl: string, { shoppers, productIds, seller }: Shoppers, count: number) {
  const held = async () => {
    const { shopOrders = [] } = await callEdge(
      edgeUrl,
      "bazaar.order.v1.ShopOrderService/ListShopOrders",
      { shopId: seller.shopId, pageSize: count },
      seller.accessToken,
    );
    return shopOrders.length as number;
  };
  const missing = count - (await held());
  if (missing <= 0) return;
  const keyPrefix = `bench-shop-orders-${Date.now().toString(36)}`;
  await runEach(
    Array.from({ length: missing }, (_, n) => n),
    {
      concurrency: 8,
      async call(n) {
        const shopper = shoppers[n % shoppers.length]!;
        await callEdge(
          edgeUrl,
          "bazaar.cart.v1.CartService/AddCartItem",
          { productId: productIds[n % productIds.length], quantity: 1 },
          shopper.accessToken,
        );
        await callEdge(
          edgeUrl,
          "bazaar.order.v1.OrderService/PlaceOrder",
          {
            idempotencyKey: `${keyPrefix}-${n}`,
            shippingAddress,
            payment: { method: "PAYMENT_METHOD_CARD", cardToken: "tok_visa" },
          },
          shopper.accessToken,
        );
        return undefined;
      },
    },
  );
  if ((await held()) < count) throw new Error(`the demo shop holds fewer than ${count} shop orders after placing them`);
}

/**
 * PlaceOrder, repeatable under load: shoppers are taken in batches; each batch's carts are
 * refilled with one unit (unmeasured), then each shopper in the batch places one order with a
 * key of its own (measured). Only the order phases count toward time, throughput and CPU. Batches
 * of eight per worker keep the drain at the end of each phase a small part of it. The cart
 * service empties a cart of what was bought when OrderPlaced arrives; a cart refilled before
 * that simply holds two units next time, which the next order buys.
 */
function placeOrderScenario(edgeUrl: string, { shoppers, productIds }: Shoppers, paying: "card" | "cash"): Scenario {
  // Card: the order service takes the payment in the payment service as it is authorized (one
  // call, one PaymentCaptured per order). Cash on delivery: the same saga without it, so the two
  // side by side show what the payment service costs a checkout.
  const payment =
    paying === "card"
      ? { method: "PAYMENT_METHOD_CARD", cardToken: "tok_visa" }
      : { method: "PAYMENT_METHOD_CASH_ON_DELIVERY" };
  let keys = 0;
  const keyPrefix = `bench${Date.now().toString(36)}`;
  const addToCart = (connections: Http2Connections, shopperIndex: number, batch: number) =>
    connectUnary(
      connections.for(shopperIndex),
      "/bazaar.cart.v1.CartService/AddCartItem",
      JSON.stringify({ productId: productIds[(shopperIndex + batch) % productIds.length], quantity: 1 }),
      signedIn(shoppers[shopperIndex]!),
    );
  const placeOrder = (connections: Http2Connections, shopperIndex: number) =>
    connectUnary(
      connections.for(shopperIndex),
      "/bazaar.order.v1.OrderService/PlaceOrder",
      JSON.stringify({
        idempotencyKey: `${keyPrefix}-${keys++}`,
        shippingAddress,
        payment,
      }),
      signedIn(shoppers[shopperIndex]!),
      (body) => {
        const status = (JSON.parse(body) as { order?: { status?: string } }).order?.status;
        return status === "ORDER_STATUS_CONFIRMED" ? undefined : `order ${status}`;
      },
    );

  let batch = 0;
  let nextShopper = 0;
  const takeBatch = (size: number) =>
    Array.from({ length: Math.min(size, shoppers.length) }, () => nextShopper++ % shoppers.length);

  /**
   * One refill-then-order batch; the orders go into `recorder` until `budgetSeconds` is used up.
   * CPU is sampled during the orders only when `sampling` is given (not in warm-up).
   */
  const orderBatch = async (
    connections: Http2Connections,
    concurrency: number,
    recorder: LatencyRecorder,
    budgetSeconds: number,
    sampling?: RunContext["sampling"],
  ) => {
    const batchShoppers = takeBatch(8 * concurrency);
    const thisBatch = batch++;
    await runEach(batchShoppers, {
      concurrency,
      call: (shopperIndex) => addToCart(connections, shopperIndex, thisBatch),
    });
    sampling?.resume();
    try {
      return await runEach(batchShoppers, {
        concurrency,
        recorder,
        stopAt: performance.now() + budgetSeconds * 1000,
        call: (shopperIndex) => placeOrder(connections, shopperIndex),
      });
    } finally {
      sampling?.pause();
    }
  };

  return {
    id: paying === "card" ? placeOrderId : placeOrderCodId,
    kind: "scenario",
    title: `PlaceOrder (${paying === "card" ? "card" : "cash on delivery"}), signed in, ${shoppers.length} shoppers, own key and refilled cart each`,
    generator: "node driver",
    protocol: "h2c",
    sweep: true,
    rawBaseline: rawBaselineIds.h2cNodeDriver,
    dbBaseline: dbBaselineIds.reserveStock,
    phases: "self",
    // What other scenarios left in the carts would make the first orders bigger than the rest.
    prepare: (run) => emptyCarts(edgeUrl, shoppers, run.concurrency),
    async measure(run) {
      const connections = new Http2Connections(new URL(edgeUrl).origin, Math.min(run.concurrency, 8));
      try {
        for (let warm = 0; warm < run.warmupSeconds; )
          warm += await orderBatch(connections, run.concurrency, new LatencyRecorder(), run.warmupSeconds - warm);
        const recorder = new LatencyRecorder();
        let ordering = 0;
        while (ordering < run.seconds)
          ordering += await orderBatch(connections, run.concurrency, recorder, run.seconds - ordering, run.sampling);
        return recorder.figures(ordering);
      } finally {
        await connections.close();
      }
    },
  };
}

function signedIn(shopper: Shopper): { authorization: string } {
  return { authorization: `Bearer ${shopper.accessToken}` };
}

async function emptyCarts(edgeUrl: string, shoppers: Shopper[], concurrency: number): Promise<void> {
  await runEach(shoppers, {
    concurrency: Math.max(8, concurrency),
    call: (shopper) => callEdge(edgeUrl, "bazaar.cart.v1.CartService/ClearCart", {}, shopper.accessToken),
  });
}
