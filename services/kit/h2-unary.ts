// Unary gRPC calls on node:http2 itself. grpc-js spends ~120 µs of CPU on each call (NOTES.md:
// filter stacks, Metadata objects, a load-balancing call per call) and a share of every
// process's garbage; a checkout makes five calls between processes and the edge one per request.
// A unary call needs little of that: one HTTP/2 stream, a length-prefixed message each way, the
// status in the trailers. What the mesh relied on grpc-js for is kept here: calls spread over
// every replica an address names (an IP list, or a DNS name re-resolved as replicas come and go),
// several connections per replica, calls that wait for a connection until their deadline
// (waitForReady), reconnect backoff per connection, and keepalive pings that drop a dead peer.
// Server streams (the watch RPCs) stay on grpc-js.
import { lookup } from "node:dns/promises";
import http2 from "node:http2";
import { isIP } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";

export interface UnaryAnswer {
  header: Headers;
  message: Uint8Array;
  trailer: Headers;
}

export interface UnaryChannel {
  /** One call; rejects with a ConnectError carrying the peer's status, details and trailers. */
  call(
    path: string,
    request: Uint8Array,
    header: Headers,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<UnaryAnswer>;
  close(): void;
}

export interface UnaryChannelOptions {
  /** HTTP/2 connections per replica: one Node client and server over one connection run in lockstep. */
  connections?: number;
  maxReceiveBytes?: number;
}

const initialBackoffMs = 200;
const maxBackoffMs = 2_000;
const keepaliveEveryMs = 30_000;
const keepaliveTimeoutMs = 20_000;
/** A connection whose peer has not spoken HTTP/2 by then is dropped and tried again later. */
const handshakeTimeoutMs = 10_000;
/** How long a DNS answer is used before it is asked again (sooner when every replica fails). */
const resolveEveryMs = 30_000;
const minResolveGapMs = 1_000;
/** Headers a caller may not set: the call's own framing, and HTTP/1.1's connection headers. */
const ownHeaders = new Set([
  "content-type",
  "te",
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);
/** What session.request throws when the connection can take no more streams: nothing was sent. */
const sessionGoneErrors = new Set([
  "ERR_HTTP2_INVALID_SESSION",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_OUT_OF_STREAMS",
]);

/** One connection to one replica, reconnected on demand with backoff after a failure. */
interface Lane {
  authority: string;
  session?: http2.ClientHttp2Session;
  ready: boolean;
  /** No connect attempt before this (performance.now()), after a failed one. */
  retryAt: number;
  backoffMs: number;
}

export function createUnaryChannel(address: string, options: UnaryChannelOptions = {}): UnaryChannel {
  const connections = Math.max(1, options.connections ?? 1);
  const maxReceiveBytes = options.maxReceiveBytes ?? 4 * 1024 * 1024;
  const target = parseTarget(address);
  let lanes: Lane[] = [];
  let resolvedAt = Number.NEGATIVE_INFINITY;
  let resolving: Promise<void> | undefined;
  let next = 0;
  let closed = false;
  /** Calls waiting for any lane to become ready. */
  const waiters = new Set<() => void>();
  let retryTimer: NodeJS.Timeout | undefined;

  const setAuthorities = (authorities: string[]) => {
    const kept = lanes.filter((lane) => authorities.includes(lane.authority));
    for (const lane of lanes) if (!kept.includes(lane)) lane.session?.close();
    const fresh = authorities.flatMap((authority) => {
      const have = kept.filter((lane) => lane.authority === authority).length;
      return Array.from({ length: Math.max(0, connections - have) }, () => newLane(authority));
    });
    lanes = [...kept, ...fresh];
  };
  if (target.kind === "static") setAuthorities(target.authorities);

  const resolve = () => {
    if (target.kind === "static" || resolving) return resolving;
    resolving = lookup(target.host, { all: true })
      .then(
        (found) => setAuthorities(found.map(({ address: ip, family }) => authorityOf(ip, family, target.port))),
        () => undefined, // Kept as they were: a DNS hiccup is no reason to drop live connections.
      )
      .finally(() => {
        resolvedAt = performance.now();
        resolving = undefined;
      });
    return resolving;
  };

  const wakeWaiters = () => {
    for (const wake of [...waiters]) wake();
  };

  const connect = (lane: Lane) => {
    if (lane.session || closed) return;
    const session = http2.connect(`http://${lane.authority}`);
    lane.session = session;
    // Ready once the peer has spoken HTTP/2 (its SETTINGS), not when TCP connects: something that
    // accepts connections and never answers (a wedged process, a port taken by another program)
    // would otherwise be given calls that only end at their deadlines.
    const handshake = setTimeout(
      () => session.destroy(new Error("no HTTP/2 handshake from the peer")),
      handshakeTimeoutMs,
    );
    handshake.unref();
    session.once("remoteSettings", () => {
      clearTimeout(handshake);
      lane.ready = true;
      lane.backoffMs = initialBackoffMs;
      wakeWaiters();
    });
    session.once("close", () => clearTimeout(handshake));
    const gone = () => {
      if (lane.session !== session) return;
      const wasReady = lane.ready;
      lane.session = undefined;
      lane.ready = false;
      if (!wasReady) {
        // Never connected: wait before the next attempt, longer each time, as grpc-js does.
        lane.retryAt = performance.now() + lane.backoffMs;
        lane.backoffMs = Math.min(maxBackoffMs, lane.backoffMs * 1.6);
        if (target.kind === "dns" && performance.now() - resolvedAt > minResolveGapMs) void resolve();
      }
      if (waiters.size > 0) scheduleRetry();
    };
    // A GOAWAY (the peer shutting down) ends new calls on it; those under way finish.
    session.once("goaway", () => {
      lane.ready = false;
      if (lane.session === session) lane.session = undefined;
      session.close();
    });
    session.once("close", gone);
    session.on("error", gone);
    keepAlive(session);
  };

  /** While calls wait, tries again each lane whose backoff has run out. */
  const scheduleRetry = () => {
    if (retryTimer || closed) return;
    const now = performance.now();
    const soonest = Math.min(...lanes.filter((lane) => !lane.session).map((lane) => lane.retryAt), now + maxBackoffMs);
    retryTimer = setTimeout(
      () => {
        retryTimer = undefined;
        if (waiters.size === 0) return;
        connectDue();
        wakeWaiters();
      },
      Math.max(0, soonest - now),
    );
    retryTimer.unref();
  };

  const connectDue = () => {
    const now = performance.now();
    for (const lane of lanes) if (!lane.session && lane.retryAt <= now) connect(lane);
  };

  /** A ready connection, in turn over the ready ones; waits for one until `deadline`. */
  const readySession = async (deadline: number, signal?: AbortSignal): Promise<http2.ClientHttp2Session> => {
    for (;;) {
      if (closed) throw new ConnectError("the channel is closed", Code.Unavailable);
      const sinceResolved = performance.now() - resolvedAt;
      const noReplicas = lanes.length === 0 && sinceResolved > minResolveGapMs;
      if (target.kind === "dns" && (sinceResolved > resolveEveryMs || noReplicas)) await resolve();
      for (let tried = 0; tried < lanes.length; tried++) {
        const lane = lanes[next++ % lanes.length]!;
        if (lane.ready && lane.session && !lane.session.closed && !lane.session.destroyed) return lane.session;
      }
      // None ready: start every connection that may try now, and wait for the first to come up.
      connectDue();
      const left = deadline - performance.now();
      if (left <= 0) throw new ConnectError("deadline exceeded while waiting for a connection", Code.DeadlineExceeded);
      if (signal?.aborted) throw new ConnectError("the call was cancelled", Code.Canceled);
      await new Promise<void>((proceed) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          signal?.removeEventListener("abort", done);
          proceed();
        };
        const timer = setTimeout(done, left);
        waiters.add(done);
        signal?.addEventListener("abort", done, { once: true });
        scheduleRetry();
      });
    }
  };

  return {
    async call(path, request, header, timeoutMs, signal) {
      const deadline = performance.now() + timeoutMs;
      // A stream the peer refused, or a connection that closed under the request before it was
      // sent, did nothing there: it is sent again, as grpc-js does (transparent retry).
      for (let attempt = 1; ; attempt++) {
        const session = await readySession(deadline, signal);
        const outcome = await sendOn(session, path, request, header, deadline, signal, maxReceiveBytes);
        if (outcome.kind === "answer") return outcome.answer;
        if (outcome.kind === "not-sent" && attempt < 3) continue;
        throw outcome.error;
      }
    },
    close() {
      closed = true;
      clearTimeout(retryTimer);
      wakeWaiters();
      for (const lane of lanes) lane.session?.close();
    },
  };
}

type Outcome = { kind: "answer"; answer: UnaryAnswer } | { kind: "not-sent" | "failed"; error: ConnectError };

function sendOn(
  session: http2.ClientHttp2Session,
  path: string,
  request: Uint8Array,
  header: Headers,
  deadline: number,
  signal: AbortSignal | undefined,
  maxReceiveBytes: number,
): Promise<Outcome> {
  const left = Math.max(1, Math.ceil(deadline - performance.now()));
  const outgoing: http2.OutgoingHttpHeaders = {
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    "grpc-timeout": `${left}m`,
  };
  header.forEach((value, key) => {
    if (!ownHeaders.has(key) && !key.startsWith(":")) outgoing[key] = value;
  });
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request(outgoing);
  } catch (error) {
    // The session closed between being picked and now: another connection takes the call.
    if (sessionGoneErrors.has((error as { code?: string }).code ?? "")) {
      return Promise.resolve({ kind: "not-sent", error: unavailable(error) });
    }
    const message = error instanceof Error ? error.message : String(error);
    return Promise.resolve({ kind: "failed", error: new ConnectError(`request not sent: ${message}`, Code.Internal) });
  }
  const frame = Buffer.allocUnsafe(5 + request.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(request.byteLength, 1);
  frame.set(request, 5);
  stream.end(frame);

  return new Promise<Outcome>((settle) => {
    let responseHeaders: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    let streamError: unknown;
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      settle(outcome);
    };
    const abandon = (code: Code, message: string) => {
      finish({ kind: "failed", error: new ConnectError(message, code) });
      stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    const timer = setTimeout(() => abandon(Code.DeadlineExceeded, "deadline exceeded"), left);
    const onAbort = () => abandon(Code.Canceled, "the call was cancelled");
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });

    stream.on("response", (headers) => {
      responseHeaders = headers;
    });
    stream.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxReceiveBytes + 5) {
        abandon(Code.ResourceExhausted, `answer larger than ${maxReceiveBytes} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    stream.on("trailers", (headers) => {
      trailers = headers;
    });
    stream.on("error", (error) => {
      streamError = error;
    });
    stream.on("close", () => {
      if (settled) return;
      // Trailers-only: an error answered in the response headers alone.
      const statusHeaders = trailers ?? (responseHeaders?.["grpc-status"] !== undefined ? responseHeaders : undefined);
      if (!statusHeaders) {
        finish(withoutStatus(session, stream, responseHeaders, streamError));
        return;
      }
      const trailer = headersOf(statusHeaders);
      const failure = statusFailure(trailer);
      if (failure) {
        finish({ kind: "failed", error: failure });
        return;
      }
      const body = Buffer.concat(chunks);
      if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) {
        finish({ kind: "failed", error: new ConnectError("malformed or compressed answer", Code.Internal) });
        return;
      }
      trailer.delete("grpc-status");
      trailer.delete("grpc-message");
      finish({
        kind: "answer",
        answer: { header: headersOf(responseHeaders ?? {}), message: body.subarray(5), trailer },
      });
    });
  });
}

/** A stream that ended without a gRPC status: reset by the peer, or its connection dropped. */
function withoutStatus(
  session: http2.ClientHttp2Session,
  stream: http2.ClientHttp2Stream,
  responseHeaders: http2.IncomingHttpHeaders | undefined,
  streamError: unknown,
): Outcome {
  const status = Number(responseHeaders?.[":status"] ?? 0);
  if (status !== 0 && status !== 200) {
    return { kind: "failed", error: new ConnectError(`HTTP ${status} without gRPC status`, codeOfHttpStatus(status)) };
  }
  // A connection that broke (the peer killed, the socket reset) takes its streams with it, reset
  // locally with INTERNAL_ERROR: the call may or may not have been applied, as with any lost
  // connection, which gRPC calls UNAVAILABLE.
  const connectionLost = session.destroyed;
  if (connectionLost && stream.rstCode !== http2.constants.NGHTTP2_REFUSED_STREAM) {
    return { kind: "failed", error: unavailable(streamError ?? new Error("connection dropped")) };
  }
  switch (stream.rstCode) {
    case http2.constants.NGHTTP2_REFUSED_STREAM:
      return { kind: "not-sent", error: new ConnectError("the peer refused the stream", Code.Unavailable) };
    case http2.constants.NGHTTP2_CANCEL:
      return { kind: "failed", error: new ConnectError("the call was cancelled by the peer", Code.Canceled) };
    case http2.constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return { kind: "failed", error: new ConnectError("the peer is overloaded", Code.ResourceExhausted) };
    case http2.constants.NGHTTP2_NO_ERROR:
    case undefined:
      // The connection went away with the call on it: its outcome is unknown.
      return { kind: "failed", error: unavailable(streamError ?? new Error("connection dropped")) };
    default:
      return {
        kind: "failed",
        error: new ConnectError(`stream reset by the peer (code ${stream.rstCode})`, Code.Internal),
      };
  }
}

/** The error a status names (with its details and trailers), or undefined for OK. */
function statusFailure(trailer: Headers): ConnectError | undefined {
  try {
    return findTrailerError(trailer);
  } catch {
    // A grpc-message that is not valid percent-encoding.
    const code = Number(trailer.get("grpc-status"));
    return new ConnectError(trailer.get("grpc-message") ?? "", code > 0 && code <= 16 ? code : Code.Unknown, trailer);
  }
}

/** gRPC's mapping of HTTP statuses from something that is not a gRPC server (a proxy). */
function codeOfHttpStatus(status: number): Code {
  if (status === 400) return Code.Internal;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.Unimplemented;
  if ([429, 502, 503, 504].includes(status)) return Code.Unavailable;
  return Code.Unknown;
}

function unavailable(cause: unknown): ConnectError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new ConnectError(`connection lost: ${message}`, Code.Unavailable, undefined, undefined, cause);
}

function headersOf(incoming: http2.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(incoming)) {
    if (key.startsWith(":") || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(key, one);
  }
  return headers;
}

/** Pings an idle connection now and then; one that does not answer is dropped. */
function keepAlive(session: http2.ClientHttp2Session) {
  const pinger = setInterval(() => {
    if (session.closed || session.destroyed) return clearInterval(pinger);
    const silence = setTimeout(() => session.destroy(new Error("keepalive ping not answered")), keepaliveTimeoutMs);
    silence.unref();
    const sent = session.ping((error) => {
      clearTimeout(silence);
      if (error) session.destroy(error);
    });
    if (!sent) clearTimeout(silence);
  }, keepaliveEveryMs);
  pinger.unref();
  session.once("close", () => clearInterval(pinger));
}

function newLane(authority: string): Lane {
  return { authority, ready: false, retryAt: 0, backoffMs: initialBackoffMs };
}

type Target = { kind: "static"; authorities: string[] } | { kind: "dns"; host: string; port: string };

/**
 * What an address names: host:port, a comma-separated list of IP replicas, or dns:///name:port
 * (every address the name resolves to). A host name without dns:/// is resolved the same way.
 */
export function parseTarget(address: string): Target {
  const bare = address.replace(/^dns:\/\/\//, "");
  const items = bare.split(",");
  const hosts = items.map(splitHostPort);
  if (hosts.every(({ host }) => isIP(host) !== 0)) {
    return { kind: "static", authorities: hosts.map(({ host, port }) => authorityOf(host, isIP(host), port)) };
  }
  if (items.length > 1) {
    throw new Error(`a list of replicas must be IP addresses, got "${address}"; use dns:///name:port for host names`);
  }
  return { kind: "dns", host: hosts[0]!.host, port: hosts[0]!.port };
}

function splitHostPort(item: string): { host: string; port: string } {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(item) ?? /^([^:]+):(\d+)$/.exec(item);
  if (!match) throw new Error(`not a host:port address: "${item}"`);
  return { host: match[1]!, port: match[2]! };
}

function authorityOf(host: string, family: number, port: string): string {
  return family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
