// The recovery loop racing checkout, against a real MariaDB: an order claimed as overdue while
// PENDING and confirmed by checkout a moment later must keep its stock sold. Found by the chaos
// run, where a checkout slowed by a restarting product service outlived its recovery deadline.
import { randomBytes, randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb, ensureDatabase, inTransaction, migrateToLatest } from "../../kit/db.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { OrderDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { claimOverdueOrders, findOrder, insertPendingOrder } from "../db/order.repository.ts";
import { inMemoryPayments } from "../in-memory-ports.ts";
import type { OrderDeps } from "./ports.ts";
import { recoverOrder } from "./recovery.ts";
import { abandonOrder, confirmOrder } from "./settle.ts";

let db: Kysely<OrderDatabase>;
const stockCalls: string[] = [];

beforeAll(async () => {
  const database = `order_settle_${randomBytes(4).toString("hex")}`;
  await ensureDatabase(inject("mysqlUrl"), database);
  db = createDb<OrderDatabase>({ url: inject("mysqlUrl"), database });
  await migrateToLatest(db as Kysely<unknown>, migrations);
});

afterAll(async () => {
  await db?.destroy();
});

function deps(): OrderDeps {
  return {
    db,
    outbox: { wake: () => undefined },
    payments: inMemoryPayments(),
    stock: {
      reserve: async (orderId) => void stockCalls.push(`reserve ${orderId}`),
      commit: async (orderId) => void stockCalls.push(`commit ${orderId}`),
      giveBack: async (orderId) => void stockCalls.push(`giveBack ${orderId}`),
      giveBackItems: async (orderId, returnId) => void stockCalls.push(`giveBackItems ${orderId} ${returnId}`),
    },
    pricing: { taxRateBasisPoints: 500, shippingMinor: 0n },
    currencyCode: "USD",
    recoverAfterMs: 3_000,
    paymentWaitMs: 3_000,
    captureAtOnce: false,
  };
}

/** A PENDING order, cash on delivery, already overdue for recovery. */
async function overdueOrder() {
  const lines = [
    {
      productId: randomUUID(),
      shopId: randomUUID(),
      name: "Teapot",
      unitPriceMinor: 1000n,
      quantity: 1,
      lineTotalMinor: 1000n,
      imageJson: "",
    },
  ];
  const order = { id: uuidv7(), userId: randomUUID(), lines, totalMinor: 1050n, stockTaken: "SOLD" as const };
  await inTransaction(db, (trx) =>
    insertPendingOrder(
      trx,
      {
        ...order,
        currencyCode: "USD",
        subtotalMinor: 1000n,
        taxMinor: 50n,
        shippingMinor: 0n,
        shippingAddress: {
          recipientName: "Ada",
          line1: "1 Way",
          line2: "",
          city: "Berlin",
          region: "",
          postalCode: "10999",
          countryCode: "DE",
          phone: "",
        },
        paymentMethod: "CASH_ON_DELIVERY",
        shopOrders: [{ id: uuidv7(), shopId: lines[0]!.shopId, sellerId: randomUUID(), subtotalMinor: 1000n }],
        idempotencyKey: randomUUID(),
        requestFingerprint: "f".repeat(64),
      },
      new Date(Date.now() - 1_000),
    ),
  );
  return order;
}

describe("recovery racing checkout", () => {
  it("when recovery claims a PENDING order and checkout confirms it before recovery reads it, then its stock is not given back", async () => {
    const order = await overdueOrder();
    expect(await claimOverdueOrders(db, new Date(), 30_000, 100)).toContain(order.id);
    await confirmOrder(deps(), order, "cash on delivery");
    await recoverOrder(deps(), order.id);
    expect(stockCalls.filter((call) => call.endsWith(order.id))).toEqual([]);
    expect((await findOrder(db, order.id))!.status).toBe("CONFIRMED");
  });

  it("when recovery claims an order checkout cancelled, then it finishes giving the stock back", async () => {
    const order = await overdueOrder();
    expect(await claimOverdueOrders(db, new Date(), 30_000, 100)).toContain(order.id);
    await abandonOrder(
      { ...deps(), stock: { ...deps().stock, giveBack: async () => Promise.reject(new Error("product unavailable")) } },
      order,
      "CANCELLED",
      "test",
    ).catch(() => undefined);
    await recoverOrder(deps(), order.id);
    expect(stockCalls.filter((call) => call.endsWith(order.id))).toEqual([`giveBack ${order.id}`]);
  });
});
