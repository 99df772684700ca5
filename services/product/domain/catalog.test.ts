import { describe, expect, it } from "vitest";
import { availableStock, decodePageToken, encodePageToken, InvalidPageTokenError } from "./catalog.ts";

describe("page tokens", () => {
  const id = "0193a000-0000-7000-8000-0000000000aa";

  it("round-trip the cursor they were made from, prices beyond 2^53 included", () => {
    const cursor = { order: "price_desc" as const, id, priceMinor: 9_007_199_254_740_993n };
    expect(decodePageToken(encodePageToken(cursor), "price_desc")).toEqual(cursor);
    expect(decodePageToken(encodePageToken({ order: "newest", id }), "newest")).toEqual({ order: "newest", id });
  });

  it.each([
    ["garbage", "not base64 json"],
    ["another order's token", encodePageToken({ order: "newest", id })],
    ["an id with SQL in it", Buffer.from(JSON.stringify({ o: "newest", i: "1' OR '1'='1" })).toString("base64url")],
    [
      "a price that is not a number",
      Buffer.from(JSON.stringify({ o: "price_asc", i: id, p: "1e9" })).toString("base64url"),
    ],
  ])("reject %s", (_, token) => {
    expect(() => decodePageToken(token, "price_asc")).toThrow(InvalidPageTokenError);
  });
});

describe("available stock", () => {
  it("is what is on hand minus what reservations hold", () => {
    expect(availableStock({ stockOnHand: 10, stockHeld: 3 })).toBe(7);
  });
});
