// How card payments are taken, and what the test-only crash points may be combined with.
import { describe, expect, it } from "vitest";
import { loadOrderConfig } from "./config.ts";

describe("taking card payments", () => {
  it("when nothing is set, then a payment is taken as it is authorized; BAZAAR_ORDER_CAPTURE_AT_ONCE=false captures it after", () => {
    expect(loadOrderConfig({}).captureAtOnce).toBe(true);
    expect(loadOrderConfig({ BAZAAR_ORDER_CAPTURE_AT_ONCE: "false" }).captureAtOnce).toBe(false);
  });

  it("when the crash point before the capture is asked with capture at once, then the configuration is refused", () => {
    expect(() => loadOrderConfig({ BAZAAR_ORDER_CRASH_AT: "before-payment-capture" })).toThrow(
      /BAZAAR_ORDER_CAPTURE_AT_ONCE=false/,
    );
    expect(
      loadOrderConfig({ BAZAAR_ORDER_CRASH_AT: "before-payment-capture", BAZAAR_ORDER_CAPTURE_AT_ONCE: "false" })
        .crashAt,
    ).toBe("before-payment-capture");
  });
});
