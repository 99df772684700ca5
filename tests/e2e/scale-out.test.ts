// Scale-out against the real mesh: two processes of every service, balanced by their callers
// (both replicas serve calls), on a 3-node NATS cluster. One replica of every service is SIGKILLed while customers check out;
// clients retry idempotently, and afterwards every checkout has completed, stock adds up, every
// event was published once and applied once by each consumer, and the periodic jobs moved to the
// surviving replicas.
import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { OrderStatus, PaymentMethod, type Order } from "../../gen/bazaar/order/v1/order_pb.ts";
import { serviceNames } from "../../deploy/local/mesh.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import type { bearer } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { checkInvariants, query } from "../support/invariants.ts";
import { scrapeMetrics, workServed } from "../support/metrics.ts";
import { devSellerShelf, registerCustomer, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh({
  env: {
    // An order left PENDING by a killed replica is settled by the other within seconds.
    BAZAAR_ORDER_RECOVER_AFTER_MS: "3000",
    BAZAAR_ORDER_RECOVERY_SWEEP_MS: "500",
    BAZAAR_RESERVATION_SWEEP_MS: "1000",
    BAZAAR_EDGE_CHECKOUT_TIMEOUT_MS: "20000",
  },
  shape: { replicas: 2, natsClusterSize: 3 },
  httpVersion: "1.1",
  startTimeoutMs: 180_000,
});
const { auth, carts, orders, products, admin } = e2e;

type Caller = ReturnType<typeof bearer>;
const address = {
  recipientName: "Grace",
  line1: "2 Replica Row",
  city: "Berlin",
  postalCode: "10115",
  countryCode: "DE",
};

/** What a client does while a replica may vanish under its call: try again, the same request. */
const retryable = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Unknown, Code.Internal]);
const retries: Code[] = [];
async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const code = ConnectError.from(error).code;
      if (!retryable.has(code) || attempt >= 40) throw error;
      retries.push(code);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** One purchase to its end: the same idempotency key until the order exists, then its outcome. */
async function checkOut(me: Caller, productId: string, quantity: number): Promise<Order> {
  await withRetries(() => carts.clearCart({}, me));
  await withRetries(() => carts.addCartItem({ productId, quantity }, me));
  const request = {
    idempotencyKey: randomUUID(),
    shippingAddress: address,
    payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
  };
  const { order } = await withRetries(() => orders.placeOrder(request, me));
  const settled = await eventually(
    () => withRetries(() => orders.getOrder({ id: order!.id }, me)),
    ({ order }) => order!.status !== OrderStatus.PENDING,
    30_000,
    200,
  );
  return settled.order!;
}

/**
 * A customer buying until `done()` says stop (and at least twice): an order the recovery
 * cancelled (its replica died before payment) is bought again with a new key, as a shop's
 * client would. Returns how many purchases were confirmed.
 */
async function shopper(me: Caller, productIds: string[], done: () => boolean, confirmed: Order[], cancelled: Order[]) {
  let bought = 0;
  while (bought < 2 || !done()) {
    const order = await checkOut(me, productIds[(bought + confirmed.length) % productIds.length]!, 1 + (bought % 2));
    if (order.status === OrderStatus.CONFIRMED) {
      confirmed.push(order);
      bought++;
    } else {
      expect(order.status, `order ${order.id}`).toBe(OrderStatus.CANCELLED);
      cancelled.push(order);
    }
  }
  return bought;
}

const databaseOf = (service: string) => e2e.mesh.env[`BAZAAR_${service.toUpperCase()}_DB`]!;

describe("two replicas of every service on a NATS cluster", () => {
  it("when one replica of every service is killed during a stream of checkouts, then every checkout completes and everything adds up", async () => {
    expect(e2e.mesh.processes).toEqual([...serviceNames.flatMap((name) => [`${name}-1`, `${name}-2`]), "edge"]);
    const asAdmin = await signIn(auth, devAccounts.admin);
    const { asSeller, shopId, categoryId } = await devSellerShelf(auth, products);
    const initialStock = 500;
    const productIds = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const { product } = await products.createProduct(
          {
            product: {
              shopId,
              categoryId,
              name: `Replicated ${i} ${randomBytes(3).toString("hex")}`,
              price: { currencyCode: "USD", amountMinor: 250n },
              stockOnHand: initialStock,
            },
          },
          asSeller,
        );
        return product!.id;
      }),
    );
    const customers = await Promise.all(Array.from({ length: 12 }, () => registerCustomer(auth, "replica")));

    const confirmed: Order[] = [];
    const cancelled: Order[] = [];
    // Customers keep buying until every kill is done and one more second has passed.
    let killsDone = false;
    const shopping = Promise.all(customers.map((me) => shopper(me, productIds, () => killsDone, confirmed, cancelled)));
    // Callers balance: once checkouts flow, both replicas of each service on the checkout path
    // have served calls (read from their own /metrics).
    await eventually(
      async () => confirmed.length,
      (n) => n >= customers.length,
      60_000,
      100,
    );
    for (const name of ["auth", "product", "cart", "order"]) {
      for (const replica of [`${name}-1`, `${name}-2`]) {
        const samples = await scrapeMetrics(e2e.mesh.metricsUrl(replica));
        expect(workServed(samples), `calls served by ${replica}`).toBeGreaterThan(0);
      }
    }
    // One replica of each service dies mid-stream, a second or so apart, and stays dead.
    const killed: string[] = [];
    for (const name of serviceNames) {
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      await e2e.mesh.kill(`${name}-1`, "SIGKILL");
      killed.push(name);
    }
    setTimeout(() => (killsDone = true), 1_000);
    const purchases = await shopping;

    // Every checkout completed: each customer has its confirmed purchases, none is left pending.
    expect(confirmed).toHaveLength(purchases.reduce((sum, n) => sum + n, 0));
    for (const [i, me] of customers.entries()) {
      const { orders: mine } = await withRetries(() => orders.listOrders({ pageSize: 100 }, me));
      expect(mine.filter((o) => o.status === OrderStatus.PENDING)).toEqual([]);
      expect(mine.filter((o) => o.status === OrderStatus.CONFIRMED)).toHaveLength(purchases[i]!);
    }

    // I1–I4, once the events the killed replicas had pulled are redelivered (after the
    // consumers' ack wait, 30 s) and applied.
    const stores = {
      mysqlUrl: e2e.mesh.mysqlUrl,
      natsUrl: e2e.mesh.natsUrl,
      databases: Object.fromEntries(serviceNames.map((name) => [name, databaseOf(name)])),
    };
    const violations = await eventually(
      () =>
        checkInvariants(
          stores,
          new Map(productIds.map((id) => [id, initialStock])),
          confirmed.map((o) => o.id),
        ),
      (found) => found.length === 0,
      60_000,
      500,
    );
    expect(violations).toEqual([]);
    // Not vacuous: both services' durable consumers did apply events.
    for (const [service, consumer] of [
      ["admin", "admin-projections"],
      ["cart", "cart-order-placed"],
      ["cart", "cart-product-snapshots"],
    ]) {
      const [row] = await query<{ n: number }>(
        e2e.mesh.mysqlUrl,
        databaseOf(service!),
        "SELECT COUNT(*) AS n FROM processed_events WHERE consumer = ?",
        [consumer],
      );
      expect(Number(row!.n), consumer).toBeGreaterThan(0);
    }
    const soldOf = (id: string) =>
      confirmed
        .flatMap((o) => o.items)
        .filter((item) => item.productId === id)
        .reduce((sum, item) => sum + item.quantity, 0);

    // The admin projection counted each purchase once: its units sold equal the orders'.
    const report = await withRetries(() =>
      admin.getSalesReport(
        {
          fromTime: timestampFromDate(new Date(Date.now() - 3_600_000)),
          toTime: timestampFromDate(new Date(Date.now() + 3_600_000)),
        },
        asAdmin,
      ),
    );
    for (const id of productIds) {
      expect(
        Number(report.topProducts.find((p) => p.productId === id)?.quantity ?? 0),
        `units of ${id} in the report`,
      ).toBe(soldOf(id));
    }

    // The periodic jobs are held by the surviving replicas now.
    for (const [service, job] of [
      ["order", "recover overdue orders"],
      ["product", "release expired holds"],
    ] as const) {
      const holder = `${hostname()}:${e2e.mesh.pid(`${service}-2`)}`;
      const rows = await eventually(
        () =>
          query<{ holder: string }>(
            e2e.mesh.mysqlUrl,
            databaseOf(service),
            "SELECT holder FROM job_leases WHERE name = ?",
            [job],
          ),
        (found) => found[0]?.holder === holder,
        20_000,
      );
      expect(rows[0]?.holder, `${job} lease`).toBe(holder);
    }
    expect(killed).toEqual(serviceNames);
    console.info(
      `scale-out: ${confirmed.length} confirmed, ${cancelled.length} cancelled by recovery and bought again, ${retries.length} retried calls (${[...new Set(retries)].map((c) => Code[c]).join(", ") || "none"})`,
    );
  }, 300_000);
});
