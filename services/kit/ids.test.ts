import { describe, expect, it } from "vitest";
import { timeOfUuidv7, uuidv7 } from "./ids.ts";

describe("uuidv7", () => {
  it("is a version-7, RFC 9562 variant UUID carrying the time", () => {
    const id = uuidv7(Date.UTC(2026, 10, 23, 12));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(Date.UTC(2026, 10, 23, 12));
    expect(timeOfUuidv7(id).toISOString()).toBe("2026-11-23T12:00:00.000Z");
  });

  it("sorts in creation order, also for many ids in the same millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_800_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
