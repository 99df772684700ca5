// CORS for browser apps on other origins: only the configured origins are answered with CORS
// headers (the exact origin echoed, never `*`, since requests carry bearer tokens), with the
// headers Connect, gRPC-Web and our own (authorization, request id, trace) need.
import type { ServerResponse } from "node:http";
import { cors as connectCors } from "@connectrpc/connect";
import type { EdgeRequest, EdgeResponse } from "./server.ts";

const allowedMethods = [...new Set([...connectCors.allowedMethods, "PATCH", "DELETE", "PUT"])].join(", ");
const allowedHeaders = [
  ...connectCors.allowedHeaders,
  "Authorization",
  "Traceparent",
  "Tracestate",
  "X-Request-Id",
].join(", ");
const exposedHeaders = [...connectCors.exposedHeaders, "Retry-After", "X-Request-Id"].join(", ");

export interface Cors {
  /** Answers a preflight (true), or adds CORS headers to the coming response (false). */
  handle(req: EdgeRequest, res: EdgeResponse): boolean;
}

export function createCors(allowedOrigins: readonly string[]): Cors {
  const origins = new Set(allowedOrigins);
  return {
    handle(req, res) {
      const response = res as ServerResponse;
      const origin = req.headers.origin;
      const allowed = typeof origin === "string" && origins.has(origin);
      const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
      // Answers differ by Origin, so caches must keep them apart.
      response.setHeader("vary", "Origin");
      if (allowed) response.setHeader("access-control-allow-origin", origin);
      if (!preflight) {
        if (allowed) response.setHeader("access-control-expose-headers", exposedHeaders);
        return false;
      }
      if (allowed) {
        response.setHeader("access-control-allow-methods", allowedMethods);
        response.setHeader("access-control-allow-headers", allowedHeaders);
        response.setHeader("access-control-max-age", "7200");
      }
      response.writeHead(204);
      response.end();
      return true;
    },
  };
}
