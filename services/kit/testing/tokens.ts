// Access tokens for tests: signed with a key of the test's own, with the claims auth puts in
// every token (tokenProfile), and checked by the production verifier over that key's JWKS. A
// test then calls as a customer, a seller, an admin or a service without the auth service.
import { randomUUID } from "node:crypto";
import type { CallOptions } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { createTokenVerifier, tokenProfile, type Role, type TokenVerifier } from "../auth.ts";
import { uuidv7 } from "../ids.ts";
import { bearer } from "./calls.ts";

export interface TestTokens {
  /** The verifier every service uses, fed this key's JWKS. */
  verifier: TokenVerifier;
  /** A token for `subject`, signed as auth signs access tokens. */
  sign(
    subject: { id: string; role: Role; emailVerified?: boolean },
    options?: { issuedAt?: Date; lifetimeSeconds?: number },
  ): Promise<string>;
}

export async function createTestTokens(): Promise<TestTokens> {
  const kid = `test-${randomUUID().slice(0, 8)}`;
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: tokenProfile.algorithm, use: "sig" };
  return {
    verifier: createTokenVerifier({ loadJwks: async () => ({ keys: [publicJwk] }) }),
    sign: (subject, options = {}) => signAccessToken(privateKey, kid, subject, options),
  };
}

async function signAccessToken(
  key: CryptoKey,
  kid: string,
  subject: { id: string; role: Role; emailVerified?: boolean },
  { issuedAt = new Date(), lifetimeSeconds = 900 }: { issuedAt?: Date; lifetimeSeconds?: number },
): Promise<string> {
  const iat = Math.floor(issuedAt.getTime() / 1000);
  const claims = subject.emailVerified === undefined ? {} : { email_verified: subject.emailVerified };
  return new SignJWT({ role: subject.role, ...claims })
    .setProtectedHeader({ alg: tokenProfile.algorithm, kid, typ: tokenProfile.accessType })
    .setIssuer(tokenProfile.issuer)
    .setAudience(tokenProfile.audience)
    .setSubject(subject.id)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + lifetimeSeconds)
    .setJti(randomUUID())
    .sign(key);
}

/** What signs tokens for a test: a TestTokens, or a service's own keys (auth signs its own). */
export type TokenSigner = Pick<TestTokens, "sign">;

/** Someone signed in: their id and the call options that carry their token. */
export interface SignedIn {
  id: string;
  role: Role;
  options: CallOptions;
}

/** A newly made user (or a service, id "service:test") of `role`, signed in. */
export async function signedIn(tokens: TokenSigner, role: Role, id?: string): Promise<SignedIn> {
  const subject = { id: id ?? (role === "service" ? "service:test" : uuidv7()), role };
  return { ...subject, options: bearer(await tokens.sign(subject)) };
}

/** One caller of every kind, for access matrices; the anonymous caller sends no token. */
export type Callers = Record<Role | "anonymous", CallOptions>;

export async function oneOfEach(tokens: TokenSigner): Promise<Callers> {
  const [customer, seller, admin, service] = await Promise.all(
    (["customer", "seller", "admin", "service"] as const).map((role) => signedIn(tokens, role)),
  );
  return {
    anonymous: {},
    customer: customer!.options,
    seller: seller!.options,
    admin: admin!.options,
    service: service!.options,
  };
}
