// Sends one request over HTTP/1.1 or cleartext HTTP/2 exactly as a case describes it and reads
// the whole answer — headers, body, trailers — within a time limit. Streams are read for a short
// window and then cancelled: an open stream is an answer, not a hang.
import * as http from "node:http";
import * as http2 from "node:http2";

export interface HttpCall {
  /** http://host:port */
  origin: string;
  httpVersion: "1.1" | "2";
  method: string;
  /** Path and query, already encoded as they go on the wire. */
  path: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** A streaming RPC: silence after the request is an open stream, not a missing answer. */
  streaming: boolean;
}

export interface Answer {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
  /** The answer was still coming when the read window closed, and was cancelled. */
  cutOff: boolean;
}

export type Exchange =
  | { kind: "answer"; answer: Answer; ms: number }
  /** Reset, refused or closed without a complete answer. */
  | { kind: "transportError"; error: string; ms: number }
  | { kind: "noAnswer"; ms: number }
  /** The HTTP client itself would not send this (header or path it considers invalid). */
  | { kind: "notSent"; error: string };

export interface ExchangeLimits {
  /** Longest wait for an answer's headers, and for the rest of a non-streaming answer. */
  answerWithinMs: number;
  /** How long a streaming answer is read before it is cancelled. */
  streamWindowMs: number;
}

/** Answers past this size are cut: nothing the fuzzer sends should earn one. */
const maxBodyBytes = 4 * 1024 * 1024;
const streamingTypes = /^application\/(grpc|connect\+|x-ndjson)/;

export class HttpExchanger {
  readonly #limits: ExchangeLimits;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  readonly #sessions = new Map<string, http2.ClientHttp2Session>();

  constructor(limits: ExchangeLimits) {
    this.#limits = limits;
  }

  send(call: HttpCall): Promise<Exchange> {
    return call.httpVersion === "2" ? this.#sendHttp2(call) : this.#sendHttp1(call);
  }

  close(): void {
    this.#agent.destroy();
    for (const session of this.#sessions.values()) session.destroy();
    this.#sessions.clear();
  }

  #sendHttp1(call: HttpCall): Promise<Exchange> {
    const started = performance.now();
    const url = new URL(call.origin);
    return new Promise((resolve) => {
      let request: http.ClientRequest;
      try {
        request = http.request({
          host: url.hostname,
          port: url.port,
          method: call.method,
          path: call.path,
          agent: this.#agent,
          headers: groupHeaders(call.headers),
        });
      } catch (error) {
        return resolve({ kind: "notSent", error: (error as Error).message });
      }
      const reading = new AnswerReader(this.#limits, call.streaming, started, resolve, () => request.destroy());
      request.on("response", (response) => {
        reading.headers(
          response.statusCode ?? 0,
          response.headers,
          streamingTypes.test(String(response.headers["content-type"] ?? "")),
        );
        response.on("data", (chunk: Buffer) => reading.data(chunk));
        response.on("end", () => {
          reading.trailers(response.trailers);
          reading.end();
        });
        response.on("error", (error) => reading.fail(error));
      });
      request.on("error", (error) => reading.fail(error));
      request.end(call.body);
    });
  }

  #sendHttp2(call: HttpCall): Promise<Exchange> {
    const started = performance.now();
    return new Promise((resolve) => {
      let stream: http2.ClientHttp2Stream;
      try {
        const headers: http2.OutgoingHttpHeaders = { ":method": call.method, ":path": call.path };
        for (const [name, values] of Object.entries(groupHeaders(call.headers)))
          headers[name] = values.length === 1 ? values[0] : values;
        stream = this.#session(call.origin).request(headers, { endStream: false });
      } catch (error) {
        return resolve({ kind: "notSent", error: (error as Error).message });
      }
      const reading = new AnswerReader(this.#limits, call.streaming, started, resolve, () =>
        stream.close(http2.constants.NGHTTP2_CANCEL),
      );
      stream.on("response", (headers) => {
        const contentType = String(headers["content-type"] ?? "");
        reading.headers(Number(headers[":status"]), headers, streamingTypes.test(contentType));
      });
      stream.on("data", (chunk: Buffer) => reading.data(chunk));
      stream.on("trailers", (trailers) => reading.trailers(trailers));
      stream.on("end", () => reading.end());
      stream.on("close", () =>
        stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR
          ? reading.fail(new Error(`stream reset with code ${stream.rstCode}`))
          : reading.end(),
      );
      stream.on("error", (error) => reading.fail(error));
      stream.end(call.body);
    });
  }

  #session(origin: string): http2.ClientHttp2Session {
    const existing = this.#sessions.get(origin);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const session = http2.connect(origin, { maxSessionMemory: 64 });
    const forget = () => {
      if (this.#sessions.get(origin) === session) this.#sessions.delete(origin);
    };
    session.on("error", forget);
    session.on("goaway", forget);
    session.on("close", forget);
    this.#sessions.set(origin, session);
    return session;
  }
}

/** Collects one answer and settles it once: complete, cut off, failed or timed out. */
class AnswerReader {
  #status = 0;
  #headers: Record<string, string> | undefined;
  #trailers: Record<string, string> = {};
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #settled = false;
  #timer: NodeJS.Timeout;
  readonly #started: number;
  readonly #limits: ExchangeLimits;
  readonly #streaming: boolean;
  readonly #resolve: (exchange: Exchange) => void;
  readonly #cancel: () => void;

  constructor(
    limits: ExchangeLimits,
    streaming: boolean,
    started: number,
    resolve: (exchange: Exchange) => void,
    cancel: () => void,
  ) {
    this.#limits = limits;
    this.#streaming = streaming;
    this.#started = started;
    this.#resolve = resolve;
    this.#cancel = cancel;
    // An open stream with nothing to say yet is an answer too: no point waiting long for it.
    this.#timer = setTimeout(
      () => this.#expire(),
      streaming ? Math.min(limits.answerWithinMs, limits.streamWindowMs * 5) : limits.answerWithinMs,
    );
  }

  headers(
    status: number,
    headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders,
    streamingAnswer: boolean,
  ): void {
    this.#status = status;
    this.#headers = flatten(headers);
    if (streamingAnswer && this.#streaming) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#cut(), this.#limits.streamWindowMs);
    }
  }

  data(chunk: Buffer): void {
    if (this.#size > maxBodyBytes) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size > maxBodyBytes) this.#cut();
  }

  trailers(trailers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): void {
    this.#trailers = flatten(trailers);
  }

  end(): void {
    if (this.#headers) this.#settle({ kind: "answer", answer: this.#answer(false), ms: this.#ms() });
    else this.#settle({ kind: "transportError", error: "closed before an answer", ms: this.#ms() });
  }

  fail(error: Error): void {
    // An answer that arrived whole before the connection went is still that answer.
    if (this.#headers && this.#size > 0) {
      this.end();
      return;
    }
    this.#settle({ kind: "transportError", error: error.message, ms: this.#ms() });
  }

  #expire(): void {
    if (this.#streaming) {
      this.#cut();
      return;
    }
    if (this.#settled) return;
    this.#cancel();
    this.#settle({ kind: "noAnswer", ms: this.#ms() });
  }

  #cut(): void {
    if (this.#settled) return;
    this.#cancel();
    this.#settle(
      this.#headers || this.#streaming
        ? { kind: "answer", answer: this.#answer(true), ms: this.#ms() }
        : { kind: "noAnswer", ms: this.#ms() },
    );
  }

  #answer(cutOff: boolean): Answer {
    return {
      status: this.#status,
      headers: this.#headers ?? {},
      trailers: this.#trailers,
      body: Buffer.concat(this.#chunks),
      cutOff,
    };
  }

  #ms(): number {
    return performance.now() - this.#started;
  }

  #settle(exchange: Exchange): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#resolve(exchange);
  }
}

function groupHeaders(headers: Array<[string, string]>): Record<string, string[]> {
  const grouped: Record<string, string[]> = {};
  for (const [name, value] of headers) (grouped[name.toLowerCase()] ??= []).push(value);
  return grouped;
}

function flatten(headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(":")) continue;
    flat[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return flat;
}
