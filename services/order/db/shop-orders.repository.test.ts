// Shop orders against a real MariaDB: written with their order at checkout, moved with it, and
// backfilled by the migration for orders an older version placed (restarts over an existing
// database are normal).
import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import { Migrator } from "kysely/migration";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb, ensureDatabase, inTransaction, migrateToLatest } from "../../kit/db.ts";
import { uuidv7 } from "../../kit/ids.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import { orderStatusFromShopOrders, splitByShop, totalsOf, type OrderLine } from "../domain/order.ts";
import type { OrderDatabase } from "./database.ts";
import { migrations } from "./migrations/index.ts";
import {
  feedAfter,
  feedPositionBefore,
  findOrder,
  insertPendingOrder,
  lockShopOrder,
  moveLockedShopOrder,
  transitionOrder,
} from "./order.repository.ts";

let db: Kysely<OrderDatabase>;

beforeAll(async () => {
  db = await migratedTestDatabase<OrderDatabase>("order_shop_orders", migrations);
});

afterAll(async () => {
  await db?.destroy();
});

const address = {
  recipientName: "Ada",
  line1: "1 Way",
  line2: "",
  city: "Berlin",
  region: "",
  postalCode: "10999",
  countryCode: "DE",
  phone: "",
};

function line(shopId: string, unitPriceMinor: bigint, quantity: number): OrderLine {
  return {
    productId: randomUUID(),
    shopId,
    name: "Teapot",
    unitPriceMinor,
    quantity,
    lineTotalMinor: unitPriceMinor * BigInt(quantity),
    imageJson: "",
  };
}

async function pendingOrder(lines: OrderLine[], sellers: Map<string, string>) {
  const id = uuidv7();
  const totals = totalsOf(lines, { taxRateBasisPoints: 500, shippingMinor: 0n });
  await inTransaction(db, (trx) =>
    insertPendingOrder(
      trx,
      {
        id,
        userId: randomUUID(),
        lines,
        ...totals,
        currencyCode: "USD",
        shippingAddress: address,
        stockTaken: "SOLD",
        paymentMethod: "CASH_ON_DELIVERY",
        idempotencyKey: randomUUID(),
        requestFingerprint: "f".repeat(64),
        shopOrders: splitByShop(lines, (shopId) => sellers.get(shopId)!, uuidv7),
      },
      new Date(Date.now() + 60_000),
    ),
  );
  return id;
}

describe("shop orders in the order database", () => {
  const [shopA, shopB, sellerA, sellerB] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const sellers = new Map([
    [shopA, sellerA],
    [shopB, sellerB],
  ]);

  it("when a two-shop order is placed, then it reads back with one PENDING shop order per shop, its lines and exact subtotal", async () => {
    const id = await pendingOrder([line(shopA, 1999n, 2), line(shopB, 250n, 3), line(shopA, 10001n, 1)], sellers);
    const order = (await findOrder(db, id))!;
    expect(order.shopOrders).toHaveLength(2);
    const byShop = new Map(order.shopOrders.map((s) => [s.shopId, s]));
    expect(byShop.get(shopA)).toMatchObject({
      orderId: id,
      sellerId: sellerA,
      subtotalMinor: 13_999n,
      status: "PENDING",
    });
    expect(
      byShop
        .get(shopA)!
        .lines.map((l) => l.lineTotalMinor)
        .sort((a, b) => Number(a - b)),
    ).toEqual([3_998n, 10_001n]);
    expect(byShop.get(shopB)).toMatchObject({ sellerId: sellerB, subtotalMinor: 750n, status: "PENDING" });
    expect(byShop.get(shopB)!.lines).toHaveLength(1);
    expect(order.shopOrders.reduce((sum, s) => sum + s.subtotalMinor, 0n)).toBe(order.subtotalMinor);
    expect(order.shopOrders[0]!.history.map((h) => h.status)).toEqual(["PENDING"]);
  });

  it("when the order is confirmed and then cancelled, then each shop order follows with a history entry", async () => {
    const id = await pendingOrder([line(shopA, 100n, 1), line(shopB, 200n, 1)], sellers);
    await inTransaction(db, (trx) => transitionOrder(trx, id, ["PENDING"], "CONFIRMED", "paid"));
    expect((await findOrder(db, id))!.shopOrders.map((s) => s.status)).toEqual(["CONFIRMED", "CONFIRMED"]);
    await inTransaction(db, (trx) => transitionOrder(trx, id, ["CONFIRMED"], "CANCELLED", "changed my mind"));
    const order = (await findOrder(db, id))!;
    for (const shopOrder of order.shopOrders) {
      expect(shopOrder.status).toBe("CANCELLED");
      expect(shopOrder.history.map((h) => [h.status, h.note])).toEqual([
        ["PENDING", ""],
        ["CONFIRMED", "paid"],
        ["CANCELLED", "changed my mind"],
      ]);
    }
  });

  it("when a payment fails, then the shop orders are cancelled", async () => {
    const id = await pendingOrder([line(shopA, 100n, 1)], sellers);
    await inTransaction(db, (trx) => transitionOrder(trx, id, ["PENDING"], "PAYMENT_FAILED", "declined"));
    expect((await findOrder(db, id))!.shopOrders.map((s) => s.status)).toEqual(["CANCELLED"]);
  });
});

describe("a shop's fulfilment moves in the order database", () => {
  const [shopA, shopB, sellerA, sellerB] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const sellers = new Map([
    [shopA, sellerA],
    [shopB, sellerB],
  ]);

  async function confirmedTwoShopOrder() {
    const id = await pendingOrder([line(shopA, 100n, 1), line(shopB, 200n, 1)], sellers);
    await inTransaction(db, (trx) => transitionOrder(trx, id, ["PENDING"], "CONFIRMED", "paid"));
    const order = (await findOrder(db, id))!;
    return { order, a: order.shopOrders.find((s) => s.shopId === shopA)!.id };
  }

  const move = (
    id: string,
    to: "PROCESSING" | "SHIPPED" | "DELIVERED",
    shipment?: Parameters<typeof moveLockedShopOrder>[5],
  ) =>
    inTransaction(db, async (trx) => {
      const locked = (await lockShopOrder(trx, id))!;
      return moveLockedShopOrder(trx, locked, to, `to ${to}`, orderStatusFromShopOrders, shipment);
    });

  it("when one shop order moves, then it and its history change, the order follows the rule, and each move is one entry of the buyer's feed", async () => {
    const { order, a } = await confirmedTwoShopOrder();
    const start = await feedPositionBefore(db, order.userId);
    expect(await move(a, "PROCESSING")).toEqual({ orderTo: "PROCESSING" });
    expect(await move(a, "SHIPPED", { carrier: "DHL", trackingNumber: "T1", trackingUrl: "" })).toEqual({
      orderTo: "PROCESSING",
    });
    expect(await move(a, "DELIVERED")).toEqual({ orderTo: "PROCESSING" });
    const after = (await findOrder(db, order.id))!;
    expect(after.status).toBe("PROCESSING");
    const shopOrder = after.shopOrders.find((s) => s.id === a)!;
    expect(shopOrder).toMatchObject({ status: "DELIVERED", carrier: "DHL", trackingNumber: "T1" });
    expect(shopOrder.history.map((h) => [h.status, h.note])).toEqual([
      ["PENDING", ""],
      ["CONFIRMED", "paid"],
      ["PROCESSING", "to PROCESSING"],
      ["SHIPPED", "to SHIPPED"],
      ["DELIVERED", "to DELIVERED"],
    ]);
    expect(after.shopOrders.find((s) => s.id !== a)!.status).toBe("CONFIRMED");
    // Three moves, three feed entries, consecutive: the order's own when it moved, else the shop order's.
    const feed = await feedAfter(db, order.userId, start, 100);
    expect(feed).toEqual([1, 2, 3].map((n) => ({ seq: start + n, orderId: order.id })));
    expect(await feedPositionBefore(db, order.userId)).toBe(start + 3);
    expect(await feedAfter(db, order.userId, start + 1, 1)).toEqual([{ seq: start + 2, orderId: order.id }]);
  });

  it("when a shop order is shipped, then the order cannot be cancelled; an admin shipping the order leaves a delivered shop order delivered", async () => {
    const { order, a } = await confirmedTwoShopOrder();
    await move(a, "PROCESSING");
    await move(a, "SHIPPED");
    const refused = await inTransaction(db, (trx) =>
      transitionOrder(trx, order.id, ["PENDING", "CONFIRMED", "PROCESSING"], "CANCELLED", "too late"),
    );
    expect(refused).toEqual({ moved: false, current: "PROCESSING" });
    await move(a, "DELIVERED");
    await inTransaction(db, (trx) => transitionOrder(trx, order.id, ["PROCESSING"], "SHIPPED", "admin"));
    const after = (await findOrder(db, order.id))!;
    expect(after.shopOrders.map((s) => [s.id === a, s.status]).sort()).toEqual([
      [false, "SHIPPED"],
      [true, "DELIVERED"],
    ]);
  });
});

describe("orders placed before shop orders existed", () => {
  it("when the database is migrated, then each existing order gets one shop order per shop in its status, summing to its subtotal", async () => {
    const database = `order_backfill_${randomUUID().slice(0, 8)}`;
    await ensureDatabase(inject("mysqlUrl"), database);
    const old = createDb<any>({ url: inject("mysqlUrl"), database });
    try {
      const before = Object.fromEntries(
        Object.entries(migrations).filter(([name]) => name < "2026_12_04_100000_create_shop_orders"),
      );
      await new Migrator({ db: old, provider: { getMigrations: async () => before } }).migrateToLatest();
      const [shopA, shopB] = [randomUUID(), randomUUID()];
      const placed = [
        {
          id: uuidv7(),
          status: "SHIPPED",
          lines: [
            [shopA, 1999n, 2],
            [shopB, 250n, 3],
            [shopA, 1n, 1],
          ],
        },
        { id: uuidv7(), status: "PAYMENT_FAILED", lines: [[shopB, 500n, 1]] },
      ] as const;
      for (const order of placed) {
        const subtotal = order.lines.reduce((sum, [, price, quantity]) => sum + price * BigInt(quantity), 0n);
        await sql`
          INSERT INTO orders (id, user_id, status, currency_code, subtotal_minor, tax_minor, shipping_minor,
            total_minor, shipping_address, payment_method, payment_status, idempotency_key, request_fingerprint)
          VALUES (${order.id}, ${randomUUID()}, ${order.status}, 'USD', ${subtotal}, 0, 0, ${subtotal}, '{}',
            'CASH_ON_DELIVERY', 'DUE_ON_DELIVERY', ${randomUUID()}, ${"f".repeat(64)})`.execute(old);
        for (const [shopId, price, quantity] of order.lines) {
          await sql`
            INSERT INTO order_lines (order_id, product_id, shop_id, name, unit_price_minor, quantity, line_total_minor)
            VALUES (${order.id}, ${randomUUID()}, ${shopId}, 'Old teapot', ${price}, ${quantity},
              ${price * BigInt(quantity)})`.execute(old);
        }
      }

      await migrateToLatest(old, migrations);
      const db = old as Kysely<OrderDatabase>;
      const shipped = (await findOrder(db, placed[0].id))!;
      expect(shipped.shopOrders.map((s) => [s.shopId, s.subtotalMinor, s.status, s.sellerId, s.lines.length])).toEqual(
        [
          [shopA, 3999n, "SHIPPED", "", 2],
          [shopB, 750n, "SHIPPED", "", 1],
        ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      );
      expect(shipped.shopOrders.reduce((sum, s) => sum + s.subtotalMinor, 0n)).toBe(shipped.subtotalMinor);
      // Time-ordered like the order itself, so keyset pages of shop orders keep backfilled ones in place.
      for (const shopOrder of shipped.shopOrders) {
        expect(shopOrder.id.slice(0, 19)).toBe(shipped.id.slice(0, 19));
        expect(shopOrder.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(shopOrder.history.map((h) => h.status)).toEqual(["SHIPPED"]);
      }
      const failed = (await findOrder(db, placed[1].id))!;
      expect(failed.shopOrders.map((s) => s.status)).toEqual(["CANCELLED"]);
    } finally {
      await old.destroy();
    }
  });
});
