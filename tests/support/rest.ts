// REST calls to the edge as any HTTP client makes them, each answer checked against the OpenAPI
// document on the way back (openapi-contract.ts): the e2e tests call REST routes only through
// here, so no answer they see can drift from /openapi.json unnoticed.
import { answerViolations, assertAsDocumented, lineViolations } from "./openapi-contract.ts";

export interface RestAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body; undefined when empty. */
  body: any;
}

export interface RestRequest {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** A body sent as it is, e.g. malformed JSON or a stream (give its content-type in `headers`). */
  rawBody?: string | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Calls `method path` on the edge at `baseUrl`; throws if the answer is not as documented. */
export async function callRest(
  baseUrl: string,
  method: string,
  path: string,
  request: RestRequest = {},
): Promise<RestAnswer> {
  const response = await send(baseUrl, method, path, request);
  const body = checkRestAnswer(
    method,
    path,
    response.status,
    response.headers.get("content-type"),
    await response.text(),
  );
  return { status: response.status, headers: response.headers, body };
}

/**
 * Parses and checks an answer a test received some other way (a raw socket, node:http);
 * returns the parsed body. Throws if it is not JSON or not as documented.
 */
export function checkRestAnswer(
  method: string,
  path: string,
  status: number,
  contentType: string | null,
  text: string,
): unknown {
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    throw new Error(`${method} ${path} → ${status}: the body is not JSON: ${text.slice(0, 200)}`);
  }
  assertAsDocumented(`${method} ${path} → ${status}`, answerViolations({ method, path, status, contentType, body }));
  return body;
}

export interface RestStream {
  status: number;
  headers: Headers;
  /** The error, when the route refused before the stream began. */
  error: any;
  /** Each line of a newline-delimited JSON answer, parsed and checked, as it arrives. */
  lines: AsyncGenerator<any, void, undefined>;
  /** Stops reading and closes the stream. */
  cancel(): Promise<void>;
}

/**
 * Opens a streaming route (NDJSON). An error answered before the stream began is a JSON body,
 * checked like any other answer; the stream then has no lines.
 */
export async function openRestStream(
  baseUrl: string,
  method: string,
  path: string,
  request: RestRequest = {},
): Promise<RestStream> {
  const controller = new AbortController();
  const signal = request.signal ? AbortSignal.any([request.signal, controller.signal]) : controller.signal;
  const response = await send(baseUrl, method, path, { ...request, signal });
  const contentType = response.headers.get("content-type");
  const described = `${method} ${path} → ${response.status}`;
  if (!contentType?.startsWith("application/x-ndjson")) {
    return {
      status: response.status,
      headers: response.headers,
      error: checkRestAnswer(method, path, response.status, contentType, await response.text()),
      lines: (async function* () {})(),
      cancel: async () => {},
    };
  }
  assertAsDocumented(
    described,
    answerViolations({ method, path, status: response.status, contentType, body: undefined }),
  );
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  async function* lines() {
    let buffered = "";
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      buffered += read.value;
      const complete = buffered.split("\n");
      buffered = complete.pop()!;
      for (const text of complete) {
        const line = JSON.parse(text);
        assertAsDocumented(`${described}, the line ${text}`, lineViolations(method, path, line));
        yield line;
      }
    }
  }
  return {
    status: response.status,
    headers: response.headers,
    error: undefined,
    lines: lines(),
    async cancel() {
      await reader.cancel().catch(() => {});
      controller.abort();
    },
  };
}

function send(baseUrl: string, method: string, path: string, request: RestRequest): Promise<Response> {
  const json = request.body !== undefined;
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(json ? { "content-type": "application/json" } : {}),
      ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
      ...request.headers,
    },
    body: json ? JSON.stringify(request.body) : request.rawBody,
    signal: request.signal,
    // A stream body needs half duplex in Node's fetch.
    ...(request.rawBody instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);
}
