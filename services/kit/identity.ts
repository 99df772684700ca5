// Wiring identity into a service: the token verifier (JWKS from auth over gRPC), the deny list
// fed from UserActiveChanged events, and service tokens for calling other services' internal
// RPCs.
import { fromBinary } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import type { JSONWebKeySet } from "jose";
import { AuthService, ServiceIdentityService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { createTokenVerifier, DenyList, type TokenVerifier } from "./auth.ts";
import { streamName } from "./events.ts";
import type { Logger } from "./log.ts";

/** A verifier whose keys come from auth's GetJwks. */
export function remoteTokenVerifier(auth: Client<typeof AuthService>): TokenVerifier {
  return createTokenVerifier({
    loadJwks: async () => JSON.parse((await auth.getJwks({}, { timeoutMs: 2_000 })).jwksJson) as JSONWebKeySet,
  });
}

/**
 * Keeps `denyList` current from UserActiveChanged events. An ordered (ephemeral) consumer per
 * process replays the events of the last `lookbackMs` at start — no access token older than that
 * is still valid, so nothing older matters — then follows new ones within milliseconds.
 */
export async function followDeactivations(options: {
  js: JetStreamClient;
  denyList: DenyList;
  lookbackMs: number;
  log: Logger;
}): Promise<{ stop(): Promise<void> }> {
  const consumer = await options.js.consumers.get(streamName, {
    filter_subjects: "bazaar.auth.user_active_changed",
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(Date.now() - options.lookbackMs).toISOString(),
  });
  const messages = await consumer.consume();
  const done = (async () => {
    for await (const message of messages) {
      try {
        const event = fromBinary(EventSchema, message.data);
        if (event.payload.case !== "userActiveChanged") continue;
        const { userId, active } = event.payload.value;
        const at = Math.floor(Number(event.occurTime?.seconds ?? 0n));
        if (active) options.denyList.allow(userId);
        else options.denyList.deny(userId, at);
      } catch (error) {
        options.log.error({ err: error, seq: message.seq }, "undecodable UserActiveChanged event skipped");
      }
    }
  })();
  return {
    async stop() {
      await messages.close();
      await done;
    },
  };
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
