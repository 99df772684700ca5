// The edge's request handler: the Connect adapter for the public services (Connect, gRPC-Web
// and gRPC, JSON and binary) plus /healthz and /readyz.
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { Code, ConnectError, createClient, createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AuthService } from "../gen/bazaar/auth/v1/auth_pb.ts";
import { CartService } from "../gen/bazaar/cart/v1/cart_pb.ts";
import { OrderService } from "../gen/bazaar/order/v1/order_pb.ts";
import { ProductService, ShopService } from "../gen/bazaar/product/v1/product_pb.ts";
import { AdminService } from "../gen/bazaar/admin/v1/admin_pb.ts";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import { createGrpcTransport, type GrpcTransport } from "../services/kit/grpc-transport.ts";
import { requestIdKey } from "../services/kit/serve.ts";
import type { Logger } from "../services/kit/log.ts";
import type { EdgeConfig } from "./config.ts";
import { remoteAddressKey, routePublicServices } from "./forward.ts";
import type { RequestHandler } from "./server.ts";
import { openApiFiles } from "./openapi/files.ts";
import { storefrontFiles } from "./storefront/build.ts";
import { staticFileServer } from "./static-files.ts";

export interface EdgeApp {
  handler: RequestHandler;
  close(): void;
}

export async function createEdgeApp(config: EdgeConfig, log: Logger): Promise<EdgeApp> {
  const serveStatic = staticFileServer(openApiFiles(), await storefrontFiles());
  const transports = Object.fromEntries(
    Object.entries(config.backends).map(([name, address]) => [
      name,
      createGrpcTransport(address, { defaultTimeoutMs: config.defaultTimeoutMs, connections: 2 }),
    ]),
  ) as Record<keyof EdgeConfig["backends"], GrpcTransport>;

  const connect = connectNodeAdapter({
    routes: (router) =>
      routePublicServices(router, [
        { service: AuthService, transport: transports.auth },
        { service: ProductService, transport: transports.product },
        { service: ShopService, transport: transports.product },
        { service: CartService, transport: transports.cart },
        { service: OrderService, transport: transports.order },
        { service: AdminService, transport: transports.admin },
      ]),
    readMaxBytes: config.maxBodyBytes,
    contextValues: (req) => {
      const given = req.headers["x-request-id"];
      const requestId = typeof given === "string" && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
      return createContextValues()
        .set(requestIdKey, requestId)
        .set(remoteAddressKey, req.socket.remoteAddress ?? "");
    },
  });

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
    const path = req.url?.split("?")[0];
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === "/.well-known/jwks.json" && req.method === "GET") {
      createClient(AuthService, transports.auth)
        .getJwks({}, { timeoutMs: 2_000 })
        .then(
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
    if (serveStatic(req, res, path ?? "")) return;
    connect(req, res);
  };

  return { handler, close: () => Object.values(transports).forEach((t) => t.close()) };
}

function sendJson(res: Parameters<RequestHandler>[1], status: number, body: unknown, cacheControl = "no-store") {
  // The HTTP/1.1 and HTTP/2 compat responses share this subset; TS cannot unify their overloads.
  const response = res as ServerResponse;
  response.writeHead(status, { "content-type": "application/json", "cache-control": cacheControl });
  response.end(JSON.stringify(body));
}
