// The refund rules in isolation: exact minor units, shares adding up, never more than was paid.
import { describe, expect, it } from "vitest";
import { apportion, shopOrderRefund, type RefundFacts } from "./refunds.ts";

describe("apportion", () => {
  it("when an amount splits evenly, then each share is exact", () => {
    expect(apportion(90n, [100n, 200n, 300n])).toEqual([15n, 30n, 45n]);
  });

  it("when minor units are left over, then they go to the largest remainders and the shares add up", () => {
    // 100 × 1/3 each: 33.33…, one unit left, ties go to the first.
    expect(apportion(100n, [1n, 1n, 1n])).toEqual([34n, 33n, 33n]);
    // 7 over 1:2:4 → 1, 2, 4 exactly; 10 over 1:2:4 → 1.43, 2.86, 5.71 → 1, 3, 6.
    expect(apportion(7n, [1n, 2n, 4n])).toEqual([1n, 2n, 4n]);
    expect(apportion(10n, [1n, 2n, 4n])).toEqual([1n, 3n, 6n]);
  });

  it("when every weight is zero, then the first takes it all", () => {
    expect(apportion(5n, [0n, 0n])).toEqual([5n, 0n]);
  });

  it("for many random splits, then the shares always add up and differ from the exact share by less than one unit", () => {
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let round = 0; round < 500; round++) {
      const weights = Array.from({ length: 1 + (next() % 6) }, () => BigInt(next() % 100_000));
      const amount = BigInt(next() % 1_000_000);
      const shares = apportion(amount, weights);
      expect(shares.reduce((a, b) => a + b, 0n)).toBe(amount);
      const total = weights.reduce((a, b) => a + b, 0n);
      if (total === 0n) continue;
      shares.forEach((share, i) => {
        const exactTimesTotal = amount * weights[i]!;
        expect(share * total - exactTimesTotal < total && exactTimesTotal - share * total < total).toBe(true);
      });
    }
  });
});

describe("the refund of a cancelled shop order", () => {
  // Subtotals 25.00 and 8.30, tax 5 % of 33.30 = 1.665 → 1.67 (half up), shipping 4.99.
  const facts = (refundedMinor = 0n, paidMinor = 3330n + 167n + 499n): RefundFacts => ({
    paidMinor,
    refundedMinor,
    taxMinor: 167n,
    shopOrders: [
      { id: "a", subtotalMinor: 2500n },
      { id: "b", subtotalMinor: 830n },
    ],
  });

  it("when one of two shop orders is cancelled, then it gets its subtotal plus its tax share back", () => {
    // 167 × 2500/3330 = 125.37 → 125; 167 × 830/3330 = 41.62 → 41, 1 left over → to b (.62 > .37).
    expect(shopOrderRefund(facts(), "a", false)).toBe(2500n + 125n);
    expect(shopOrderRefund(facts(), "b", false)).toBe(830n + 42n);
  });

  it("when both are cancelled one after the other, then the refunds add up to the order total exactly, whichever goes first", () => {
    const total = 3330n + 167n + 499n;
    for (const [first, second] of [
      ["a", "b"],
      ["b", "a"],
    ] as const) {
      const one = shopOrderRefund(facts(), first, false);
      const two = shopOrderRefund(facts(one), second, true);
      expect(one + two).toBe(total);
    }
  });

  it("when less is left of the payment than the share, then only what is left; nothing when nothing was paid", () => {
    expect(shopOrderRefund(facts(3000n), "a", false)).toBe(996n);
    expect(shopOrderRefund(facts(0n, 0n), "a", false)).toBe(0n);
    expect(shopOrderRefund(facts(0n, 0n), "a", true)).toBe(0n);
  });
});
