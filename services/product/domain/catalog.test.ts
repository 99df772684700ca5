import { describe, expect, it } from "vitest";
import { availableStock } from "./catalog.ts";

describe("available stock", () => {
  it("is what is on hand minus what reservations hold", () => {
    expect(availableStock({ stockOnHand: 10, stockHeld: 3 })).toBe(7);
  });
});
