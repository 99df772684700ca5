// The protocol paths an RPC comes by, each through the gate (gate.ts) and forwarded to its
// backend: a plain Connect unary call takes the edge's lean path (connect-unary.ts, with the
// public cache in front of shared answers), any other Connect, gRPC or gRPC-Web call
// connect-node's adapter, a REST route serveRest. Every path answers with the Cache-Control the
// answer policy gives (answer-policy.ts).
import type { ServerResponse } from "node:http";
import { Code, ConnectError, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "../services/kit/log.ts";
import { type AnswerPolicy, productIdsOf } from "./answer-policy.ts";
import type { CallPolicy } from "./call-policy.ts";
import { plainConnectUnary, serveConnectUnary } from "./connect-unary.ts";
import { publicError, writeError } from "./errors.ts";
import {
  backendCallOptions,
  type backendCalls,
  type EdgeCall,
  edgeCallKey,
  forwardedRequestHeaders,
  routeToBackends,
} from "./forward.ts";
import type { Gate } from "./gate.ts";
import type { PublicCache } from "./public-cache.ts";
import { observeRequest, type RequestTelemetry, rpcProtocolOf } from "./request-telemetry.ts";
import { serveRest } from "./rest/handler.ts";
import { matchRoute, type restRoutes } from "./rest/routes.ts";
import type { EdgeRequest, EdgeResponse } from "./server.ts";

export interface RpcPathOptions {
  /** Every public RPC's policy, by its path (`/bazaar.cart.v1.CartService/GetCart`). */
  policies: Map<string, CallPolicy>;
  routes: ReturnType<typeof restRoutes>;
  calls: ReturnType<typeof backendCalls>;
  gate: Gate;
  answers: AnswerPolicy;
  cache: PublicCache;
  log: Logger;
}

const rpcPath = /^\/\w+(\.\w+)+\/\w+$/;

/** Serves `path` if it is an RPC's (by its Connect/gRPC path or a REST route); false if not. */
export function rpcPaths(options: RpcPathOptions): (req: EdgeRequest, res: EdgeResponse, path: string) => boolean {
  const { policies, routes, calls, gate, answers, cache, log } = options;
  const calling = new WeakMap<EdgeRequest, EdgeCall>();
  const telemetryOf = new WeakMap<EdgeCall, RequestTelemetry>();
  // Every backend failure, whichever path answers it, passes here: its code is noted for the
  // request's span and metrics.
  const describeError = (error: unknown, call: EdgeCall) => {
    const shown = publicError(error, call.requestId, log);
    return telemetryOf.get(call)?.failed(shown) ?? shown;
  };
  const admit = async (req: EdgeRequest, res: EdgeResponse, policy: CallPolicy, telemetry: RequestTelemetry) => {
    const call = await gate(req, res, policy, telemetry);
    if (call) telemetryOf.set(call, telemetry);
    return call;
  };
  const cacheControl: Interceptor = (next) => async (request) => {
    const response = await next(request);
    const call = request.contextValues.get(edgeCallKey);
    response.header.set("cache-control", answers.cacheControl(call?.policy, call?.caller));
    return response;
  };

  // One Connect adapter per body limit, so a message of undeclared length (gRPC, chunked) is
  // cut at its own RPC's limit while being read; declared lengths are checked in the gate.
  const adapters = new Map<string, ReturnType<typeof connectNodeAdapter>>();
  for (const limit of new Set([...policies.values()].map((p) => p.maxBodyBytes))) {
    const paths = [...policies].filter(([, p]) => p.maxBodyBytes === limit).map(([path]) => path);
    const adapter = connectNodeAdapter({
      routes: (router) =>
        routeToBackends(
          router,
          paths.map((path) => policies.get(path)!.method),
          calls,
          describeError,
        ),
      readMaxBytes: limit,
      interceptors: [cacheControl],
      contextValues: (req) => createContextValues().set(edgeCallKey, calling.get(req)),
    });
    for (const path of paths) adapters.set(path, adapter);
  }

  const failed = (req: EdgeRequest, res: EdgeResponse, error: unknown, telemetry: RequestTelemetry) => {
    log.error({ err: error }, "request failed in the edge");
    const answer = telemetry.failed(new ConnectError("the request failed", Code.Internal));
    if (!(res as ServerResponse).headersSent) writeError(req, res, answer);
    else (res as ServerResponse).destroy();
  };

  const serveByRpcPath = (req: EdgeRequest, res: EdgeResponse, path: string, policy: CallPolicy) => {
    const telemetry = observeRequest(req, res, rpcProtocolOf(req), policy.method);
    telemetry.run(() =>
      admit(req, res, policy, telemetry)
        .then((call) => {
          if (!call) return;
          const query =
            req.method === "GET" && policy.read ? new URL(req.url ?? "/", "http://edge").searchParams : undefined;
          const encoding = policy.method.methodKind === "unary" ? plainConnectUnary(req, query) : undefined;
          if (!encoding) {
            calling.set(req, call);
            return adapters.get(path)!(req, res);
          }
          const shared = answers.shared(policy, call.caller) && cache.enabled;
          return serveConnectUnary(req, res, {
            method: policy.method,
            encoding,
            query,
            maxBodyBytes: policy.maxBodyBytes,
            backend: calls.get(policy.method)!,
            optionsFor: (clientTimeoutMs) =>
              backendCallOptions(call, forwardableHeaders(req), clientTimeoutMs, abortOnClose(res)),
            describeError: (error) => describeError(error, call),
            cache: shared ? { store: cache, path, productIdsOf: productIdsOf(policy) } : undefined,
            cacheControl: answers.cacheControl(policy, call.caller),
          });
        })
        .catch((error) => failed(req, res, error, telemetry)),
    );
  };

  const serveByRestRoute = (req: EdgeRequest, res: EdgeResponse, path: string) => {
    const url = new URL(req.url ?? "/", "http://edge");
    const { match, pathExists } = matchRoute(routes, req.method ?? "GET", path);
    if (!match) {
      writeError(
        req,
        res,
        new ConnectError(
          pathExists ? `${req.method} is not allowed on ${path}` : `no route ${path}`,
          pathExists ? Code.Unimplemented : Code.NotFound,
        ),
        pathExists ? 405 : 404,
      );
      return;
    }
    const policy = policies.get(`/${match.route.rpc.parent.typeName}/${match.route.rpc.name}`)!;
    const telemetry = observeRequest(req, res, "rest", match.route.rpc, match.route);
    telemetry.run(() =>
      admit(req, res, policy, telemetry)
        .then(async (call) => {
          if (!call) return;
          (res as ServerResponse).setHeader("cache-control", answers.cacheControl(policy, call.caller));
          await serveRest(req, res, {
            match,
            url,
            maxBodyBytes: policy.maxBodyBytes,
            backend: calls.get(match.route.rpc)!,
            options: backendCallOptions(call, forwardableHeaders(req), undefined, abortOnClose(res)),
            describeError: (error) => describeError(error, call),
          });
        })
        .catch((error) => failed(req, res, error, telemetry)),
    );
  };

  return (req, res, path) => {
    const policy = policies.get(path);
    if (policy) {
      serveByRpcPath(req, res, path, policy);
      return true;
    }
    if (rpcPath.test(path)) {
      // What gRPC and Connect routers answer for a service or method they do not serve.
      writeError(req, res, new ConnectError(`${path} is not served here`, Code.Unimplemented), 404);
      return true;
    }
    if (!path.startsWith("/v1/")) return false;
    serveByRestRoute(req, res, path);
    return true;
  };
}

/** The request headers a backend call may carry on (see backendCallOptions). */
function forwardableHeaders(req: EdgeRequest): Headers {
  const headers = new Headers();
  for (const name of forwardedRequestHeaders) {
    const value = req.headers[name];
    if (typeof value === "string") headers.set(name, value);
  }
  return headers;
}

/** A signal that fires when the client goes away before the answer is complete. */
function abortOnClose(res: EdgeResponse): AbortSignal {
  const controller = new AbortController();
  // Not after the answer was sent: an abort builds an exception (a DOMException) for nothing.
  (res as ServerResponse).once("close", () => (res as ServerResponse).writableEnded || controller.abort());
  return controller.signal;
}
