import { describe, expect, it } from "vitest";
import { PublicCache } from "./public-cache.ts";

const answer = (text: string) => ({ contentType: "application/json", body: Buffer.from(text) });

describe("public cache", () => {
  it("when an answer is older than its time to live, then it is gone", () => {
    const cache = new PublicCache({ ttlMs: 1_000 });
    cache.set("a", answer("1"), cache.generation, 0);
    expect(cache.get("a", 999)?.body.toString()).toBe("1");
    expect(cache.get("a", 1_000)).toBeUndefined();
  });

  it("when full, then the oldest answer makes room; oversized answers are never kept", () => {
    const cache = new PublicCache({ ttlMs: 1_000, maxEntries: 2, maxBodyBytes: 4 });
    cache.set("a", answer("1"), 0, 0);
    cache.set("b", answer("2"), 0, 0);
    cache.set("c", answer("3"), 0, 0);
    cache.set("d", answer("too large"), 0, 0);
    expect([
      cache.get("a", 1),
      cache.get("b", 1)?.body.toString(),
      cache.get("c", 1)?.body.toString(),
      cache.get("d", 1),
    ]).toEqual([undefined, "2", "3", undefined]);
  });

  it("when answers would exceed the byte budget, then the oldest go until the new one fits; huge keys are never kept", () => {
    const cache = new PublicCache({ ttlMs: 1_000, maxBytes: 30 });
    cache.set("a", answer("x".repeat(9)), 0, 0);
    cache.set("b", answer("x".repeat(9)), 0, 0);
    expect(cache.bytes).toBe(20);
    cache.set("c", answer("x".repeat(14)), 0, 0);
    expect([cache.get("a", 1), cache.get("b", 1)?.body.length, cache.get("c", 1)?.body.length]).toEqual([
      undefined,
      9,
      14,
    ]);
    expect(cache.bytes).toBe(25);
    cache.set("b", answer("x"), 0, 0);
    expect(cache.bytes).toBe(17);
    cache.set("k".repeat(5_000), answer("1"), 0, 0);
    expect(cache.size).toBe(2);
    expect(cache.get("b", 2_000)).toBeUndefined();
    expect(cache.bytes).toBe(15);
  });

  it("when the cache is cleared while a read is in flight, then that read's answer is not kept", () => {
    const cache = new PublicCache({ ttlMs: 1_000 });
    const startedAt = cache.generation;
    cache.clear();
    cache.set("a", answer("stale"), startedAt, 0);
    expect(cache.get("a", 1)).toBeUndefined();
    cache.set("a", answer("fresh"), cache.generation, 0);
    expect(cache.get("a", 1)?.body.toString()).toBe("fresh");
  });

  it("when the time to live is zero, then nothing is kept", () => {
    const cache = new PublicCache({ ttlMs: 0 });
    cache.set("a", answer("1"), 0, 0);
    expect(cache.get("a", 0)).toBeUndefined();
    expect(cache.enabled).toBe(false);
  });
});
