import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { decodeIdCursor, encodeIdCursor, pageSizeOf } from "./pages.ts";

describe("page size", () => {
  it("defaults to 20 and is capped at 100", () => {
    expect([pageSizeOf(0), pageSizeOf(7), pageSizeOf(100), pageSizeOf(1000)]).toEqual([20, 7, 100, 100]);
  });
});

describe("id cursors", () => {
  it("round-trip an id and refuse anything else with invalid_argument", () => {
    const id = "0193a000-0000-7000-8000-0000000000aa";
    expect(decodeIdCursor(encodeIdCursor(id))).toBe(id);
    expect(() => decodeIdCursor(encodeIdCursor("1' OR '1'='1"))).toThrow(ConnectError);
    try {
      decodeIdCursor("garbage!");
    } catch (error) {
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    }
  });
});
