// One port for HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge). Node's http2 server
// without TLS speaks only HTTP/2, so each new connection's first bytes pick the server: the
// HTTP/2 preface goes to http2, anything else to http.
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";

export type EdgeRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type EdgeResponse = http.ServerResponse | http2.Http2ServerResponse;
export type RequestHandler = (req: EdgeRequest, res: EdgeResponse) => void;

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

/**
 * How long an idle HTTP/1.1 connection is kept. Longer than the idle timeouts of the clients and
 * proxies in front (Node's agent 5 s, load balancers 60 s): whoever closes an idle connection
 * must be the client, or a request it sends on it just as the edge closes it is reset
 * (ECONNRESET, a 502 behind a proxy). With 5 s here a loaded e2e run saw exactly that.
 */
const keepAliveTimeout = 65_000;

const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export async function listenHttp(address: string, handler: RequestHandler): Promise<HttpServer> {
  const h1 = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout }, handler);
  const h2 = http2.createServer({ maxSessionMemory: 10, settings: { maxConcurrentStreams: 100 } }, handler);
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();
  // HTTP/1 connections with a request in flight. h1 never listens itself (the front hands it the
  // sockets), so its closeIdleConnections() does not know them: a stop tracks them here instead,
  // and cuts an idle keep-alive connection at once rather than after the grace period.
  const busy = new Map<net.Socket, number>();
  const http2Sockets = new WeakSet<net.Socket>();
  let closing = false;
  h1.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
    const socket = request.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    response.once("close", () => {
      const left = (busy.get(socket) ?? 1) - 1;
      if (left > 0) return void busy.set(socket, left);
      busy.delete(socket);
      if (closing) socket.destroy();
    });
  });

  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Slowloris guard: a connection that sends nothing is dropped.
    socket.setTimeout(10_000, () => socket.destroy());
    socket.once("data", (first: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(first);
      const isHttp2 = first
        .subarray(0, http2Preface.length)
        .equals(http2Preface.subarray(0, Math.min(first.length, http2Preface.length)));
      if (isHttp2) {
        http2Sockets.add(socket);
        // http2 reads the unshifted bytes, then the socket's handle directly: resuming the JS
        // stream here would steal frames from it.
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });

  const [host, portText] = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(Number(portText), host, () => resolve());
  });
  return {
    port: (front.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        front.close(() => resolve());
        for (const session of sessions) session.close();
        for (const socket of sockets) if (!http2Sockets.has(socket) && !busy.has(socket)) socket.destroy();
        // In-flight requests get a few seconds; then whatever is left is cut.
        setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, 5_000).unref();
      }),
  };
}

function splitAddress(address: string): [string, string] {
  const index = address.lastIndexOf(":");
  return [address.slice(0, index).replace(/^\[|\]$/g, ""), address.slice(index + 1)];
}
