import { describe, expect, it } from "vitest";
import { bucketsByConsumer, quantileMs } from "./event-lag-count.ts";

const exposition = (consumer: string, counts: number[]) =>
  ["0.001", "0.01", "0.1", "+Inf"]
    .map((le, i) => `bazaar_consumer_event_lag_seconds_bucket{le="${le}",consumer="${consumer}"} ${counts[i]}`)
    .join("\n");

describe("event lag read from the mesh's /metrics", () => {
  it("when processes expose the histogram, then each consumer's buckets are summed over its replicas", () => {
    const byConsumer = bucketsByConsumer([
      `# HELP x\n${exposition("cart-product", [1, 5, 9, 10])}\nbazaar_other_bucket{le="0.001"} 99`,
      exposition("admin-audit", [0, 2, 4, 10]),
      exposition("cart-product", [1, 1, 1, 2]),
    ]);
    expect([...byConsumer.keys()].sort()).toEqual(["admin-audit", "cart-product"]);
    expect([...byConsumer.get("cart-product")!]).toEqual([
      [0.001, 2],
      [0.01, 6],
      [0.1, 10],
      [Number.POSITIVE_INFINITY, 12],
    ]);
    expect(byConsumer.get("admin-audit")!.get(Number.POSITIVE_INFINITY)).toBe(10);
  });

  it("when a quantile falls inside a bucket, then it is interpolated between the bucket's bounds", () => {
    const buckets = new Map([
      [0.01, 50],
      [0.1, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    expect(quantileMs(buckets, 0.5)).toBeCloseTo(10);
    expect(quantileMs(buckets, 0.75)).toBeCloseTo(55);
    expect(quantileMs(buckets, 0.99)).toBeCloseTo(98.2);
  });

  it("when the quantile lies past the last finite bound, then that bound is reported", () => {
    const buckets = new Map([
      [0.01, 10],
      [30, 90],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    expect(quantileMs(buckets, 0.99)).toBe(30_000);
  });
});
