import { describe, expect, it } from "vitest";
import { cancellableStatuses, isFulfilmentStep, totalsOf, type OrderStatus } from "./order.ts";

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
