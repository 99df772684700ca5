import { afterEach, describe, expect, it } from "vitest";
import { TokenBuckets } from "./rate-limit.ts";

describe("token buckets", () => {
  let buckets: TokenBuckets;
  afterEach(() => buckets.close());

  it("when a key spends its burst, then the next request waits for the refill; other keys are untouched", () => {
    buckets = new TokenBuckets({ ratePerSecond: 2, burst: 3 });
    const granted = [0, 1, 2, 3].map(() => buckets.take("a", 1_000));
    expect(granted).toEqual([0, 0, 0, 1]);
    expect(buckets.take("b", 1_000)).toBe(0);
    // Half a second gives one token back at 2 per second.
    expect(buckets.take("a", 1_500)).toBe(0);
    expect(buckets.take("a", 1_500)).toBeGreaterThan(0);
  });

  it("when a slow rate is exhausted, then the wait is given in whole seconds, rounded up", () => {
    buckets = new TokenBuckets({ ratePerSecond: 0.25, burst: 1 });
    expect(buckets.take("a", 0)).toBe(0);
    expect(buckets.take("a", 0)).toBe(4);
  });
});
