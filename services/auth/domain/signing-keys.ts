// The keys that sign access tokens. One key signs (the newest that has been published long
// enough); every key younger than the rotation period plus one token lifetime still verifies, so
// rotating never invalidates a token that was valid a moment before. Ed25519 (EdDSA): small
// keys, fast verification.
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

/**
 * A new key is in the key set every auth replica serves for this long before it signs: replicas
 * reload their keys every minute, so by then a verifier that meets the new kid finds it whichever
 * replica it asks. Two replicas starting on an empty database both create a key; both sign with
 * the first until the second is published.
 */
export const keyPublishDelayMs = 2 * 60_000;

export class KeyRing {
  readonly #keys: StoredKey[];
  readonly #signing: SigningKey;

  private constructor(keys: StoredKey[], signing: SigningKey) {
    this.#keys = keys;
    this.#signing = signing;
  }

  /** Every key verifies; the newest published one signs (the oldest while none is). */
  static async from(keys: StoredKey[], now = new Date()): Promise<KeyRing> {
    if (keys.length === 0) throw new Error("no signing key");
    const sorted = [...keys].sort((a, b) => b.createTime.getTime() - a.createTime.getTime());
    const signer = sorted.find((key) => isPublished(key, now)) ?? sorted.at(-1)!;
    const privateKey = (await importJWK(signer.privateJwk, "EdDSA")) as CryptoKey;
    return new KeyRing(sorted, { kid: signer.kid, privateKey });
  }

  get signing(): SigningKey {
    return this.#signing;
  }

  /** Public keys for verifiers (GetJwks, /.well-known/jwks.json). */
  jwks(): JSONWebKeySet {
    return { keys: this.#keys.map((key) => key.publicJwk) };
  }
}

function isPublished(key: StoredKey, now: Date): boolean {
  return now.getTime() - key.createTime.getTime() >= keyPublishDelayMs;
}

/**
 * Which stored keys are still needed: the newest, and older ones whose last tokens may not have
 * expired yet (each stopped signing when the next key was published).
 */
export function keysStillVerifying(keys: StoredKey[], tokenLifetimeMs: number, now = new Date()): StoredKey[] {
  const sorted = [...keys].sort((a, b) => b.createTime.getTime() - a.createTime.getTime());
  return sorted.filter((_key, index) => {
    if (index === 0) return true;
    const retiredAt = sorted[index - 1]!.createTime.getTime() + keyPublishDelayMs;
    return retiredAt + tokenLifetimeMs + 60_000 > now.getTime();
  });
}

/** True when the signing key is older than the rotation period. */
export function rotationDue(newest: StoredKey | undefined, rotationMs: number, now = new Date()): boolean {
  return !newest || now.getTime() - newest.createTime.getTime() >= rotationMs;
}
