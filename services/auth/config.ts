// The auth service's configuration.
import type { JWK } from "jose";
import { trustedProxies, type TrustedProxies } from "../kit/client-address.ts";
import {
  ConfigError,
  envReader,
  readServiceBaseConfig,
  serviceTarget,
  type Env,
  type ServiceBaseConfig,
} from "../kit/config.ts";
import type { RecoveryPolicy } from "./domain/recovery.ts";
import type { SessionPolicy } from "./domain/sessions.ts";
import type { StoredKey } from "./domain/signing-keys.ts";

export interface AuthConfig extends ServiceBaseConfig {
  /** LOCAL DEV: create the dev accounts on first start. */
  demoSeed: boolean;
  sessions: SessionPolicy;
  recovery: RecoveryPolicy;
  /** The storefront's address, put into mailed links (BAZAAR_PUBLIC_URL). */
  publicUrl: string;
  /** The notification service (AccountMailService), BAZAAR_NOTIFICATION_ADDR. */
  notificationAddress: string;
  /** Production keys (BAZAAR_AUTH_SIGNING_KEYS); undefined means generate and keep in the database. */
  signingKeys: StoredKey[] | undefined;
  keyRotationMs: number;
  /** Peers whose X-Forwarded-For is believed (the edge, a load balancer): addresses or CIDR ranges. */
  trustedProxies: TrustedProxies;
}

export function loadAuthConfig(env: Env): AuthConfig {
  const read = envReader(env);
  const base = readServiceBaseConfig(read, "auth");
  const signingKeys = parseSigningKeys(env.BAZAAR_AUTH_SIGNING_KEYS);
  if (base.environment === "production" && !signingKeys) {
    throw new ConfigError(
      "BAZAAR_AUTH_SIGNING_KEYS must be set in production (generated keys are for local development)",
    );
  }
  return {
    ...base,
    demoSeed: read.flag("BAZAAR_DEMO_SEED", false),
    sessions: {
      accessTokenTtlSeconds: base.accessTokenTtlSeconds,
      refreshIdleSeconds: read.int("BAZAAR_REFRESH_IDLE_SECONDS", 7 * 86_400, { min: 300 }),
      refreshAbsoluteSeconds: read.int("BAZAAR_REFRESH_ABSOLUTE_SECONDS", 30 * 86_400, { min: 300 }),
      maxFailuresPerAccount: read.int("BAZAAR_LOGIN_MAX_FAILURES_PER_ACCOUNT", 10, { min: 1 }),
      maxFailuresPerIp: read.int("BAZAAR_LOGIN_MAX_FAILURES_PER_IP", 50, { min: 1 }),
      failureWindowSeconds: read.int("BAZAAR_LOGIN_FAILURE_WINDOW_SECONDS", 900, { min: 1 }),
    },
    recovery: {
      maxRequestsPerEmail: read.int("BAZAAR_PASSWORD_RESET_MAX_PER_EMAIL", 3, { min: 1 }),
      maxRequestsPerIp: read.int("BAZAAR_PASSWORD_RESET_MAX_PER_IP", 20, { min: 1 }),
      windowSeconds: read.int("BAZAAR_PASSWORD_RESET_WINDOW_SECONDS", 3600, { min: 1 }),
    },
    publicUrl: read.string("BAZAAR_PUBLIC_URL", "http://127.0.0.1:8080"),
    notificationAddress: serviceTarget(read, "notification"),
    signingKeys,
    keyRotationMs: read.int("BAZAAR_AUTH_KEY_ROTATION_DAYS", 30, { min: 1, max: 365 }) * 86_400_000,
    trustedProxies: trustedProxies(
      read
        .string("BAZAAR_TRUSTED_PROXIES", "127.0.0.1,::1")
        .split(",")
        .map((ip) => ip.trim())
        .filter(Boolean),
      "BAZAAR_TRUSTED_PROXIES",
    ),
  };
}

/** A JSON array of Ed25519 private JWKs, each with `kid` and `created` (ISO time); newest signs. */
function parseSigningKeys(text: string | undefined): StoredKey[] | undefined {
  if (!text?.trim()) return undefined;
  try {
    const keys = JSON.parse(text) as Array<JWK & { created: string }>;
    return keys.map(({ created, ...jwk }) => {
      if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.d || !jwk.kid)
        throw new Error("not an Ed25519 private JWK");
      const { d: _private, ...publicJwk } = jwk;
      return {
        kid: jwk.kid,
        privateJwk: jwk,
        publicJwk: { ...publicJwk, alg: "EdDSA", use: "sig" },
        createTime: new Date(created),
      };
    });
  } catch (error) {
    throw new ConfigError(
      `BAZAAR_AUTH_SIGNING_KEYS must be a JSON array of Ed25519 private JWKs with kid and created (${(error as Error).message})`,
    );
  }
}
