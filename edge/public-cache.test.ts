import { describe, expect, it } from "vitest";
import { PublicCache } from "./public-cache.ts";

const answer = (text: string) => ({ contentType: "application/json", body: Buffer.from(text) });

describe("public cache", () => {
  it("when an answer is older than its time to live, then it is gone", () => {
    const cache = new PublicCache({ ttlMs: 1_000 });
    cache.set("a", answer("1"), { generation: cache.generation }, 0);
    expect(cache.get("a", 999)?.body.toString()).toBe("1");
    expect(cache.get("a", 1_000)).toBeUndefined();
  });

  it("when full, then the oldest answer makes room; oversized answers are never kept", () => {
    const cache = new PublicCache({ ttlMs: 1_000, maxEntries: 2, maxBodyBytes: 4 });
    cache.set("a", answer("1"), { generation: 0 }, 0);
    cache.set("b", answer("2"), { generation: 0 }, 0);
    cache.set("c", answer("3"), { generation: 0 }, 0);
    cache.set("d", answer("too large"), { generation: 0 }, 0);
    expect([
      cache.get("a", 1),
      cache.get("b", 1)?.body.toString(),
      cache.get("c", 1)?.body.toString(),
      cache.get("d", 1),
    ]).toEqual([undefined, "2", "3", undefined]);
  });

  it("when answers would exceed the byte budget, then the oldest go until the new one fits; huge keys are never kept", () => {
    const cache = new PublicCache({ ttlMs: 1_000, maxBytes: 30 });
    cache.set("a", answer("x".repeat(9)), { generation: 0 }, 0);
    cache.set("b", answer("x".repeat(9)), { generation: 0 }, 0);
    expect(cache.bytes).toBe(20);
    cache.set("c", answer("x".repeat(14)), { generation: 0 }, 0);
    expect([cache.get("a", 1), cache.get("b", 1)?.body.length, cache.get("c", 1)?.body.length]).toEqual([
      undefined,
      9,
      14,
    ]);
    expect(cache.bytes).toBe(25);
    cache.set("b", answer("x"), { generation: 0 }, 0);
    expect(cache.bytes).toBe(17);
    cache.set("k".repeat(5_000), answer("1"), { generation: 0 }, 0);
    expect(cache.size).toBe(2);
    expect(cache.get("b", 2_000)).toBeUndefined();
    expect(cache.bytes).toBe(15);
  });

  it("when the cache is cleared while a read is in flight, then that read's answer is not kept", () => {
    const cache = new PublicCache({ ttlMs: 1_000 });
    const startedAt = cache.generation;
    cache.clear();
    cache.set("a", answer("stale"), { generation: startedAt }, 0);
    expect(cache.get("a", 1)).toBeUndefined();
    cache.set("a", answer("fresh"), { generation: cache.generation }, 0);
    expect(cache.get("a", 1)?.body.toString()).toBe("fresh");
  });

  it("when a product changes, then its answers and every catalog-wide answer go, other products' stay", () => {
    const cache = new PublicCache({ ttlMs: 1_000 });
    cache.set("get p1", answer("p1"), { generation: cache.generation, productIds: ["p1"] }, 0);
    cache.set("get p2", answer("p2"), { generation: cache.generation, productIds: ["p2"] }, 0);
    cache.set("batch p1 p2", answer("p1 p2"), { generation: cache.generation, productIds: ["p1", "p2"] }, 0);
    cache.set("list", answer("all"), { generation: cache.generation }, 0);
    const inFlight = cache.generation;
    cache.evictProducts(["p1"]);
    expect(["get p1", "get p2", "batch p1 p2", "list"].map((key) => cache.get(key, 1)?.body.toString())).toEqual([
      undefined,
      "p2",
      undefined,
      undefined,
    ]);
    expect(cache.bytes).toBe("get p2".length + 2);
    // A read that started before the change may hold the old product: it is not kept.
    cache.set("get p1", answer("old p1"), { generation: inFlight, productIds: ["p1"] }, 0);
    expect(cache.get("get p1", 1)).toBeUndefined();
    cache.evictProducts(["p2"]);
    expect(cache.size).toBe(0);
  });

  it("when the catalog's events are followed, then answers live the longer time to live; attaching or losing the feed empties the cache", () => {
    const cache = new PublicCache({ ttlMs: 1_000, followedTtlMs: 60_000 });
    cache.set("a", answer("short"), { generation: cache.generation }, 0);
    expect(cache.get("a", 1_000)).toBeUndefined();
    cache.set("a", answer("short"), { generation: cache.generation }, 0);
    cache.followed = true;
    expect(cache.get("a", 1)).toBeUndefined();
    cache.set("a", answer("long"), { generation: cache.generation }, 0);
    expect(cache.get("a", 59_999)?.body.toString()).toBe("long");
    cache.followed = false;
    expect(cache.size).toBe(0);
  });

  it("when the time to live is zero, then nothing is kept", () => {
    const cache = new PublicCache({ ttlMs: 0 });
    cache.set("a", answer("1"), { generation: 0 }, 0);
    expect(cache.get("a", 0)).toBeUndefined();
    expect(cache.enabled).toBe(false);
  });
});
