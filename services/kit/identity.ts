// Wiring identity into a service: the token verifier (JWKS from auth over gRPC), the deny list
// fed from UserActiveChanged events, and service tokens for calling other services' internal
// RPCs.
import type { Client } from "@connectrpc/connect";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { JSONWebKeySet } from "jose";
import type { AuthService, ServiceIdentityService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import type { Event } from "../../gen/bazaar/events/v1/events_pb.ts";
import { createTokenVerifier, type DenyList, type TokenVerifier } from "./auth.ts";
import { followEventFeed } from "./event-feed.ts";
import type { Logger } from "./log.ts";

/** A verifier whose keys come from auth's GetJwks. */
export function remoteTokenVerifier(auth: Client<typeof AuthService>): TokenVerifier {
  return createTokenVerifier({
    loadJwks: async () => JSON.parse((await auth.getJwks({}, { timeoutMs: 2_000 })).jwksJson) as JSONWebKeySet,
  });
}

/**
 * What one auth event means for the deny list: a deactivation refuses the user's tokens issued
 * up to it (a reactivation lifts that), a password reset refuses those issued up to it for good.
 */
export function applyIdentityEvent(denyList: DenyList, event: Event): void {
  // To the millisecond, as auth's iat: a token issued right after the change passes.
  const at = (Number(event.occurTime?.seconds ?? 0n) * 1000 + Math.floor((event.occurTime?.nanos ?? 0) / 1e6)) / 1000;
  if (event.payload.case === "passwordChanged") denyList.revokeIssuedUpTo(event.payload.value.userId, at);
  if (event.payload.case !== "userActiveChanged") return;
  const { userId, active } = event.payload.value;
  if (active) denyList.allow(userId);
  else denyList.deny(userId, at);
}

/**
 * Keeps `denyList` current from UserActiveChanged and PasswordChanged events. An ordered (ephemeral) consumer per
 * process replays the events of the last `lookbackMs` at start — no access token older than that
 * is still valid, so nothing older matters — then follows new ones within milliseconds.
 */
export function followDeactivations(options: {
  js: JetStreamClient;
  denyList: DenyList;
  lookbackMs: number;
  log: Logger;
}): Promise<{ stop(): Promise<void> }> {
  // Each (re)attach replays the whole look-back window: applying an event twice is harmless.
  // Every auth event; applyIdentityEvent ignores all but deactivations and resets.
  return followEventFeed({
    js: options.js,
    filterSubject: "bazaar.auth.>",
    from: { lookbackMs: options.lookbackMs },
    apply: (event) => applyIdentityEvent(options.denyList, event),
    name: "deactivation feed",
    log: options.log,
  });
}

/** A service token for internal RPCs, fetched from auth and renewed a minute before expiry. */
export interface ServiceTokenSource {
  authorization(): Promise<string>;
}

export function serviceTokenSource(
  identity: Client<typeof ServiceIdentityService>,
  serviceName: string,
  secret: string,
): ServiceTokenSource {
  let current: { header: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;
  return {
    async authorization() {
      if (current && Date.now() < current.renewAt) return current.header;
      pending ??= identity
        .issueServiceToken({ serviceName, secret }, { timeoutMs: 3_000 })
        .then((response) => {
          const expiresAt = Number(response.expireTime?.seconds ?? 0n) * 1000;
          current = { header: `Bearer ${response.accessToken}`, renewAt: expiresAt - 60_000 };
          return current.header;
        })
        .finally(() => (pending = undefined));
      return pending;
    },
  };
}
