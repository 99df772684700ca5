// A lean server for the commonest call a browser makes: a Connect unary request, JSON or binary,
// by POST or GET, uncompressed. The edge answers those itself — with the public cache in front
// for anonymous catalog reads — instead of through connect-node's general adapter, whose
// per-call machinery (AbortControllers, async iterables, header objects) costs more than the
// forwarding itself. Anything else (streams, gRPC, gRPC-Web, compression) takes the adapter.
import type { ServerResponse } from "node:http";
import { fromBinary, fromJson, toBinary, toJsonString, type DescMethod, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type CallOptions } from "@connectrpc/connect";
import { parseContentType } from "@connectrpc/connect/protocol-connect";
import { freshReadHeader } from "../services/kit/fresh-reads.ts";
import { countLookup } from "./cache-metrics.ts";
import { writeError } from "./errors.ts";
import { readBody } from "./request-body.ts";
import type { PublicCache } from "./public-cache.ts";
import type { EdgeRequest, EdgeResponse } from "./server.ts";

type Call = (request: unknown, options: CallOptions) => Promise<unknown> | AsyncIterable<unknown>;

export type UnaryEncoding = "json" | "proto";

/**
 * Content codings the adapter decodes (connect-node's gzip and br; identity is none). The edge
 * refuses any other itself: the adapter's answer, unimplemented, is HTTP 501, which reads as a
 * server fault, where HTTP has 415 for a content coding the server does not take.
 */
const adapterCodings: ReadonlySet<string> = new Set(["gzip", "br", "identity"]);

/** The encoding of a plain Connect unary request, or undefined when the adapter must serve it. */
export function plainConnectUnary(req: EdgeRequest, query: URLSearchParams | undefined): UnaryEncoding | undefined {
  if (req.method === "POST") {
    const coding = req.headers["content-encoding"];
    if ((coding !== undefined && adapterCodings.has(coding)) || req.headers["connect-content-encoding"] !== undefined)
      return undefined;
    // Exactly the content types connect-node serves as Connect unary (case-insensitive).
    const type = parseContentType(req.headers["content-type"] ?? null);
    if (!type || type.stream) return undefined;
    return type.binary ? "proto" : "json";
  }
  const coding = query?.get("compression");
  if (req.method === "GET" && query && !(coding != null && adapterCodings.has(coding))) {
    const encoding = query.get("encoding");
    if (encoding === "json" || encoding === "proto") return encoding;
  }
  return undefined;
}

/** The content coding of a request this path serves, which it cannot decode. */
function unsupportedCoding(req: EdgeRequest, query: URLSearchParams | undefined): string | undefined {
  const coding = query ? query.get("compression") : req.headers["content-encoding"];
  return coding ?? undefined;
}

export interface UnaryCall {
  method: DescMethod;
  encoding: UnaryEncoding;
  query: URLSearchParams | undefined;
  maxBodyBytes: number;
  backend: Call;
  /** Backend call options given the client's deadline (connect-timeout-ms). */
  optionsFor(clientTimeoutMs: number | undefined): CallOptions;
  describeError(error: unknown): ConnectError;
  /**
   * Set for public reads by anonymous visitors and customers: answers are looked up and kept under
   * the request; `productIdsOf` names the products an answer is about (none: catalog-wide).
   */
  cache: { store: PublicCache; path: string; productIdsOf?: (request: unknown) => readonly string[] } | undefined;
  cacheControl: string;
}

const contentTypes = { json: "application/json", proto: "application/proto" } as const;

export async function serveConnectUnary(req: EdgeRequest, res: EdgeResponse, call: UnaryCall): Promise<void> {
  const response = res as ServerResponse;
  const coding = unsupportedCoding(req, call.query);
  if (coding !== undefined) {
    const refusal = new ConnectError(
      `content coding "${coding}" is not supported: send gzip, br or none`,
      Code.Unimplemented,
    );
    return writeError(req, res, call.describeError(refusal), 415);
  }
  try {
    const body = call.query ? messageFromQuery(call.query, call.encoding) : await readBody(req, call.maxBodyBytes);
    const key = call.cache && `${call.cache.path}\n${call.encoding}\n${body.toString("latin1")}`;
    const cached = key === undefined ? undefined : call.cache!.store.get(key);
    if (key !== undefined) countLookup(cached !== undefined);
    if (cached) return send(response, cached.contentType, cached.body, call.cacheControl);

    const generation = call.cache?.store.generation ?? 0;
    const request = decode(call.method, call.encoding, body);
    let options = call.optionsFor(timeoutOf(req));
    if (key !== undefined) {
      // Kept for others: read from the database, not from a service's own read cache.
      const headers = new Headers(options.headers);
      headers.set(freshReadHeader, "1");
      options = { ...options, headers };
    }
    const output = (await call.backend(request, options)) as Message;
    const encoded =
      call.encoding === "json"
        ? Buffer.from(toJsonString(call.method.output, output))
        : Buffer.from(toBinary(call.method.output, output));
    const contentType = contentTypes[call.encoding];
    if (key !== undefined) {
      const productIds = call.cache!.productIdsOf?.(request);
      call.cache!.store.set(key, { contentType, body: encoded }, { generation, productIds });
    }
    send(response, contentType, encoded, call.cacheControl);
  } catch (error) {
    if (response.headersSent) return void response.destroy();
    writeError(req, res, call.describeError(error));
  }
}

function send(response: ServerResponse, contentType: string, body: Buffer, cacheControl: string): void {
  response.writeHead(200, {
    "content-type": contentType,
    "content-length": body.length,
    "cache-control": cacheControl,
  });
  response.end(body);
}

function decode(method: DescMethod, encoding: UnaryEncoding, body: Buffer): Message {
  try {
    return encoding === "json"
      ? fromJson(method.input, body.length === 0 ? {} : JSON.parse(body.toString("utf8")))
      : fromBinary(method.input, body);
  } catch (error) {
    throw new ConnectError(
      `cannot decode the ${method.input.typeName} request: ${(error as Error).message}`,
      Code.InvalidArgument,
    );
  }
}

function messageFromQuery(query: URLSearchParams, encoding: UnaryEncoding): Buffer {
  const message = query.get("message") ?? "";
  return query.get("base64") === "1"
    ? Buffer.from(message, "base64url")
    : Buffer.from(message, encoding === "json" ? "utf8" : "latin1");
}

function timeoutOf(req: EdgeRequest): number | undefined {
  const header = req.headers["connect-timeout-ms"];
  if (typeof header !== "string" || !/^\d{1,10}$/.test(header)) return undefined;
  return Number(header);
}
