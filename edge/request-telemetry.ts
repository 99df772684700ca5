// The span and the metrics of each RPC request the edge answers, whatever protocol it came in:
// a SERVER span (child of the client's traceparent, parent of the backend calls made for the
// request) and the edge's handled/handling series by protocol, method and code. Both are
// finished when the answer is complete or the client is gone.
import type { ServerResponse } from "node:http";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus } from "@connectrpc/connect/protocol-connect";
import type { Attributes } from "@opentelemetry/api";
import { edgeRecorder, type RpcRecorder } from "../services/kit/metrics.ts";
import { endRpcSpan, runInSpan, startServerSpan, tracingOn } from "../services/kit/tracing.ts";
import type { HttpRoute } from "./http-routes.ts";
import type { EdgeRequest, EdgeResponse } from "./server.ts";

export type EdgeProtocol = "connect" | "grpc" | "grpc-web" | "rest";

/** The protocol of an RPC request (not REST) by its content type. */
export function rpcProtocolOf(req: EdgeRequest): EdgeProtocol {
  const contentType = String(req.headers["content-type"] ?? "");
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** OpenTelemetry's rpc.system; gRPC-Web is gRPC in other framing; REST has none. */
const rpcSystems: Record<EdgeProtocol, string | undefined> = {
  connect: "connect_rpc",
  grpc: "grpc",
  "grpc-web": "grpc",
  rest: undefined,
};

export interface RequestTelemetry {
  /** Runs the request's work in its span (with tracing off, under its traceparent). */
  run<T>(work: () => T): T;
  /** Notes the error the request is answered with; returns it. */
  failed(error: ConnectError): ConnectError;
}

interface RequestShape {
  spanName: string;
  attributes: Attributes;
  calls: RpcRecorder;
}

const shapes = new WeakMap<DescMethod | HttpRoute, Map<EdgeProtocol, RequestShape>>();

/** Span name, attributes and series of requests of one protocol to one RPC or route, made once. */
function shapeOf(protocol: EdgeProtocol, method: DescMethod, route: HttpRoute | undefined): RequestShape {
  const owner = route ?? method;
  let byProtocol = shapes.get(owner);
  if (!byProtocol) shapes.set(owner, (byProtocol = new Map()));
  let shape = byProtocol.get(protocol);
  if (!shape) {
    const rpc = { "rpc.service": method.parent.typeName, "rpc.method": method.name, "bazaar.edge.protocol": protocol };
    const traced = route
      ? {
          spanName: `${route.httpMethod.toUpperCase()} ${route.path}`,
          attributes: { ...rpc, "http.route": route.path },
        }
      : {
          spanName: `${method.parent.typeName}/${method.name}`,
          attributes: { ...rpc, "rpc.system": rpcSystems[protocol] },
        };
    shape = { ...traced, calls: edgeRecorder(protocol, method) };
    byProtocol.set(protocol, shape);
  }
  return shape;
}

/** Starts observing a request for `method` (reached by `route` for REST). */
export function observeRequest(
  req: EdgeRequest,
  res: EdgeResponse,
  protocol: EdgeProtocol,
  method: DescMethod,
  route?: HttpRoute,
): RequestTelemetry {
  const started = performance.now();
  const shape = shapeOf(protocol, method, route);
  shape.calls.started();
  const given = req.headers.traceparent;
  const traceParent = typeof given === "string" ? given : undefined;
  const span = tracingOn() ? startServerSpan(shape.spanName, shape.attributes, traceParent) : undefined;
  span?.setAttribute("http.request.method", req.method ?? "GET");
  let code: number | undefined;
  const response = res as ServerResponse;
  response.once("close", () => {
    const finalCode = code ?? codeOfAnswer(response);
    shape.calls.record(finalCode, (performance.now() - started) / 1000);
    span?.setAttribute("http.response.status_code", response.statusCode);
    endRpcSpan(span, finalCode, "server", rpcSystems[protocol]);
  });
  return {
    run: (work) => runInSpan(span, traceParent, work),
    failed(error) {
      code = error.code;
      return error;
    },
  };
}

/**
 * The code of an answer no error was noted for: what connect-node's adapter answered on its own
 * (a message it could not parse, a body over the limit), or cancelled when the client left first.
 */
function codeOfAnswer(response: ServerResponse): number {
  if (!response.writableEnded) return Code.Canceled;
  // gRPC and gRPC-Web errors before any message are trailers-only: the status is a header.
  const grpcStatus = response.getHeader("grpc-status");
  if (grpcStatus !== undefined) return Number(grpcStatus);
  return response.statusCode >= 400 ? codeFromHttpStatus(response.statusCode) : 0;
}
