// Who is calling, and may they call this RPC. Every service runs the same request hook: it
// verifies the bearer token locally against auth's JWKS, refuses tokens of deactivated users,
// puts the caller on the context, and applies the rule the service declared for the RPC.
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet } from "jose";
import { reasonedError } from "./error-info.ts";
import { requestHeaderValue } from "./grpc-context.ts";
import type { RequestHook } from "./serve.ts";

export type Role = "customer" | "seller" | "admin" | "service";

/** The verified identity behind a call. */
export interface Caller {
  /** User id, or "service:<name>" for a service identity. */
  id: string;
  role: Role;
  /** When the token was issued (seconds since epoch); the deny list compares against it. */
  issuedAt: number;
  /** The token's `email_verified` claim; undefined on tokens without one (services). */
  emailVerified?: boolean;
}

/** The claims every Bazaar access token carries and every verifier pins. */
export const tokenProfile = {
  algorithm: "EdDSA",
  issuer: "bazaar-auth",
  audience: "bazaar",
  /** JWT `typ` header of access tokens (RFC 9068); refresh tokens are opaque, never JWTs. */
  accessType: "at+jwt",
  clockToleranceSeconds: 30,
} as const;

const roles: ReadonlySet<string> = new Set<Role>(["customer", "seller", "admin", "service"]);

/**
 * Who may call an RPC:
 * - public: anyone; a valid token still identifies the caller.
 * - user: any signed-in user (customer, seller or admin).
 * - seller: sellers and admins.
 * - admin: admins only.
 * - service: other services of the mesh only (internal RPCs).
 */
export type AccessRule = "public" | "user" | "seller" | "admin" | "service";

export type AccessRules<S extends DescService> = { readonly [K in keyof S["method"]]: AccessRule };

/** A service's rules, one for every RPC (the type makes a forgotten RPC a compile error). */
export function accessRules<S extends DescService>(service: S, rules: AccessRules<S>): Map<string, AccessRule> {
  const byPath = new Map<string, AccessRule>();
  for (const method of service.methods) {
    byPath.set(`${service.typeName}/${method.name}`, (rules as Record<string, AccessRule>)[method.localName]!);
  }
  return byPath;
}

export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "verified caller" });

/** The caller of an RPC whose rule requires one. */
export function callerOf(ctx: HandlerContext): Caller {
  const caller = ctx.values.get(callerKey);
  if (!caller) throw signInRequired();
  return caller;
}

export interface TokenVerifier {
  verify(token: string): Promise<Caller>;
}

// Apart, so a client refreshes an expired token and asks a user with an invalid one to sign in.
const invalidToken = () => reasonedError("TOKEN_INVALID", "invalid access token", {});
const expiredToken = () => reasonedError("TOKEN_EXPIRED", "the access token has expired", {});
const signInRequired = () => reasonedError("SIGN_IN_REQUIRED", "sign in first", {});

/**
 * Verifies access tokens against a JWKS. A token whose `kid` is unknown triggers one reload of
 * the key set (a key was rotated in), at most every `refreshIntervalMs` so forged kids cannot
 * make every request fetch keys.
 *
 * A token verified once is remembered until it expires (at most `cacheSize`, oldest out first):
 * the same token comes with every call of a session and again at every hop, and a signature
 * check costs tens of microseconds of crypto each time. What may change while a token is valid —
 * its user deactivated, their password changed — is the deny list's to decide, per call.
 */
export function createTokenVerifier(options: {
  loadJwks: () => Promise<JSONWebKeySet>;
  refreshIntervalMs?: number;
  cacheSize?: number;
}): TokenVerifier {
  const refreshIntervalMs = options.refreshIntervalMs ?? 30_000;
  const cacheSize = options.cacheSize ?? 10_000;
  const verified = new Map<string, { caller: Caller; expiresAtMs: number }>();
  let keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  let loadedAt = 0;
  let loading: Promise<void> | undefined;

  const reload = () =>
    (loading ??= options
      .loadJwks()
      .then((jwks) => {
        keySet = createLocalJWKSet(jwks);
        loadedAt = Date.now();
        // A key taken out of the set takes its tokens with it.
        verified.clear();
      })
      .finally(() => (loading = undefined)));

  const verifyWithKeys = async (token: string) => {
    const { payload } = await jwtVerify(token, keySet!, {
      algorithms: [tokenProfile.algorithm],
      issuer: tokenProfile.issuer,
      audience: tokenProfile.audience,
      typ: tokenProfile.accessType,
      clockTolerance: tokenProfile.clockToleranceSeconds,
      requiredClaims: ["sub", "exp", "iat", "role"],
    });
    if (typeof payload.role !== "string" || !roles.has(payload.role)) throw invalidToken();
    const emailVerified = typeof payload.email_verified === "boolean" ? payload.email_verified : undefined;
    const caller: Caller = Object.freeze({
      id: payload.sub!,
      role: payload.role as Role,
      issuedAt: payload.iat!,
      emailVerified,
    });
    if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
    verified.set(token, { caller, expiresAtMs: (payload.exp! + tokenProfile.clockToleranceSeconds) * 1000 });
    return caller;
  };

  return {
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (Date.now() < known.expiresAtMs) return known.caller;
        verified.delete(token);
        throw expiredToken();
      }
      try {
        if (!keySet) await reload();
        try {
          return await verifyWithKeys(token);
        } catch (error) {
          if (!(error instanceof joseErrors.JWKSNoMatchingKey) || Date.now() - loadedAt < refreshIntervalMs)
            throw error;
          await reload();
          return await verifyWithKeys(token);
        }
      } catch (error) {
        if (error instanceof ConnectError && error.code !== Code.Unauthenticated) throw error;
        if (error instanceof joseErrors.JWTExpired) throw expiredToken();
        if (error instanceof joseErrors.JOSEError || error instanceof ConnectError) throw invalidToken();
        // Keys could not be loaded: auth is unreachable, which is not the caller's fault.
        throw new ConnectError("cannot verify tokens right now", Code.Unavailable, undefined, undefined, error);
      }
    },
  };
}

/**
 * Users deactivated by an admin. Their tokens stay cryptographically valid until they expire,
 * so every service refuses tokens issued before the deactivation, fed by UserActiveChanged.
 */
export class DenyList {
  readonly #deactivatedAt = new Map<string, number>();
  readonly #passwordChangedAt = new Map<string, number>();

  deny(userId: string, atSeconds: number): void {
    this.#deactivatedAt.set(userId, atSeconds);
  }

  allow(userId: string): void {
    this.#deactivatedAt.delete(userId);
  }

  /**
   * The user's password changed at `atSeconds` (PasswordChanged, to the millisecond like iat):
   * tokens issued up to then are refused for good. Kept apart from deactivation so a later reactivation does not lift it.
   */
  revokeIssuedUpTo(userId: string, atSeconds: number): void {
    this.#passwordChangedAt.set(userId, Math.max(atSeconds, this.#passwordChangedAt.get(userId) ?? 0));
  }

  refuses(caller: Caller): boolean {
    const at = this.#deactivatedAt.get(caller.id);
    const changedAt = this.#passwordChangedAt.get(caller.id);
    return (at !== undefined && caller.issuedAt <= at) || (changedAt !== undefined && caller.issuedAt <= changedAt);
  }
}

export interface AuthHookOptions {
  verifier: TokenVerifier;
  /** Rules of every RPC the server serves, from accessRules(); an RPC without one is refused. */
  rules: Map<string, AccessRule>;
  denyList: DenyList;
}

const roleAllows: Record<Exclude<AccessRule, "public">, ReadonlySet<Role>> = {
  user: new Set(["customer", "seller", "admin"]),
  seller: new Set(["seller", "admin"]),
  admin: new Set(["admin"]),
  service: new Set(["service"]),
};

export function createAuthHook(options: AuthHookOptions): RequestHook {
  return async (ctx) => {
    const rule = options.rules.get(`${ctx.service.typeName}/${ctx.method.name}`);
    if (!rule) throw new ConnectError(`no access rule for ${ctx.method.name}`, Code.PermissionDenied);
    const header = requestHeaderValue(ctx, "authorization");
    if (!header) {
      if (rule === "public") return;
      throw signInRequired();
    }
    const match = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/i.exec(header);
    if (!match) throw invalidToken();
    const caller = await options.verifier.verify(match[1]!);
    if (options.denyList.refuses(caller)) throw reasonedError("ACCOUNT_DEACTIVATED", "this account is deactivated", {});
    ctx.values.set(callerKey, caller);
    if (rule !== "public" && !roleAllows[rule].has(caller.role)) {
      throw new ConnectError(`${ctx.method.name} is not allowed for role ${caller.role}`, Code.PermissionDenied);
    }
  };
}
