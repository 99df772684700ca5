import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { cursorField, idKeysetPage, idPageToken, pageSizeOf, pageTokenCodec } from "./pages.ts";

const id = "0193a000-0000-7000-8000-0000000000aa";
const tokenOf = (payload: unknown) => Buffer.from(JSON.stringify(payload)).toString("base64url");

/** The code a decode failed with; a decode that succeeds fails the test. */
function refusal(decode: () => unknown): Code {
  try {
    decode();
  } catch (error) {
    return (error as { code: Code }).code;
  }
  throw new Error("expected the token to be refused");
}

describe("page size", () => {
  it("defaults to 20 and is capped at 100", () => {
    expect([pageSizeOf(0), pageSizeOf(7), pageSizeOf(100), pageSizeOf(1000)]).toEqual([20, 7, 100, 100]);
  });
});

describe("page tokens", () => {
  const byPrice = pageTokenCodec({
    order: cursorField.text("o"),
    id: cursorField.id("i"),
    priceMinor: cursorField.bigint("p"),
  });
  const byDistance = pageTokenCodec({ distanceKm: cursorField.number("d"), id: cursorField.id("i") });

  it("round-trip the cursor they were made from, int64 prices beyond 2^53 and fractional distances included", () => {
    const cursor = { order: "price_desc", id, priceMinor: 9_007_199_254_740_993n };
    expect(byPrice.decode(byPrice.encode(cursor))).toEqual(cursor);
    expect(byDistance.decode(byDistance.encode({ distanceKm: 0.125, id }))).toEqual({ distanceKm: 0.125, id });
  });

  it("keep the wire format of the tokens handed out before there was one codec", () => {
    // Written by the product and shop services' own encoders: base64url JSON under short keys.
    expect(byPrice.decode(tokenOf({ o: "price_asc", i: id, p: "1250" }), { order: "price_asc" })).toEqual({
      order: "price_asc",
      id,
      priceMinor: 1250n,
    });
    expect(byDistance.encode({ distanceKm: 2.5, id })).toBe(tokenOf({ d: 2.5, i: id }));
  });

  it("when a token was made for another query, then it is refused", () => {
    const token = byPrice.encode({ order: "newest", id, priceMinor: 100n });
    expect(refusal(() => byPrice.decode(token, { order: "price_asc" }))).toBe(Code.InvalidArgument);
    expect(byPrice.decode(token, { order: "newest" }).id).toBe(id);
  });

  it.each([
    ["not base64 JSON", "garbage!"],
    ["JSON that is not an object", tokenOf(42)],
    ["JSON null", tokenOf(null)],
    ["a key missing", tokenOf({ o: "newest", i: id })],
    ["an id with SQL in it", tokenOf({ o: "newest", i: "1' OR '1'='1", p: "1" })],
    ["a price that is not digits", tokenOf({ o: "price_asc", i: id, p: "1e9" })],
    ["a price as a JSON number (digits lost beyond 2^53)", tokenOf({ o: "price_asc", i: id, p: 1250 })],
    ["a price beyond int64", tokenOf({ o: "price_asc", i: id, p: "99999999999999999999" })],
    ["a word of a kilobyte", tokenOf({ o: "x".repeat(1024), i: id, p: "1" })],
  ])("when a token holds %s, then it answers invalid_argument", (_, token) => {
    expect(refusal(() => byPrice.decode(token))).toBe(Code.InvalidArgument);
  });

  it("when a distance is not a finite number, then it answers invalid_argument", () => {
    expect(refusal(() => byDistance.decode(tokenOf({ d: "1", i: id })))).toBe(Code.InvalidArgument);
    expect(refusal(() => byDistance.decode(tokenOf({ d: null, i: id })))).toBe(Code.InvalidArgument);
  });
});

describe("id page tokens", () => {
  it("round-trip an id and refuse anything else with invalid_argument", () => {
    expect(idPageToken.decode(idPageToken.encode({ id }))).toEqual({ id });
    expect(refusal(() => idPageToken.decode(idPageToken.encode({ id: "1' OR '1'='1" })))).toBe(Code.InvalidArgument);
  });

  it("when a token is a bare base64url id (the format before the shared codec), then it answers invalid_argument", () => {
    expect(refusal(() => idPageToken.decode(Buffer.from(id).toString("base64url")))).toBe(Code.InvalidArgument);
  });
});

describe("keyset pages by id", () => {
  // Ids newest first, as a List query answers them.
  const ids = Array.from({ length: 5 }, (_, i) => `0193a000-0000-7000-8000-00000000000${5 - i}`);
  const read = async ({ limit, beforeId }: { limit: number; beforeId: string | undefined }) =>
    ids.filter((row) => beforeId === undefined || row < beforeId).slice(0, limit);

  it("when a list is read page by page, then every row comes once, in order, and the last page has no token", async () => {
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await idKeysetPage({ pageSize: 2, pageToken }, read, (row) => row);
      seen.push(...page.rows);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
  });

  it("when the rows fill the page exactly, then no token promises a page that would be empty", async () => {
    expect(await idKeysetPage({ pageSize: 5, pageToken: "" }, read, (row) => row)).toEqual({
      rows: ids,
      nextPageToken: "",
    });
  });
});
