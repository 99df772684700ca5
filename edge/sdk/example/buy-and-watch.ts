// A customer's journey written against @bazaar/sdk only: sign in, search the catalog, put a
// product in the cart, buy it by card, and follow the order until it is CONFIRMED.
//
//   npm run sdk    # builds the package (or: npm install @bazaar/sdk in a project of your own)
//   node buy-and-watch.ts --edge http://127.0.0.1:8080 --email customer@bazaar.test --password …
//
// The flags fall back to BAZAAR_EDGE_URL, BAZAAR_EMAIL and BAZAAR_PASSWORD; --query picks what to
// search for; --tokens keeps the session in a file, so a second run needs no password. Node runs
// this file as it is (it strips the types); the package's .d.ts files give tsc the types.
// Exit code 0 once the order is CONFIRMED, 1 with the reason otherwise.
import { parseArgs } from "node:util";
import { type Bazaar, createBazaar, errorInfoOf, followStream, memoryTokenStorage } from "@bazaar/sdk";
import type { Money } from "@bazaar/sdk/common";
import { fileTokenStorage } from "@bazaar/sdk/node";
import { type Order, OrderStatus, OrderStatusSchema, PaymentMethod } from "@bazaar/sdk/order";

const { values: flags } = parseArgs({
  options: {
    edge: { type: "string", default: process.env.BAZAAR_EDGE_URL ?? "http://127.0.0.1:8080" },
    email: { type: "string", default: process.env.BAZAAR_EMAIL },
    password: { type: "string", default: process.env.BAZAAR_PASSWORD },
    query: { type: "string", default: "coffee" },
    tokens: { type: "string" },
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
  const bazaar = createBazaar({
    baseUrl: flags.edge,
    storage: flags.tokens ? fileTokenStorage(flags.tokens) : memoryTokenStorage(),
  });
  if (!(await bazaar.session.tokens())) {
    if (!flags.email || !flags.password)
      throw new Error("give --email and --password (or BAZAAR_EMAIL, BAZAAR_PASSWORD)");
    await bazaar.session.signIn({ email: flags.email, password: flags.password });
  }
  // From here on every call carries the access token, refreshed when it expires.
  const { user } = await bazaar.auth.getMe({});
  console.log(`signed in as ${user!.email} (${user!.id})`);

  const found = await bazaar.products.searchProducts({ query: flags.query, pageSize: 10 });
  const product = found.products.find((p) => p.stockAvailable > 0);
  if (!product) throw new Error(`no product in stock matches "${flags.query}"`);
  console.log(
    `searched "${flags.query}": ${found.products.length} found; buying ${product.name} at ${format(product.price)}`,
  );

  const { cart } = await bazaar.carts.addCartItem({ productId: product.id, quantity: 1 });
  console.log(`cart: ${cart!.totalItems} item(s), subtotal ${format(cart!.subtotal)}`);

  const { order } = await bazaar.orders.placeOrder({
    // One key per checkout attempt: a retried call returns the same order instead of a second one.
    idempotencyKey: crypto.randomUUID(),
    shippingAddress,
    payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
  });
  console.log(`placed order ${order!.id}, total ${format(order!.total)}`);

  const settled = await watchUntilSettled(bazaar, order!);
  if (settled.status !== OrderStatus.CONFIRMED) {
    throw new Error(
      `order ended ${statusName(settled.status)}: ${settled.payment?.failureReason || "no reason given"}`,
    );
  }
}

/** Prints each status the order reaches; returns it once CONFIRMED, PAYMENT_FAILED or CANCELLED. */
async function watchUntilSettled(bazaar: Bazaar, placed: Order): Promise<Order> {
  const outcomes: OrderStatus[] = [OrderStatus.CONFIRMED, OrderStatus.PAYMENT_FAILED, OrderStatus.CANCELLED];
  // followStream watches again from the last resume_token after a break; the first watch
  // replays from the order's creation (by the server's clock), so it shows every status the
  // order has had, also those reached before the watch was attached.
  const updates = followStream(
    (resumeToken, signal) =>
      bazaar.orders.watchOrders(resumeToken ? { resumeToken } : { sinceTime: placed.createTime }, { signal }),
    { signal: AbortSignal.timeout(confirmWithinMs) },
  );
  for await (const { order } of updates) {
    if (order!.id !== placed.id) continue;
    console.log(`watched order ${order!.id}: ${statusName(order!.status)}`);
    if (outcomes.includes(order!.status)) return order!;
  }
  throw new Error(`the order was not settled within ${confirmWithinMs / 1000} s`);
}

/** "CONFIRMED" for OrderStatus.CONFIRMED: the enum's value names are in its schema. */
function statusName(status: OrderStatus): string {
  return OrderStatusSchema.value[status]?.localName ?? String(status);
}

function format(money: Money | undefined): string {
  if (!money) return "?";
  const currency = new Intl.NumberFormat("en", { style: "currency", currency: money.currencyCode });
  return currency.format(Number(money.amountMinor) / 10 ** (currency.resolvedOptions().maximumFractionDigits ?? 2));
}

main().catch((error: unknown) => {
  // The ErrorInfo reason, when the edge or a service gave one, is what to branch on.
  const reason = errorInfoOf(error)?.reason;
  console.error(`failed: ${reason ? `${reason}: ` : ""}${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
