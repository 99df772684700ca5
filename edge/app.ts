// The edge's request handler. In order: health and keys; CORS; the edge's own files; the
// payment webhook and test checkout page (payment-routes.ts); then an RPC — by its Connect/gRPC path or a REST route — passes the gate (rate limit per client
// address, body size, bearer token verified, rate limit per user) and is forwarded to the
// backend that owns it.
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AuthService } from "../gen/bazaar/auth/v1/auth_pb.ts";
import { CartService } from "../gen/bazaar/cart/v1/cart_pb.ts";
import { OrderService, ShopOrderService } from "../gen/bazaar/order/v1/order_pb.ts";
import { MediaService } from "../gen/bazaar/product/v1/media_pb.ts";
import {
  type BatchGetProductsRequest,
  type GetProductRequest,
  ProductService,
  ShopService,
} from "../gen/bazaar/product/v1/product_pb.ts";
import { AdminService } from "../gen/bazaar/admin/v1/admin_pb.ts";
import { NotificationService } from "../gen/bazaar/notification/v1/notification_pb.ts";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import { type Caller, DenyList } from "../services/kit/auth.ts";
import { clientAddressFrom } from "../services/kit/client-address.ts";
import { rateLimitedError, reasonedError } from "../services/kit/error-info.ts";
import { createGrpcTransport, type GrpcTransport } from "../services/kit/grpc-transport.ts";
import { remoteTokenVerifier } from "../services/kit/identity.ts";
import type { Logger } from "../services/kit/log.ts";
import { currentTraceParent, traceParentOrNew } from "../services/kit/trace-context.ts";
import { callPolicies, type CallPolicy } from "./call-policy.ts";
import type { EdgeConfig } from "./config.ts";
import { createCors } from "./cors.ts";
import { publicError, writeError } from "./errors.ts";
import {
  backendCallOptions,
  backendCalls,
  edgeCallKey,
  forwardedForBackend,
  forwardedRequestHeaders,
  routeToBackends,
  type EdgeCall,
} from "./forward.ts";
import { plainConnectUnary, serveConnectUnary } from "./connect-unary.ts";
import { paymentRoutes } from "./payment-routes.ts";
import { startEdgeFeeds } from "./event-feeds.ts";
import { PublicCache } from "./public-cache.ts";
import { observeRequest, rpcProtocolOf, type RequestTelemetry } from "./request-telemetry.ts";
import { jwksPath } from "./openapi/edge-operations.ts";
import { openApiFiles } from "./openapi/files.ts";
import { TokenBuckets } from "./rate-limit.ts";
import { serveRest } from "./rest/handler.ts";
import { matchRoute, restRoutes } from "./rest/routes.ts";
import type { EdgeRequest, EdgeResponse, RequestHandler } from "./server.ts";
import { staticFileServer } from "./static-files.ts";
import { storefrontFiles } from "./storefront/build.ts";
import { storefrontAddressOf } from "./storefront-links.ts";

export interface EdgeApp {
  handler: RequestHandler;
  close(): Promise<void>;
}

const requestIdPattern = /^[\w.-]{1,64}$/;
const rpcPath = /^\/\w+(\.\w+)+\/\w+$/;

export async function createEdgeApp(config: EdgeConfig, log: Logger): Promise<EdgeApp> {
  const serveStatic = staticFileServer(openApiFiles(), await storefrontFiles(config.mediaOrigins));
  const transports = Object.fromEntries(
    Object.entries(config.backends).map(([name, address]) => [
      name,
      createGrpcTransport(address, { defaultTimeoutMs: config.writeTimeoutMs, connections: 2 }),
    ]),
  ) as Record<keyof EdgeConfig["backends"], GrpcTransport>;
  const publicServices = [
    { service: AuthService, transport: transports.auth },
    { service: ProductService, transport: transports.product },
    { service: ShopService, transport: transports.product },
    { service: MediaService, transport: transports.product },
    { service: CartService, transport: transports.cart },
    { service: OrderService, transport: transports.order },
    { service: ShopOrderService, transport: transports.order },
    { service: AdminService, transport: transports.admin },
    // NotificationService only: AccountMailService is internal and has no route here.
    { service: NotificationService, transport: transports.notification },
  ];
  const services: DescService[] = publicServices.map((p) => p.service);
  const policies = callPolicies(services, config);
  const routes = restRoutes(services);
  const calls = backendCalls(publicServices);
  const cache = new PublicCache({
    ttlMs: config.publicMaxAgeSeconds * 1000,
    followedTtlMs: config.publicCacheSeconds * 1000,
  });
  const denyList = new DenyList();
  const feeds = startEdgeFeeds({
    natsUrl: config.natsUrl,
    streamReplicas: config.natsStreamReplicas,
    cache,
    denyList,
    deactivationLookbackMs: (config.accessTokenTtlSeconds + 60) * 1000,
    log,
  });
  for (const { method, changesCatalog } of policies.values()) {
    if (!changesCatalog) continue;
    const call = calls.get(method)!;
    calls.set(method, async (request, options) => {
      const output = await call(request, options);
      cache.clear();
      return output;
    });
  }
  const cors = createCors(config.corsOrigins);
  const payments = paymentRoutes(transports.payment, config.writeTimeoutMs, log);
  const auth = createClient(AuthService, transports.auth);
  const verifier = remoteTokenVerifier(auth);
  const perAddress = new TokenBuckets(config.perAddressLimit);
  const perUser = new TokenBuckets(config.perUserLimit);
  const calling = new WeakMap<EdgeRequest, EdgeCall>();
  const telemetryOf = new WeakMap<EdgeCall, RequestTelemetry>();
  // Every backend failure, whichever path answers it, passes here: its code is noted for the
  // request's span and metrics.
  const describeError = (error: unknown, call: EdgeCall) => {
    const shown = publicError(error, call.requestId, log);
    return telemetryOf.get(call)?.failed(shown) ?? shown;
  };
  // A public catalog read is answered alike to anonymous visitors and customers: their answers
  // are shared (the product service shows a customer nothing an anonymous visitor does not see).
  // Sellers and admins may see more and are never answered from the cache.
  const isPublicAnswer = (policy: CallPolicy | undefined, caller: Caller | undefined) =>
    policy?.publicRead === true && (caller === undefined || caller.role === "customer");
  // A CDN must not keep a signed-in answer: it would hand it to the product's seller as well.
  const cacheControlOf = (policy: CallPolicy | undefined, caller: Caller | undefined) =>
    !isPublicAnswer(policy, caller)
      ? "private, no-store"
      : `${caller ? "private" : "public"}, max-age=${config.publicMaxAgeSeconds}`;
  const cacheControl: Interceptor = (next) => async (request) => {
    const response = await next(request);
    const call = request.contextValues.get(edgeCallKey);
    response.header.set("cache-control", cacheControlOf(call?.policy, call?.caller));
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

  /** Rate limits, body size and token; answers the refusal itself and returns undefined. */
  const admit = async (
    req: EdgeRequest,
    res: EdgeResponse,
    policy: CallPolicy,
    telemetry: RequestTelemetry,
  ): Promise<EdgeCall | undefined> => {
    const given = req.headers["x-request-id"];
    const requestId = typeof given === "string" && requestIdPattern.test(given) ? given : randomUUID();
    (res as ServerResponse).setHeader("x-request-id", requestId);
    // The request's span when tracing is on; else the client's traceparent or a new one.
    const traceParent = currentTraceParent() ?? traceParentOrNew(req.headers.traceparent as string | undefined);
    const peerAddress = req.socket.remoteAddress ?? "";
    const incomingForwardedFor = req.headers["x-forwarded-for"] as string | undefined;
    const clientAddress = clientAddressFrom(peerAddress, incomingForwardedFor, config.trustedProxies);
    const forwardedFor = forwardedForBackend(peerAddress, incomingForwardedFor, config.trustedProxies);

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
        return refuse(describeError(error, { requestId, traceParent, peerAddress, forwardedFor, policy }));
      }
      // As the services do: a cached public answer must not reach a deactivated account either.
      if (denyList.refuses(caller))
        return refuse(reasonedError("ACCOUNT_DEACTIVATED", "this account is deactivated", {}));
      const userWait = perUser.take(caller.id);
      if (userWait > 0) return refuse(tooManyRequests(userWait, "user"));
    }
    const call = { requestId, traceParent, peerAddress, forwardedFor, policy, caller };
    telemetryOf.set(call, telemetry);
    return call;
  };

  const serveRpc = (req: EdgeRequest, res: EdgeResponse, path: string): boolean => {
    const policy = policies.get(path);
    if (policy) {
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
            const publicAnswer = isPublicAnswer(policy, call.caller);
            return serveConnectUnary(req, res, {
              method: policy.method,
              encoding,
              query,
              maxBodyBytes: policy.maxBodyBytes,
              backend: calls.get(policy.method)!,
              optionsFor: (clientTimeoutMs) =>
                backendCallOptions(call, forwardableHeaders(req), clientTimeoutMs, abortOnClose(res)),
              describeError: (error) => describeError(error, call),
              cache:
                publicAnswer && cache.enabled ? { store: cache, path, productIdsOf: productIdsOf(policy) } : undefined,
              cacheControl: cacheControlOf(policy, call.caller),
            });
          })
          .catch((error) => failed(req, res, error, telemetry)),
      );
      return true;
    }
    if (rpcPath.test(path)) {
      // What gRPC and Connect routers answer for a service or method they do not serve.
      writeError(req, res, new ConnectError(`${path} is not served here`, Code.Unimplemented), 404);
      return true;
    }
    if (!path.startsWith("/v1/")) return false;
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
      return true;
    }
    const restPolicy = policies.get(`/${match.route.rpc.parent.typeName}/${match.route.rpc.name}`)!;
    const telemetry = observeRequest(req, res, "rest", match.route.rpc, match.route);
    telemetry.run(() =>
      admit(req, res, restPolicy, telemetry)
        .then(async (call) => {
          if (!call) return;
          (res as ServerResponse).setHeader("cache-control", cacheControlOf(restPolicy, call.caller));
          const signal = abortOnClose(res);
          await serveRest(req, res, {
            match,
            url,
            maxBodyBytes: restPolicy.maxBodyBytes,
            backend: calls.get(match.route.rpc)!,
            options: backendCallOptions(call, forwardableHeaders(req), undefined, signal),
            describeError: (error) => describeError(error, call),
          });
        })
        .catch((error) => failed(req, res, error, telemetry)),
    );
    return true;
  };

  const failed = (req: EdgeRequest, res: EdgeResponse, error: unknown, telemetry: RequestTelemetry) => {
    log.error({ err: error }, "request failed in the edge");
    const answer = telemetry.failed(new ConnectError("the request failed", Code.Internal));
    if (!(res as ServerResponse).headersSent) writeError(req, res, answer);
    else (res as ServerResponse).destroy();
  };

  const readiness = async (): Promise<Record<string, string>> => {
    const entries = await Promise.all(
      Object.entries(transports).map(async ([name, transport]) => {
        try {
          const { status } = await createClient(Health, transport).check({}, { timeoutMs: 1_000 });
          return [name, status === HealthCheckResponse_ServingStatus.SERVING ? "SERVING" : "NOT_SERVING"] as const;
        } catch (error) {
          return [name, ConnectError.from(error).code === Code.DeadlineExceeded ? "TIMEOUT" : "UNREACHABLE"] as const;
        }
      }),
    );
    return Object.fromEntries(entries);
  };

  const handler: RequestHandler = (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === jwksPath && req.method === "GET") {
      auth.getJwks({}, { timeoutMs: 2_000 }).then(
        ({ jwksJson }) => sendJson(res, 200, JSON.parse(jwksJson), "public, max-age=300"),
        () => sendJson(res, 503, { code: "unavailable", message: "keys are unavailable, retry later" }),
      );
      return;
    }
    if (path === "/readyz") {
      readiness().then(
        (backends) => sendJson(res, Object.values(backends).every((s) => s === "SERVING") ? 200 : 503, { backends }),
        (error) => {
          log.error({ err: error }, "readiness check failed");
          sendJson(res, 503, { status: "unknown" });
        },
      );
      return;
    }
    if (cors.handle(req, res)) return;
    if (serveStatic(req, res, path)) return;
    const page = req.method === "GET" || req.method === "HEAD" ? storefrontAddressOf(path) : undefined;
    if (page) {
      (res as ServerResponse).writeHead(302, { location: page, "cache-control": "no-store" });
      res.end();
      return;
    }
    if (payments.serve(req, res, path)) return;
    if (serveRpc(req, res, path)) return;
    if (path === jwksPath) {
      writeError(req, res, new ConnectError(`${req.method} is not allowed on ${path}`, Code.Unimplemented), 405);
      return;
    }
    writeError(req, res, new ConnectError(`no route ${path}`, Code.NotFound), 404);
  };

  return {
    handler,
    close: async () => {
      perAddress.close();
      perUser.close();
      await feeds.stop();
      for (const transport of Object.values(transports)) transport.close();
    },
  };
}

/** The products a cached answer is about, by its request: one product's read, or a batch's. */
function productIdsOf(policy: CallPolicy): ((request: unknown) => readonly string[]) | undefined {
  if (policy.method === ProductService.method.getProduct) return (request) => [(request as GetProductRequest).id];
  if (policy.method === ProductService.method.batchGetProducts)
    return (request) => (request as BatchGetProductsRequest).ids;
  return undefined;
}

function tooManyRequests(waitSeconds: number, scope: "client_address" | "user"): ConnectError {
  return rateLimitedError(`too many requests, retry in ${waitSeconds} s`, waitSeconds, scope);
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
  (res as ServerResponse).once("close", () => controller.abort());
  return controller.signal;
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

function sendJson(res: EdgeResponse, status: number, body: unknown, cacheControl = "no-store") {
  // The HTTP/1.1 and HTTP/2 compat responses share this subset; TS cannot unify their overloads.
  const response = res as ServerResponse;
  response.writeHead(status, { "content-type": "application/json", "cache-control": cacheControl });
  response.end(JSON.stringify(body));
}
