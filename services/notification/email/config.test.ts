import { describe, expect, it } from "vitest";
import { loadMailConfig } from "./config.ts";

describe("loadMailConfig", () => {
  it("defaults to the local maildev port and the local edge", () => {
    expect(loadMailConfig({})).toMatchObject({
      smtpUrl: "smtp://127.0.0.1:1025",
      publicUrl: "http://127.0.0.1:8080",
      maxAttempts: 8,
      backoffMs: 1000,
      maxBackoffMs: 60_000,
    });
  });

  it("takes a relay with credentials and refuses what is not SMTP", () => {
    expect(loadMailConfig({ BAZAAR_NOTIFICATION_SMTP_URL: "smtps://u:p@relay.example:465" }).smtpUrl).toBe(
      "smtps://u:p@relay.example:465",
    );
    expect(() => loadMailConfig({ BAZAAR_NOTIFICATION_SMTP_URL: "http://relay.example" })).toThrow(
      /BAZAAR_NOTIFICATION_SMTP_URL/,
    );
  });
});
