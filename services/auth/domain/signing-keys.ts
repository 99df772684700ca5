// The keys that sign access tokens. One key signs (the newest); every key younger than the
// rotation period plus one token lifetime still verifies, so rotating never invalidates a token
// that was valid a moment before. Ed25519 (EdDSA): small keys, fast verification.
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JSONWebKeySet, type JWK } from "jose";

export interface StoredKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  createTime: Date;
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

export async function generateSigningKey(now = new Date()): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const kid = `${now.toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" };
  return { kid, privateJwk: { ...(await exportJWK(privateKey)), kid }, publicJwk, createTime: now };
}

export class KeyRing {
  readonly #keys: StoredKey[];
  readonly #signing: SigningKey;

  private constructor(keys: StoredKey[], signing: SigningKey) {
    this.#keys = keys;
    this.#signing = signing;
  }

  /** Keys newest first; the first one signs. */
  static async from(keys: StoredKey[]): Promise<KeyRing> {
    if (keys.length === 0) throw new Error("no signing key");
    const sorted = [...keys].sort((a, b) => b.createTime.getTime() - a.createTime.getTime());
    const newest = sorted[0]!;
    const privateKey = (await importJWK(newest.privateJwk, "EdDSA")) as CryptoKey;
    return new KeyRing(sorted, { kid: newest.kid, privateKey });
  }

  get signing(): SigningKey {
    return this.#signing;
  }

  /** Public keys for verifiers (GetJwks, /.well-known/jwks.json). */
  jwks(): JSONWebKeySet {
    return { keys: this.#keys.map((key) => key.publicJwk) };
  }
}

/**
 * Which stored keys are still needed: the signing key, and older ones whose last tokens may not
 * have expired yet (they stopped signing when the next key was created).
 */
export function keysStillVerifying(keys: StoredKey[], tokenLifetimeMs: number, now = new Date()): StoredKey[] {
  const sorted = [...keys].sort((a, b) => b.createTime.getTime() - a.createTime.getTime());
  return sorted.filter((key, index) => {
    if (index === 0) return true;
    const retiredAt = sorted[index - 1]!.createTime.getTime();
    return retiredAt + tokenLifetimeMs + 60_000 > now.getTime();
  });
}

/** True when the signing key is older than the rotation period. */
export function rotationDue(newest: StoredKey | undefined, rotationMs: number, now = new Date()): boolean {
  return !newest || now.getTime() - newest.createTime.getTime() >= rotationMs;
}
