// Serves one REST request: reads the JSON body within the RPC's limit, builds the request
// message, calls the backend, and answers proto3 JSON — or, for a server stream,
// newline-delimited JSON, one `{"result": …}` per message and `{"error": …}` if it fails.
import type { ServerResponse } from "node:http";
import type { JsonValue, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type CallOptions } from "@connectrpc/connect";
import { errorBody, writeError } from "../errors.ts";
import { isBodyTooLarge, readBody } from "../request-body.ts";
import type { EdgeRequest, EdgeResponse } from "../server.ts";
import type { RouteMatch } from "./routes.ts";
import { requestFromRest, responseToJson } from "./transcode.ts";

type Call = (request: unknown, options: CallOptions) => Promise<unknown> | AsyncIterable<unknown>;

export interface RestCall {
  match: RouteMatch;
  url: URL;
  maxBodyBytes: number;
  backend: Call;
  options: CallOptions;
  describeError: (error: unknown) => ConnectError;
}

export async function serveRest(req: EdgeRequest, res: EdgeResponse, call: RestCall): Promise<void> {
  const response = res as ServerResponse;
  const method = call.match.route.rpc;
  try {
    const body = await readJsonBody(req, call.maxBodyBytes);
    const request = requestFromRest(call.match, call.url.searchParams, body);
    if (method.methodKind === "server_streaming") {
      await streamNdjson(response, call, request);
      return;
    }
    const output = (await call.backend(request, call.options)) as Message;
    const json = Buffer.from(JSON.stringify(responseToJson(method.output, output)));
    response.writeHead(200, { "content-type": "application/json", "content-length": json.length });
    response.end(json);
  } catch (error) {
    if (response.headersSent) return void response.destroy();
    writeError(req, res, call.describeError(error), isBodyTooLarge(error) ? 413 : undefined);
  }
}

/** How long a stream may take to fail before its answer is committed to 200. */
const firstFailureWindowMs = 250;

async function streamNdjson(response: ServerResponse, call: RestCall, request: unknown): Promise<void> {
  const method = call.match.route.rpc;
  const iterator = (call.backend(request, call.options) as AsyncIterable<Message>)[Symbol.asyncIterator]();
  // A request the backend refuses at once (bad token, invalid resume token) gets its own HTTP
  // status; a stream with nothing to say yet still answers promptly, so clients see it open.
  const pending = iterator.next();
  let timer: NodeJS.Timeout | undefined;
  const early = await Promise.race([
    pending,
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), firstFailureWindowMs))),
  ]).finally(() => clearTimeout(timer));
  response.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
  response.flushHeaders();
  try {
    for (let next = early ?? (await pending); !next.done; next = await iterator.next()) {
      response.write(`${JSON.stringify({ result: responseToJson(method.output, next.value) })}\n`);
    }
  } catch (error) {
    response.write(`${JSON.stringify({ error: errorBody(call.describeError(error)) })}\n`);
  }
  response.end();
}

/** The body as JSON, or undefined when empty. */
async function readJsonBody(req: EdgeRequest, limit: number): Promise<JsonValue | undefined> {
  const body = await readBody(req, limit);
  if (body.length === 0) return undefined;
  const contentType = String(req.headers["content-type"] ?? "application/json");
  if (!/^application\/json\b/.test(contentType)) {
    throw new ConnectError(
      `send the body as JSON (content-type: application/json), not ${contentType}`,
      Code.InvalidArgument,
    );
  }
  try {
    return JSON.parse(body.toString("utf8")) as JsonValue;
  } catch {
    throw new ConnectError("the request body is not valid JSON", Code.InvalidArgument);
  }
}
