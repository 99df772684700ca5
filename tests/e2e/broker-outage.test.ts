// The event backbone under a broker outage: nats-server is stopped for 10 s while customers keep
// checking out, then started again. Every outbox row of every service must end up published and
// in the admin audit trail exactly once: audit ids = outbox ids, stream messages = outbox rows.
import { randomUUID } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsConnectOptions } from "../../services/kit/nats.ts";
import { createConnection } from "mysql2/promise";
import { describe, expect, it } from "vitest";
import { OrderStatus, PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { serviceNames } from "../../deploy/local/mesh.ts";
import { servicePassword } from "../../deploy/local/nats-users.ts";
import { streamName } from "../../services/kit/events.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { devSellerShelf, registerCustomer } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh({ httpVersion: "1.1" });
const { auth, carts, orders, products } = e2e;

async function query<T>(service: string, statement: string): Promise<T[]> {
  const connection = await createConnection({
    uri: e2e.mesh.mysqlUrl,
    database: e2e.mesh.env[`BAZAAR_${service.toUpperCase()}_DB`],
  });
  try {
    return (await connection.query(statement))[0] as T[];
  } finally {
    await connection.end();
  }
}

describe("a broker outage", () => {
  it("when nats-server is down for 10 s under a steady stream of orders, then every outbox row is published and audited exactly once", async () => {
    const { asSeller, shopId, categoryId } = await devSellerShelf(auth, products);
    const { product } = await products.createProduct(
      {
        product: {
          shopId,
          categoryId,
          name: "Outage stock",
          price: { currencyCode: "USD", amountMinor: 300n },
          stockOnHand: 100_000,
        },
      },
      asSeller,
    );

    let running = true;
    const placed: string[] = [];
    const failures: string[] = [];
    const customer = async (n: number) => {
      const me = await registerCustomer(auth, `outage-${n}`);
      while (running) {
        try {
          await carts.addCartItem({ productId: product!.id, quantity: 1 }, me);
          const { order } = await orders.placeOrder(
            {
              idempotencyKey: randomUUID(),
              shippingAddress: {
                recipientName: "O",
                line1: "4 Outage Rd",
                city: "Berlin",
                postalCode: "10115",
                countryCode: "DE",
              },
              payment: { method: PaymentMethod.CASH_ON_DELIVERY },
            },
            me,
          );
          if (order!.status === OrderStatus.CONFIRMED) placed.push(order!.id);
          await carts.clearCart({}, me);
        } catch (error) {
          failures.push(String(error));
        }
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    };
    const load = Promise.all([1, 2, 3].map(customer));

    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const beforeOutage = placed.length;
    await e2e.mesh.stopNats();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const duringOutage = placed.length - beforeOutage;
    await e2e.mesh.startNats();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    running = false;
    await load;

    // Checkout never needed the broker: orders kept being confirmed while it was down.
    expect(duringOutage).toBeGreaterThan(5);
    expect(failures).toEqual([]);

    const outboxIds = async () =>
      (await Promise.all(serviceNames.map((s) => query<{ id: string }>(s, "SELECT id FROM outbox"))))
        .flat()
        .map((r) => r.id);
    const unpublished = async () =>
      (
        await Promise.all(
          serviceNames.map((s) =>
            query<{ n: number }>(s, "SELECT COUNT(*) AS n FROM outbox WHERE publish_time IS NULL"),
          ),
        )
      ).reduce((sum, [row]) => sum + Number(row!.n), 0);
    const tally = async () => ({
      expected: new Set(await outboxIds()),
      audited: new Set((await query<{ id: string }>("admin", "SELECT id FROM audit_events")).map((r) => r.id)),
      unpublished: await unpublished(),
    });
    const { expected, audited } = await eventually(
      tally,
      (t) => t.audited.size === t.expected.size && t.unpublished === 0,
      30_000,
      250,
    );
    expect(await unpublished()).toBe(0);
    expect([...audited].sort()).toEqual([...expected].sort());

    const nc = await connect(natsConnectOptions(e2e.mesh.natsUrl));
    try {
      const { state } = await (await jetstreamManager(nc)).streams.info(streamName);
      expect(state.messages).toBe(expected.size);
    } finally {
      await nc.close();
    }
    const sales = await query<{ n: number }>(
      "admin",
      "SELECT COUNT(*) AS n FROM sales_orders WHERE status = 'CONFIRMED'",
    );
    expect(Number(sales[0]!.n)).toBe(placed.length);
  }, 120_000);
});

describe("who may publish what", () => {
  it("when a service publishes under another service's subjects, then the broker refuses; its own subjects work; anonymous connections are refused", async () => {
    const server = natsConnectOptions(e2e.mesh.natsUrl).servers;
    await expect(connect({ servers: server, reconnect: false })).rejects.toThrow(/auth/i);

    const cart = await connect({ servers: server, user: "cart", pass: servicePassword("cart") });
    try {
      const js = jetstream(cart);
      await expect(js.publish("bazaar.order.order_placed", new Uint8Array([1]), { timeout: 2_000 })).rejects.toThrow(
        /permission/i,
      );
      const ack = await js.publish("bazaar.cart.permission_check", new Uint8Array([1]), { timeout: 2_000 });
      expect(ack.stream).toBe(streamName);
    } finally {
      await cart.close();
    }
  });
});
