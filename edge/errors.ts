// Errors the edge answers itself (rate limits, oversized bodies, bad tokens, REST failures) in
// the protocol the client spoke, so every client library reads them as it reads a backend's:
// gRPC and gRPC-Web get a trailers-only status, Connect streaming an end-stream message, and
// Connect unary and REST the Connect JSON error `{code, message, details}` with its HTTP status.
// In JSON, every detail type the edge knows has a readable `debug` copy, and the ErrorInfo
// reason is also a top-level `reason`, so a REST client can branch without decoding anything.
import type { ServerResponse } from "node:http";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, endStreamFlag, errorToJson } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { registry as detailTypes } from "./error-detail-types.ts";
import { errorInfoOf } from "../services/kit/error-info.ts";
import type { Logger } from "../services/kit/log.ts";
import type { EdgeRequest, EdgeResponse } from "./server.ts";

/** Codes whose backend messages may carry internals (SQL, addresses, stacks): never shown. */
const opaqueCodes: ReadonlyMap<Code, string> = new Map([
  [Code.Unknown, "the request failed"],
  [Code.Internal, "the request failed"],
  [Code.DataLoss, "the request failed"],
  [Code.Unavailable, "the service is temporarily unavailable, retry later"],
  [Code.DeadlineExceeded, "the request took too long"],
]);

/**
 * The error as a client may see it: messages of internal failures are replaced by a plain one
 * naming the request id (the original goes to the log); others pass, as the backends wrote them
 * for callers. Details (field violations, retry info) are kept.
 */
export function publicError(error: unknown, requestId: string, log: Logger): ConnectError {
  const connectError = ConnectError.from(error);
  const plain = opaqueCodes.get(connectError.code);
  if (plain === undefined) return connectError;
  log.warn({ err: connectError, requestId }, "backend call failed");
  const shown = new ConnectError(`${plain} (request ${requestId})`, connectError.code, connectError.metadata);
  shown.details = connectError.details;
  return shown;
}

/**
 * The Connect JSON error body, plus `reason` when the error has a Bazaar ErrorInfo; known detail
 * types carry a readable `debug` copy.
 */
export function errorBody(error: ConnectError): object {
  const body = errorToJson(withDecodedDetails(error), { registry: detailTypes });
  const reason = errorInfoOf(error)?.reason;
  return reason === undefined ? body : { ...body, reason };
}

/**
 * Details a backend sent arrive as bytes (type and value), which errorToJson passes on without
 * `debug`: the ones the edge knows are decoded, so they get it as the edge's own do.
 */
function withDecodedDetails(error: ConnectError): ConnectError {
  if (error.details.every((detail) => "desc" in detail)) return error;
  const copy = new ConnectError(error.rawMessage, error.code);
  copy.details = error.details.map((detail) => {
    if ("desc" in detail) return detail;
    const desc = detailTypes.getMessage(detail.type);
    if (!desc) return detail;
    try {
      return { desc, value: fromBinary(desc, detail.value) };
    } catch {
      return detail;
    }
  });
  return copy;
}

/** Seconds a rate-limited client should wait, when the error says. */
function retryAfterOf(error: ConnectError): string | undefined {
  return error.metadata.get("retry-after") ?? undefined;
}

/**
 * Writes `error` as the answer to `req` in the request's protocol. `httpStatus` overrides the
 * code's status for REST and Connect unary (413 for a body over the limit).
 */
export function writeError(req: EdgeRequest, res: EdgeResponse, error: ConnectError, httpStatus?: number): void {
  const response = res as ServerResponse;
  const contentType = String(req.headers["content-type"] ?? "");
  const retryAfter = retryAfterOf(error);
  if (retryAfter) response.setHeader("retry-after", retryAfter);
  if (contentType.startsWith("application/grpc")) {
    // Trailers-only: the status travels in the headers (gRPC and gRPC-Web read it there).
    const status = setTrailerStatus(new Headers(), error);
    response.writeHead(200, { "content-type": contentType.split(";")[0]!, ...Object.fromEntries(status) });
    response.end();
    return;
  }
  if (contentType.startsWith("application/connect+")) {
    const json = Buffer.from(JSON.stringify({ error: errorBody(error) }));
    const envelope = Buffer.alloc(5 + json.length);
    envelope.writeUInt8(endStreamFlag, 0);
    envelope.writeUInt32BE(json.length, 1);
    json.copy(envelope, 5);
    response.writeHead(200, { "content-type": contentType.split(";")[0]! });
    response.end(envelope);
    return;
  }
  const body = Buffer.from(JSON.stringify(errorBody(error)));
  // REST uses Connect's code → HTTP status mapping.
  response.writeHead(httpStatus ?? codeToHttpStatus(error.code), {
    "content-type": "application/json",
    "content-length": body.length,
    "cache-control": "no-store",
  });
  response.end(body);
}
