// The gate every RPC passes before it is forwarded, whichever protocol it came in: a request id
// and trace context, the client's address (X-Forwarded-For believed only from trusted proxies),
// a token bucket per address, the RPC's body limit, the bearer token verified and checked
// against the deny list, and a token bucket per user. A refusal is answered here, in the
// protocol the client spoke.
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ConnectError } from "@connectrpc/connect";
import type { Caller, DenyList, TokenVerifier } from "../services/kit/auth.ts";
import { clientAddressFrom, type TrustedProxies } from "../services/kit/client-address.ts";
import { rateLimitedError, reasonedError } from "../services/kit/error-info.ts";
import type { Logger } from "../services/kit/log.ts";
import { currentTraceParent, traceParentOrNew } from "../services/kit/trace-context.ts";
import type { CallPolicy } from "./call-policy.ts";
import { publicError, writeError } from "./errors.ts";
import { type EdgeCall, forwardedForBackend } from "./forward.ts";
import type { TokenBuckets } from "./rate-limit.ts";
import type { RequestTelemetry } from "./request-telemetry.ts";
import type { EdgeRequest, EdgeResponse } from "./server.ts";

export interface GateOptions {
  trustedProxies: TrustedProxies;
  perAddress: TokenBuckets;
  perUser: TokenBuckets;
  verifier: TokenVerifier;
  denyList: DenyList;
  log: Logger;
}

/** Admits a call (its EdgeCall) or answers the refusal itself and gives undefined. */
export type Gate = (
  req: EdgeRequest,
  res: EdgeResponse,
  policy: CallPolicy,
  telemetry: RequestTelemetry,
) => Promise<EdgeCall | undefined>;

const requestIdPattern = /^[\w.-]{1,64}$/;

export function createGate(options: GateOptions): Gate {
  const { trustedProxies, perAddress, perUser, verifier, denyList, log } = options;
  return async (req, res, policy, telemetry) => {
    const given = req.headers["x-request-id"];
    const requestId = typeof given === "string" && requestIdPattern.test(given) ? given : randomUUID();
    (res as ServerResponse).setHeader("x-request-id", requestId);
    // The request's span when tracing is on; else the client's traceparent or a new one.
    const traceParent = currentTraceParent() ?? traceParentOrNew(req.headers.traceparent as string | undefined);
    const peerAddress = req.socket.remoteAddress ?? "";
    const incomingForwardedFor = req.headers["x-forwarded-for"] as string | undefined;
    const clientAddress = clientAddressFrom(peerAddress, incomingForwardedFor, trustedProxies);
    const forwardedFor = forwardedForBackend(peerAddress, incomingForwardedFor, trustedProxies);

    const refuse = (error: ConnectError, httpStatus?: number) => {
      writeError(req, res, telemetry.failed(error), httpStatus);
      discardBody(req, res, policy.maxBodyBytes);
      return undefined;
    };
    const addressWait = perAddress.take(clientAddress);
    if (addressWait > 0) return refuse(tooManyRequests(addressWait, "client_address"));
    const declaredLength = Number(req.headers["content-length"] ?? 0);
    if (declaredLength > policy.maxBodyBytes) {
      return refuse(
        reasonedError(
          "REQUEST_TOO_LARGE",
          `the request body of ${declaredLength} bytes exceeds the limit of ${policy.maxBodyBytes} bytes`,
          { limit_bytes: String(policy.maxBodyBytes) },
        ),
        413,
      );
    }
    const authorization = req.headers.authorization;
    let caller: Caller | undefined;
    if (authorization !== undefined) {
      const token = /^Bearer ([\w.~+/-]+=*)$/i.exec(authorization)?.[1];
      if (!token)
        return refuse(reasonedError("TOKEN_INVALID", "the authorization header must be `Bearer <access token>`", {}));
      try {
        caller = await verifier.verify(token);
      } catch (error) {
        return refuse(publicError(error, requestId, log));
      }
      // As the services do: a cached public answer must not reach a deactivated account either.
      if (denyList.refuses(caller))
        return refuse(reasonedError("ACCOUNT_DEACTIVATED", "this account is deactivated", {}));
      const userWait = perUser.take(caller.id);
      if (userWait > 0) return refuse(tooManyRequests(userWait, "user"));
    }
    return { requestId, traceParent, peerAddress, forwardedFor, policy, caller };
  };
}

function tooManyRequests(waitSeconds: number, scope: "client_address" | "user"): ConnectError {
  return rateLimitedError(`too many requests, retry in ${waitSeconds} s`, waitSeconds, scope);
}

/**
 * After a refusal sent without reading the body. Node reads and drops whatever body is left once
 * the answer is out (nothing is kept), so a client that writes its whole body before reading
 * still gets the answer. A body declared or found larger than the limit gets `lingerMs` to
 * arrive; then the stream (HTTP/2) or connection (HTTP/1.1) is cut, as nginx's lingering close
 * does, so no client can keep the edge reading for long.
 */
function discardBody(req: EdgeRequest, res: EdgeResponse, limit: number): void {
  if (req.readableEnded) return;
  const response = res as ServerResponse;
  let cutScheduled = false;
  const cutSoon = () => {
    if (cutScheduled) return;
    cutScheduled = true;
    const linger = () =>
      setTimeout(() => {
        if (req.readableEnded) return;
        if ("stream" in req) req.stream.close();
        else req.socket.destroy();
      }, lingerMs).unref();
    if (response.writableFinished) linger();
    else response.once("finish", linger);
  };
  if (Number(req.headers["content-length"] ?? 0) > limit) cutSoon();
  let seen = 0;
  req.on("data", (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) cutSoon();
  });
}

const lingerMs = 2_000;
