// The shop sales projection against real MariaDB: a few orders' events applied once per event,
// in stream order, backwards and twice over, always give the same report with the right sums.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Event, EventSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { OrderStatus, ShopOrderStatus } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { applyOnce } from "../../kit/consumer.ts";
import { uuidv7 } from "../../kit/ids.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import type { AdminDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { clearProjections } from "../db/projections.repository.ts";
import { applyToProjections, projectionsConsumer } from "./projections.ts";
import { shopReportRange, shopSalesReport } from "./shop-sales-report.ts";

let db: Kysely<AdminDatabase>;
const [shopA, shopB] = [uuidv7(), uuidv7()];
const money = (amountMinor: bigint) => ({ currencyCode: "EUR", amountMinor });

beforeAll(async () => {
  db = await migratedTestDatabase<AdminDatabase>("admin_shop_sales", migrations);
});
afterAll(async () => {
  await db?.destroy();
});

const event = (payload: MessageInitShape<typeof EventSchema>["payload"]) =>
  create(EventSchema, { id: uuidv7(), occurTime: timestampFromDate(new Date()), source: "order", payload });

/** An order with a line of each given shop (quantity × 100 each) and its OrderPlaced event. */
function placed(lines: Array<{ shopId: string; productId: string; quantity: number }>) {
  const orderId = uuidv7();
  const shopOrders = [...new Set(lines.map((l) => l.shopId))].map((shopId) => ({
    shopOrderId: uuidv7(),
    shopId,
    sellerId: `seller-of-${shopId}`,
    subtotal: money(lines.filter((l) => l.shopId === shopId).reduce((sum, l) => sum + BigInt(l.quantity) * 100n, 0n)),
  }));
  const items = lines.map((l) => ({
    ...l,
    name: `Product ${l.productId.slice(-4)}`,
    unitPrice: money(100n),
    lineTotal: money(BigInt(l.quantity) * 100n),
  }));
  const shopIds = shopOrders.map((s) => s.shopId);
  // The confirmation's one event, as the order service emits it.
  const events = [event({ case: "orderPlaced", value: { orderId, items, total: money(999n), shopOrders } })];
  return { orderId, shopOrders, shopIds, events };
}

function shopOrderMoved(
  order: ReturnType<typeof placed>,
  shopId: string,
  oldStatus: ShopOrderStatus,
  newStatus: ShopOrderStatus,
) {
  const shopOrder = order.shopOrders.find((s) => s.shopId === shopId)!;
  return event({
    case: "shopOrderStatusChanged",
    value: { ...shopOrder, orderId: order.orderId, oldStatus, newStatus },
  });
}

const [p1, p2, p3] = [uuidv7(), uuidv7(), uuidv7()];
// 1: shops A and B; A accepts it (the order follows into PROCESSING on its own), B cancels its part.
const first = placed([
  { shopId: shopA, productId: p1, quantity: 2 },
  { shopId: shopB, productId: p2, quantity: 1 },
]);
// 2: shop A only, then the buyer cancels the whole order.
const second = placed([{ shopId: shopA, productId: p3, quantity: 5 }]);
// 3: shops A and B; an admin ships the whole order.
const third = placed([
  { shopId: shopA, productId: p3, quantity: 1 },
  { shopId: shopB, productId: p2, quantity: 4 },
]);
const stream: Event[] = [
  ...first.events,
  shopOrderMoved(first, shopA, ShopOrderStatus.CONFIRMED, ShopOrderStatus.PROCESSING),
  event({ case: "orderStatusChanged", value: { orderId: first.orderId, newStatus: OrderStatus.PROCESSING } }),
  shopOrderMoved(first, shopB, ShopOrderStatus.CONFIRMED, ShopOrderStatus.CANCELLED),
  ...second.events,
  event({
    case: "orderStatusChanged",
    value: { orderId: second.orderId, newStatus: OrderStatus.CANCELLED, shopIds: second.shopIds },
  }),
  event({ case: "orderCancelled", value: { orderId: second.orderId } }),
  ...third.events,
  event({
    case: "orderStatusChanged",
    value: { orderId: third.orderId, newStatus: OrderStatus.SHIPPED, shopIds: third.shopIds },
  }),
];

async function reportsAfter(events: Event[]) {
  await clearProjections(db, projectionsConsumer.name);
  for (const e of events) await applyOnce(db, projectionsConsumer.name, e, applyToProjections);
  const range = shopReportRange("", "", new Date());
  const summary = async (shopId: string) => {
    const r = await shopSalesReport(db, shopId, range);
    return {
      revenue: r.totalRevenueMinor,
      units: r.totalUnits,
      orders: r.totalOrders,
      byStatus: Object.fromEntries(r.byStatus.map((s) => [s.status, s.shopOrders])),
      top: r.topProducts.map((p) => [p.productId, p.quantity, p.revenueMinor]),
      rate: r.cancellationRate,
    };
  };
  return { a: await summary(shopA), b: await summary(shopB) };
}

describe("the shop sales projection", () => {
  it("when the events arrive in stream order, then each shop's sales leave out what was cancelled, with the shop orders' statuses as the order service holds them", async () => {
    const { a, b } = await reportsAfter(stream);
    expect(a).toEqual({
      revenue: 300n,
      units: 3n,
      orders: 2,
      byStatus: { PROCESSING: 1, CANCELLED: 1, SHIPPED: 1 },
      top: [
        [p1, 2n, 200n],
        [p3, 1n, 100n],
      ],
      rate: 1 / 3,
    });
    expect(b).toEqual({
      revenue: 400n,
      units: 4n,
      orders: 1,
      byStatus: { CANCELLED: 1, SHIPPED: 1 },
      top: [[p2, 4n, 400n]],
      rate: 0.5,
    });
  });

  it("when the same events arrive backwards or each twice, then the report is the same", async () => {
    const inOrder = await reportsAfter(stream);
    expect(await reportsAfter([...stream].reverse())).toEqual(inOrder);
    expect(await reportsAfter([...stream, ...stream])).toEqual(inOrder);
    // Delivered twice under different stream messages: applyOnce remembers the id.
    expect(await reportsAfter(stream.flatMap((e) => [e, e]))).toEqual(inOrder);
  });
});
