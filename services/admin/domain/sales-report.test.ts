import { describe, expect, it } from "vitest";
import { utcDaysBetween } from "./sales-report.ts";

describe("report days", () => {
  it("when a range spans midnight UTC, then both days are listed; an end exactly at midnight excludes that day", () => {
    expect(utcDaysBetween(new Date("2026-11-22T23:00:00Z"), new Date("2026-11-23T01:00:00Z"))).toEqual([
      "2026-11-22",
      "2026-11-23",
    ]);
    expect(utcDaysBetween(new Date("2026-11-22T00:00:00Z"), new Date("2026-11-24T00:00:00Z"))).toEqual([
      "2026-11-22",
      "2026-11-23",
    ]);
    expect(utcDaysBetween(new Date("2026-02-27T12:00:00Z"), new Date("2026-03-01T12:00:00Z"))).toEqual([
      "2026-02-27",
      "2026-02-28",
      "2026-03-01",
    ]);
  });
});
