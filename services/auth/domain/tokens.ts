// Access tokens (signed JWTs) and refresh tokens (opaque random values).
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { tokenProfile, type Role } from "../../kit/auth.ts";
import type { SigningKey } from "./signing-keys.ts";

export interface IssuedAccessToken {
  token: string;
  expireTime: Date;
}

export async function issueAccessToken(
  key: SigningKey,
  subject: { id: string; role: Role; emailVerified?: boolean },
  lifetimeSeconds: number,
  now = new Date(),
): Promise<IssuedAccessToken> {
  // iat to the millisecond (a NumericDate may be fractional, RFC 7519 §2): services refuse tokens
  // issued up to a password change, and a sign-in in the same second as the change must pass.
  const issuedAt = now.getTime() / 1000;
  const notBefore = Math.floor(issuedAt);
  const expiresAt = notBefore + lifetimeSeconds;
  // Users' tokens say whether the e-mail is verified (the order service may require it);
  // service tokens have no e-mail and no such claim.
  const claims = subject.emailVerified === undefined ? {} : { email_verified: subject.emailVerified };
  const token = await new SignJWT({ role: subject.role, ...claims })
    .setProtectedHeader({ alg: tokenProfile.algorithm, kid: key.kid, typ: tokenProfile.accessType })
    .setIssuer(tokenProfile.issuer)
    .setAudience(tokenProfile.audience)
    .setSubject(subject.id)
    .setIssuedAt(issuedAt)
    .setNotBefore(notBefore)
    .setExpirationTime(expiresAt)
    .setJti(randomUUID())
    .sign(key.privateKey);
  return { token, expireTime: new Date(expiresAt * 1000) };
}

/** 256 random bits, base64url; only its SHA-256 is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
