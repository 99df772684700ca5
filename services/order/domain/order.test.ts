import { describe, expect, it } from "vitest";
import {
  cancellableStatuses,
  isFulfilmentStep,
  orderStatusFromShopOrders,
  shopOrderStatusFor,
  splitByShop,
  totalsOf,
  type OrderStatus,
} from "./order.ts";

const statuses: OrderStatus[] = [
  "PENDING",
  "CONFIRMED",
  "PROCESSING",
  "SHIPPED",
  "DELIVERED",
  "CANCELLED",
  "PAYMENT_FAILED",
];

describe("totals", () => {
  it("when lines are priced, then tax is rounded half up to the minor unit and shipping applies once", () => {
    const policy = { taxRateBasisPoints: 500, shippingMinor: 499n };
    expect(
      totalsOf(
        [
          { unitPriceMinor: 1999n, quantity: 2 },
          { unitPriceMinor: 250n, quantity: 3 },
          { unitPriceMinor: 10001n, quantity: 1 },
        ],
        policy,
      ),
    ).toEqual({
      subtotalMinor: 14749n,
      taxMinor: 737n,
      shippingMinor: 499n,
      totalMinor: 15985n,
    });
    expect(totalsOf([{ unitPriceMinor: 10n, quantity: 1 }], policy).taxMinor).toBe(1n); // 0.5 → 1
    expect(totalsOf([{ unitPriceMinor: 9n, quantity: 1 }], policy).taxMinor).toBe(0n); // 0.45 → 0
  });
});

describe("the status machine", () => {
  it("when an admin moves an order, then only forward fulfilment steps are allowed", () => {
    const allowed = statuses.flatMap((from) =>
      statuses.filter((to) => isFulfilmentStep(from, to)).map((to) => `${from}→${to}`),
    );
    expect(allowed).toEqual(["CONFIRMED→PROCESSING", "CONFIRMED→SHIPPED", "PROCESSING→SHIPPED", "SHIPPED→DELIVERED"]);
  });

  it("when an order is cancelled, then only before it ships", () => {
    expect(cancellableStatuses).toEqual(["PENDING", "CONFIRMED", "PROCESSING"]);
  });
});

describe("shop orders", () => {
  const [shopA, shopB] = ["a0000000-0000-7000-8000-000000000000", "b0000000-0000-7000-8000-000000000000"];
  let next = 0;
  const newId = () => `shop-order-${++next}`;

  it("when an order holds lines of two shops, then it splits into one shop order per shop whose subtotals add up exactly", () => {
    const lines = [
      { shopId: shopB, lineTotalMinor: 1999n * 3n },
      { shopId: shopA, lineTotalMinor: 1n },
      { shopId: shopB, lineTotalMinor: 9_007_199_254_740_993n },
    ];
    const shopOrders = splitByShop(lines, (shopId) => `seller of ${shopId}`, newId);
    expect(shopOrders.map((s) => [s.shopId, s.sellerId, s.subtotalMinor])).toEqual([
      [shopA, `seller of ${shopA}`, 1n],
      [shopB, `seller of ${shopB}`, 5997n + 9_007_199_254_740_993n],
    ]);
    const orderSubtotal = totalsOf(
      [
        { unitPriceMinor: 1999n, quantity: 3 },
        { unitPriceMinor: 1n, quantity: 1 },
        { unitPriceMinor: 9_007_199_254_740_993n, quantity: 1 },
      ],
      { taxRateBasisPoints: 0, shippingMinor: 0n },
    ).subtotalMinor;
    expect(shopOrders.reduce((sum, s) => sum + s.subtotalMinor, 0n)).toBe(orderSubtotal);
    expect(new Set(shopOrders.map((s) => s.id)).size).toBe(2);
  });

  it("when the order's status changes, then its shop orders follow it, a failed payment cancelling them", () => {
    expect(statuses.map(shopOrderStatusFor)).toEqual([
      "PENDING",
      "CONFIRMED",
      "PROCESSING",
      "SHIPPED",
      "DELIVERED",
      "CANCELLED",
      "CANCELLED",
    ]);
  });
});

describe("the order's status derived from its shop orders", () => {
  it.each([
    [["CONFIRMED", "CONFIRMED"], "CONFIRMED"],
    [["PROCESSING", "CONFIRMED"], "PROCESSING"],
    [["SHIPPED", "CONFIRMED"], "PROCESSING"],
    [["DELIVERED", "PROCESSING"], "PROCESSING"],
    [["SHIPPED", "DELIVERED"], "SHIPPED"],
    [["SHIPPED", "CANCELLED"], "SHIPPED"],
    [["DELIVERED", "DELIVERED"], "DELIVERED"],
    [["DELIVERED", "CANCELLED"], "DELIVERED"],
    [["CANCELLED", "CANCELLED"], "CANCELLED"],
  ] as const)("when the shop orders are %j, then the order is %s", (statuses, expected) => {
    expect(orderStatusFromShopOrders(statuses)).toBe(expected);
  });
});
