// The edge's request handler. In order: health and keys; CORS; the edge's own files; the
// payment webhook and test checkout page (payment-routes.ts); then an RPC — by its Connect/gRPC
// path or a REST route (rpc-paths.ts) — passes the gate (gate.ts) and is forwarded to the backend
// that owns it. This module wires them: backends, policies, the cache of public answers and the
// event feeds that keep it and the deny list current.
import type { ServerResponse } from "node:http";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AdminService } from "../gen/bazaar/admin/v1/admin_pb.ts";
import { AuthService } from "../gen/bazaar/auth/v1/auth_pb.ts";
import { CartService } from "../gen/bazaar/cart/v1/cart_pb.ts";
import { NotificationService } from "../gen/bazaar/notification/v1/notification_pb.ts";
import { OrderService, ShopOrderService } from "../gen/bazaar/order/v1/order_pb.ts";
import { MediaService } from "../gen/bazaar/product/v1/media_pb.ts";
import { ProductService, ShopService } from "../gen/bazaar/product/v1/product_pb.ts";
import { DenyList } from "../services/kit/auth.ts";
import { createGrpcTransport, type GrpcTransport } from "../services/kit/grpc-transport.ts";
import { remoteTokenVerifier } from "../services/kit/identity.ts";
import type { Logger } from "../services/kit/log.ts";
import { answerPolicy } from "./answer-policy.ts";
import { backendHealth } from "./backend-health.ts";
import { observeCache } from "./cache-metrics.ts";
import { callPolicies } from "./call-policy.ts";
import type { EdgeConfig } from "./config.ts";
import { createCors } from "./cors.ts";
import { writeError } from "./errors.ts";
import { startEdgeFeeds } from "./event-feeds.ts";
import { backendCalls } from "./forward.ts";
import { createGate } from "./gate.ts";
import { jwksPath } from "./openapi/edge-operations.ts";
import { openApiFiles } from "./openapi/files.ts";
import { paymentRoutes } from "./payment-routes.ts";
import { PublicCache } from "./public-cache.ts";
import { TokenBuckets } from "./rate-limit.ts";
import { restRoutes } from "./rest/routes.ts";
import { rpcPaths } from "./rpc-paths.ts";
import type { EdgeResponse, RequestHandler } from "./server.ts";
import { staticFileServer } from "./static-files.ts";
import { storefrontFiles } from "./storefront/files.ts";
import { storefrontAddressOf } from "./storefront-links.ts";

export interface EdgeApp {
  handler: RequestHandler;
  close(): Promise<void>;
}

export async function createEdgeApp(config: EdgeConfig, log: Logger): Promise<EdgeApp> {
  const serveStatic = staticFileServer(
    openApiFiles({ docs: config.docs }),
    config.storefront ? await storefrontFiles(config.mediaOrigins) : new Map(),
  );
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
  const calls = backendCalls(publicServices);
  const cache = new PublicCache({
    ttlMs: config.publicMaxAgeSeconds * 1000,
    followedTtlMs: config.publicCacheSeconds * 1000,
  });
  observeCache(cache);
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
  const perAddress = new TokenBuckets(config.perAddressLimit);
  const perUser = new TokenBuckets(config.perUserLimit);
  const gate = createGate({
    trustedProxies: config.trustedProxies,
    perAddress,
    perUser,
    verifier: remoteTokenVerifier(auth),
    denyList,
    log,
  });
  const serveRpc = rpcPaths({
    policies,
    routes: restRoutes(services),
    calls,
    gate,
    answers: answerPolicy(config.publicMaxAgeSeconds),
    cache,
    log,
  });

  const backends = backendHealth(transports);

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
      backends.check().then(
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
    const page =
      config.storefront && (req.method === "GET" || req.method === "HEAD") ? storefrontAddressOf(path) : undefined;
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
      backends.stop();
      await feeds.stop();
      for (const transport of Object.values(transports)) transport.close();
    },
  };
}

function sendJson(res: EdgeResponse, status: number, body: unknown, cacheControl = "no-store") {
  // The HTTP/1.1 and HTTP/2 compat responses share this subset; TS cannot unify their overloads.
  const response = res as ServerResponse;
  response.writeHead(status, { "content-type": "application/json", "cache-control": cacheControl });
  response.end(JSON.stringify(body));
}
