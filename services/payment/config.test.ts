// Choosing the payment provider by configuration: the test provider by default; Stripe only with
// both of its secrets, named in one line when missing or malformed.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../kit/config.ts";
import { loadPaymentConfig } from "./config.ts";

const stripeEnv = {
  BAZAAR_PAYMENT_PROVIDER: "stripe",
  BAZAAR_PAYMENT_STRIPE_SECRET_KEY: "sk_test_local",
  BAZAAR_PAYMENT_STRIPE_WEBHOOK_SECRET: "whsec_local",
};

function refusal(env: Record<string, string>): string {
  try {
    loadPaymentConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("the configuration was accepted");
}

describe("the payment provider by configuration", () => {
  it("when nothing is set, then the built-in test provider is used", () => {
    const config = loadPaymentConfig({});
    expect(config.provider).toBe("test");
    expect(config.stripe).toBeUndefined();
  });

  it("when Stripe is chosen with its keys, then they are read, and an API URL points the SDK elsewhere", () => {
    expect(loadPaymentConfig(stripeEnv)).toMatchObject({
      provider: "stripe",
      stripe: { secretKey: "sk_test_local", webhookSecret: "whsec_local" },
    });
    expect(loadPaymentConfig(stripeEnv).stripe!.apiBase).toBeUndefined();
    const local = loadPaymentConfig({ ...stripeEnv, BAZAAR_PAYMENT_STRIPE_API_URL: "http://127.0.0.1:12111" });
    expect(local.stripe!.apiBase).toEqual({ host: "127.0.0.1", port: 12111, protocol: "http" });
  });

  it("when Stripe is chosen without a secret key or a signing secret, then the start fails naming the variable", () => {
    expect(refusal({ BAZAAR_PAYMENT_PROVIDER: "stripe", BAZAAR_PAYMENT_STRIPE_WEBHOOK_SECRET: "whsec_x" })).toMatch(
      /BAZAAR_PAYMENT_STRIPE_SECRET_KEY/,
    );
    expect(refusal({ ...stripeEnv, BAZAAR_PAYMENT_STRIPE_SECRET_KEY: "pk_test_publishable" })).toMatch(
      /BAZAAR_PAYMENT_STRIPE_SECRET_KEY/,
    );
    expect(refusal({ ...stripeEnv, BAZAAR_PAYMENT_STRIPE_WEBHOOK_SECRET: "" })).toMatch(
      /BAZAAR_PAYMENT_STRIPE_WEBHOOK_SECRET/,
    );
    expect(refusal({ BAZAAR_PAYMENT_PROVIDER: "paypal" })).toMatch(/BAZAAR_PAYMENT_PROVIDER/);
  });
});
