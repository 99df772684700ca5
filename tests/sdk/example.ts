// A customer's journey written against the client SDK (buf.gen.sdk.yaml) and Connect-ES only:
// sign in, search the catalog, put a product in the cart, buy it by card, and watch the order
// until it is CONFIRMED.
//
//   buf generate --template buf.gen.sdk.yaml --output tests/sdk
//   node tests/sdk/example.ts --edge http://127.0.0.1:8080 --email customer@bazaar.test --password …
//
// The flags fall back to BAZAAR_EDGE_URL, BAZAAR_EMAIL and BAZAAR_PASSWORD; --query picks what to
// search for. Node runs this file as it is: it strips the types here, and the SDK is plain
// JavaScript (target=js+dts) whose .d.ts files give tsc the types.
// Exit code 0 once the order is CONFIRMED, 1 with the reason otherwise.
import { parseArgs } from "node:util";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService } from "./generated/bazaar/auth/v1/auth_pb.js";
import { CartService } from "./generated/bazaar/cart/v1/cart_pb.js";
import type { Money } from "./generated/bazaar/common/v1/common_pb.js";
import { OrderService, OrderStatus, PaymentMethod, type Order } from "./generated/bazaar/order/v1/order_pb.js";
import { ProductService } from "./generated/bazaar/product/v1/product_pb.js";

const { values: flags } = parseArgs({
  options: {
    edge: { type: "string", default: process.env.BAZAAR_EDGE_URL ?? "http://127.0.0.1:8080" },
    email: { type: "string", default: process.env.BAZAAR_EMAIL },
    password: { type: "string", default: process.env.BAZAAR_PASSWORD },
    query: { type: "string", default: "coffee" },
  },
});

/** How long the order may take to settle; a card order normally takes about a second. */
const confirmWithinMs = 30_000;

const shippingAddress = {
  recipientName: "SDK Example",
  line1: "Friedrichstraße 43",
  city: "Berlin",
  postalCode: "10117",
  countryCode: "DE",
};

async function main(): Promise<void> {
  if (!flags.email || !flags.password)
    throw new Error("give --email and --password (or BAZAAR_EMAIL, BAZAAR_PASSWORD)");
  const anonymous = createConnectTransport({ baseUrl: flags.edge, httpVersion: "1.1" });

  const { user, tokens } = await createClient(AuthService, anonymous).login({
    email: flags.email,
    password: flags.password,
  });
  console.log(`signed in as ${user!.email} (${user!.id})`);

  // The catalog is public; the cart and orders are the signed-in customer's own.
  const products = createClient(ProductService, anonymous);
  const signedIn = createConnectTransport({
    baseUrl: flags.edge,
    httpVersion: "1.1",
    interceptors: [bearer(tokens!.accessToken)],
  });
  const carts = createClient(CartService, signedIn);
  const orders = createClient(OrderService, signedIn);

  const found = await products.searchProducts({ query: flags.query, pageSize: 10 });
  const product = found.products.find((p) => p.stockAvailable > 0);
  if (!product) throw new Error(`no product in stock matches "${flags.query}"`);
  console.log(
    `searched "${flags.query}": ${found.products.length} found; buying ${product.name} at ${format(product.price)}`,
  );

  const { cart } = await carts.addCartItem({ productId: product.id, quantity: 1 });
  console.log(`cart: ${cart!.totalItems} item(s), subtotal ${format(cart!.subtotal)}`);

  const { order } = await orders.placeOrder({
    // One key per checkout attempt: a retried call returns the same order instead of a second one.
    idempotencyKey: crypto.randomUUID(),
    shippingAddress,
    payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
  });
  console.log(`placed order ${order!.id}, total ${format(order!.total)}`);

  const settled = await watchUntilSettled(orders, order!);
  if (settled.status !== OrderStatus.CONFIRMED) {
    throw new Error(
      `order ended ${OrderStatus[settled.status]}: ${settled.payment?.failureReason || "no reason given"}`,
    );
  }
}

/** Prints each status the order reaches; returns it once CONFIRMED, PAYMENT_FAILED or CANCELLED. */
async function watchUntilSettled(orders: Client<typeof OrderService>, placed: Order): Promise<Order> {
  const outcomes: OrderStatus[] = [OrderStatus.CONFIRMED, OrderStatus.PAYMENT_FAILED, OrderStatus.CANCELLED];
  // Leaving the loop does not end the request: aborting does, also when the time is up.
  const done = new AbortController();
  const signal = AbortSignal.any([done.signal, AbortSignal.timeout(confirmWithinMs)]);
  try {
    // Replaying from the order's creation (by the server's clock) shows every status it has
    // had, also those reached before the watch was attached.
    for await (const { order } of orders.watchOrders({ sinceTime: placed.createTime }, { signal })) {
      if (order!.id !== placed.id) continue;
      console.log(`watched order ${order!.id}: ${OrderStatus[order!.status]}`);
      if (outcomes.includes(order!.status)) return order!;
    }
  } finally {
    done.abort();
  }
  throw new Error("the watch ended before the order was settled");
}

function bearer(accessToken: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${accessToken}`);
    return next(request);
  };
}

function format(money: Money | undefined): string {
  if (!money) return "?";
  const currency = new Intl.NumberFormat("en", { style: "currency", currency: money.currencyCode });
  return currency.format(Number(money.amountMinor) / 10 ** (currency.resolvedOptions().maximumFractionDigits ?? 2));
}

main().catch((error: unknown) => {
  // A ConnectError's message starts with its code, e.g. "[unauthenticated] …".
  console.error(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
