import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { loadAuthConfig } from "./config.ts";

const secret = { BAZAAR_SERVICE_SECRET: "a-production-secret-value" };

describe("auth configuration", () => {
  it("when production has no signing keys configured, then start fails naming the variable", () => {
    expect(() => loadAuthConfig({ BAZAAR_ENV: "production", ...secret })).toThrow(
      /BAZAAR_AUTH_SIGNING_KEYS must be set in production/,
    );
  });

  it("when signing keys are configured, then they are read with their public halves", async () => {
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: "prod-1", created: "2026-11-01T00:00:00Z" };
    const config = loadAuthConfig({
      BAZAAR_ENV: "production",
      ...secret,
      BAZAAR_AUTH_SIGNING_KEYS: JSON.stringify([jwk]),
    });
    expect(config.signingKeys).toHaveLength(1);
    expect(config.signingKeys![0]!.publicJwk).toMatchObject({
      kid: "prod-1",
      kty: "OKP",
      crv: "Ed25519",
      alg: "EdDSA",
    });
    expect(config.signingKeys![0]!.publicJwk.d).toBeUndefined();
  });

  it("when the keys are not Ed25519 private JWKs, then start fails naming the variable", () => {
    expect(() => loadAuthConfig({ BAZAAR_AUTH_SIGNING_KEYS: '[{"kty":"RSA","kid":"x"}]' })).toThrow(
      /BAZAAR_AUTH_SIGNING_KEYS must be/,
    );
  });
});
