// The shop sales report's rules without a database: statuses that only move forward, what each
// order event tells the shops, the days a range covers and the report's sums.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { OrderPlacedSchema, OrderStatusChangedSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { OrderStatus } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { shopReportRange, shopSalesReportOf } from "./shop-sales-report.ts";
import {
  laterStatus,
  placedShopSales,
  type ShopOrderStatusName,
  statusOfRank,
  statusRank,
  statusShopOrdersFollow,
} from "./shop-sales.ts";

const money = (amountMinor: bigint) => ({ currencyCode: "EUR", amountMinor });

describe("where a shop order stands", () => {
  const statuses = Object.keys(statusRank) as ShopOrderStatusName[];

  it("when two statuses are heard in either order, then the same one wins: the later in the shop order's life", () => {
    for (const a of statuses) for (const b of statuses) expect(laterStatus(a, b), `${a} ${b}`).toBe(laterStatus(b, a));
    expect(laterStatus("CONFIRMED", "SHIPPED")).toBe("SHIPPED");
    expect(laterStatus("DELIVERED", "PROCESSING")).toBe("DELIVERED");
    // Cancelled stays cancelled, whatever comes after.
    for (const status of statuses) expect(laterStatus(status, "CANCELLED")).toBe("CANCELLED");
  });

  it("when a rank is read back, then it names its status; an unknown rank is an error", () => {
    for (const status of statuses) expect(statusOfRank(statusRank[status])).toBe(status);
    expect(() => statusOfRank(7)).toThrow(/rank 7/);
  });
});

describe("what the order events tell the shops", () => {
  it("when an order with two shops is placed, then each shop order gets its own lines, units and subtotal", () => {
    const [shopA, shopB] = ["a0000000-0000-7000-8000-000000000001", "b0000000-0000-7000-8000-000000000002"];
    const placedTime = new Date("2026-12-01T10:00:00Z");
    const sales = placedShopSales(
      create(OrderPlacedSchema, {
        orderId: "order-1",
        items: [
          { productId: "p1", shopId: shopA, name: "Tea", quantity: 2, lineTotal: money(500n) },
          { productId: "p2", shopId: shopB, name: "Mug", quantity: 1, lineTotal: money(1_200n) },
          { productId: "p3", shopId: shopA, name: "Pot", quantity: 3, lineTotal: money(3_000n) },
        ],
        total: money(4_935n),
        shopOrders: [
          { shopOrderId: "so-a", shopId: shopA, sellerId: "seller-a", subtotal: money(3_500n) },
          { shopOrderId: "so-b", shopId: shopB, sellerId: "seller-b", subtotal: money(1_200n) },
        ],
      }),
      placedTime,
    );
    expect(sales.map((s) => [s.shopOrderId, s.sellerId, s.subtotalMinor, s.units, s.status])).toEqual([
      ["so-a", "seller-a", 3_500n, 5, "CONFIRMED"],
      ["so-b", "seller-b", 1_200n, 1, "CONFIRMED"],
    ]);
    expect(sales[0]!.lines.map((l) => [l.productId, l.quantity, l.revenueMinor])).toEqual([
      ["p1", 2, 500n],
      ["p3", 3, 3_000n],
    ]);
    // The subtotal is the shop's line totals: tax and shipping stay out of the shop's revenue.
    for (const sale of sales) expect(sale.lines.reduce((sum, l) => sum + l.revenueMinor, 0n)).toBe(sale.subtotalMinor);
    expect(sales.every((s) => s.placedTime === placedTime && s.orderId === "order-1")).toBe(true);
  });

  it("when an OrderPlaced carries no shop orders (placed before it did), then it tells no shop anything", () => {
    const placed = create(OrderPlacedSchema, { orderId: "o", items: [{ productId: "p", shopId: "s", quantity: 1 }] });
    expect(placedShopSales(placed, new Date())).toEqual([]);
  });

  it("when the whole order moves, then its shop orders follow; a cancelled or failed order cancels them; a move derived from one shop's fulfilment moves no other", () => {
    const change = (newStatus: OrderStatus, shopIds: string[]) =>
      statusShopOrdersFollow(create(OrderStatusChangedSchema, { orderId: "o", newStatus, shopIds }));
    expect(change(OrderStatus.SHIPPED, ["s1", "s2"])).toBe("SHIPPED");
    expect(change(OrderStatus.CANCELLED, ["s1"])).toBe("CANCELLED");
    expect(change(OrderStatus.CANCELLED, [])).toBe("CANCELLED");
    expect(change(OrderStatus.PAYMENT_FAILED, ["s1"])).toBe("CANCELLED");
    expect(change(OrderStatus.PROCESSING, [])).toBeUndefined();
  });
});

describe("the days a report covers", () => {
  const now = new Date("2026-12-04T15:30:00Z");

  it("when no range is given, then the last 30 days, today included", () => {
    const range = shopReportRange("", "", now);
    expect([range.fromDate, range.toDate, range.days.length]).toEqual(["2026-11-05", "2026-12-04", 30]);
    expect([range.from.toISOString(), range.to.toISOString()]).toEqual([
      "2026-11-05T00:00:00.000Z",
      "2026-12-05T00:00:00.000Z",
    ]);
  });

  it("when both days are given, then both are included, across a leap day", () => {
    const range = shopReportRange("2028-02-28", "2028-03-01", now);
    expect(range.days).toEqual(["2028-02-28", "2028-02-29", "2028-03-01"]);
    expect(shopReportRange("2026-12-04", "2026-12-04", now).days).toEqual(["2026-12-04"]);
  });

  it("when only to_date is given, then the 30 days up to it", () => {
    expect(shopReportRange("", "2026-03-01", now).fromDate).toBe("2026-01-31");
  });

  it("when a day is not on the calendar, backwards or the range is over 366 days, then the error names the field", () => {
    expect(() => shopReportRange("2026-02-29", "", now)).toThrow(/^from_date: /);
    expect(() => shopReportRange("", "2026-04-31", now)).toThrow(/^to_date: /);
    expect(() => shopReportRange("2026-12-05", "2026-12-04", now)).toThrow(/^to_date: must not be before/);
    expect(shopReportRange("2025-01-01", "2026-01-01", now).days).toHaveLength(366);
    expect(() => shopReportRange("2025-01-01", "2026-01-02", now)).toThrow(/^to_date: .*366 days/);
  });
});

describe("the report's sums", () => {
  const range = shopReportRange("2026-12-01", "2026-12-04", new Date());

  it("when some days sold and some shop orders were cancelled, then every day is listed, totals add up and the rate is cancelled over placed", () => {
    const report = shopSalesReportOf(range, {
      daily: [
        { day: "2026-12-03", revenueMinor: 2_500n, units: 4n, orders: 2 },
        { day: "2026-12-01", revenueMinor: 1_000n, units: 1n, orders: 1 },
      ],
      byStatus: [
        { status: "SHIPPED", shopOrders: 2 },
        { status: "CANCELLED", shopOrders: 1 },
        { status: "CONFIRMED", shopOrders: 1 },
      ],
      top: [],
    });
    expect(report.days.map((d) => [d.day, d.revenueMinor, d.units, d.orders])).toEqual([
      ["2026-12-01", 1_000n, 1n, 1],
      ["2026-12-02", 0n, 0n, 0],
      ["2026-12-03", 2_500n, 4n, 2],
      ["2026-12-04", 0n, 0n, 0],
    ]);
    expect([report.totalRevenueMinor, report.totalUnits, report.totalOrders]).toEqual([3_500n, 5n, 3]);
    expect([report.placedShopOrders, report.cancelledShopOrders, report.cancellationRate]).toEqual([4, 1, 0.25]);
    expect(report.byStatus.map((s) => s.status)).toEqual(["CANCELLED", "CONFIRMED", "SHIPPED"]);
  });

  it("when nothing was placed, then zeros everywhere and a rate of 0, not NaN", () => {
    const report = shopSalesReportOf(range, { daily: [], byStatus: [], top: [] });
    expect([report.totalRevenueMinor, report.placedShopOrders, report.cancellationRate]).toEqual([0n, 0, 0]);
    expect(report.days).toHaveLength(4);
  });
});
