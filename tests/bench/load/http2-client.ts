// The bench's own HTTP/2 client ("node driver" in the results): bare node:http2 streams with
// pre-encoded bodies, no Connect or grpc-js client on top, so a call costs the driver as little as
// Node allows. It exists for what h2load cannot do: read grpc-status from trailers, and send a
// different body or token per request (many users, one idempotency key per order).
import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";

/** A request gives up after this long, so one lost answer cannot stall a closed loop. */
const requestTimeoutMs = 30_000;
/**
 * Streams in flight by start time, swept once a second: a timer per stream (stream.setTimeout)
 * costs about a quarter of the driver's CPU per request.
 */
const inFlight = new Map<ClientHttp2Stream, number>();
setInterval(() => {
  const cutoff = performance.now() - requestTimeoutMs;
  // Insertion order is start order: the first stream young enough ends the sweep.
  for (const [stream, started] of inFlight) {
    if (started > cutoff) break;
    stream.close(constants.NGHTTP2_CANCEL);
  }
}, 1_000).unref();

/**
 * Several connections to one origin, used round-robin by worker number: a Node client and server
 * over a single HTTP/2 connection run in lockstep (NOTES.md), and a server spreads connections,
 * not streams, over its event loop's work.
 */
export class Http2Connections {
  readonly #origin: string;
  readonly #sessions: Array<ClientHttp2Session | undefined>;

  constructor(origin: string, count: number) {
    this.#origin = origin;
    this.#sessions = Array.from({ length: Math.max(1, count) }, () => undefined);
  }

  /** The worker's connection, opened again if the server closed it (the edge drops idle ones). */
  for(worker: number): ClientHttp2Session {
    const slot = worker % this.#sessions.length;
    let session = this.#sessions[slot];
    if (!session || session.closed || session.destroyed) {
      session = connect(this.#origin);
      // A failed connection shows up as each request's error; unhandled it would end the process.
      session.on("error", () => {});
      this.#sessions[slot] = session;
    }
    return session;
  }

  async close(): Promise<void> {
    const open = this.#sessions.filter(
      (session) => session && !session.closed && !session.destroyed,
    ) as ClientHttp2Session[];
    await Promise.all(open.map((session) => new Promise<void>((resolve) => session.close(resolve))));
  }
}

/** A unary gRPC call; an error unless the answer carries grpc-status 0. */
export function grpcUnary(
  session: ClientHttp2Session,
  path: string,
  frame: Uint8Array,
  headers: OutgoingHttpHeaders = {},
): Promise<string | undefined> {
  return exchange(
    session,
    { ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers },
    frame,
    false,
    (head, trailers) => {
      // A trailers-only answer (most errors) puts grpc-status in the headers.
      const status = trailers["grpc-status"] ?? head["grpc-status"];
      return status === "0" ? undefined : `grpc-status ${status ?? `missing (http ${head[":status"]})`}`;
    },
  );
}

/**
 * A unary Connect call with a JSON body; an error unless HTTP 200 and, when given, `check`
 * accepts the answer's body (Connect puts errors in the HTTP status, so 200 is success).
 */
export function connectUnary(
  session: ClientHttp2Session,
  path: string,
  body: string,
  headers: OutgoingHttpHeaders = {},
  check?: (body: string) => string | undefined,
): Promise<string | undefined> {
  const request = { ":method": "POST", ":path": path, "content-type": "application/json", ...headers };
  return exchange(session, request, Buffer.from(body), check !== undefined, (head, _trailers, answer) => {
    if (Number(head[":status"]) !== 200) return `http ${head[":status"]}`;
    return check?.(answer);
  });
}

function exchange(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body: Uint8Array,
  keepBody: boolean,
  judge: (head: IncomingHttpHeaders, trailers: IncomingHttpHeaders, body: string) => string | undefined,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let stream: ReturnType<typeof session.request>;
    try {
      stream = session.request(headers);
    } catch (error) {
      resolve((error as { code?: string }).code ?? "request refused");
      return;
    }
    inFlight.set(stream, performance.now());
    stream.on("response", (received) => (head = received));
    stream.on("trailers", (received) => (trailers = received));
    stream.on("data", (chunk: Buffer) => keepBody && chunks.push(chunk));
    stream.on("error", () => {});
    stream.on("close", () => {
      inFlight.delete(stream);
      if (stream.rstCode !== constants.NGHTTP2_NO_ERROR && head[":status"] === undefined) {
        resolve(stream.rstCode === constants.NGHTTP2_CANCEL ? "timeout" : `stream reset ${stream.rstCode}`);
        return;
      }
      resolve(judge(head, trailers, keepBody ? Buffer.concat(chunks).toString("utf8") : ""));
    });
    stream.end(body);
  });
}
