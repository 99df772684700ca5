// Bytes no HTTP client would write, onto a raw connection to the edge or a service: random
// bytes, HTTP/1.1 requests with broken request lines, headers and chunking (smuggling shapes
// included), and the HTTP/2 preface followed by random frames.
import fc from "fast-check";
import type { ServiceName } from "../../services/kit/config.ts";

export interface SocketCase {
  target: "edge" | ServiceName;
  bytes: SocketBytes;
}

type SocketBytes =
  | { kind: "random"; bytes: Uint8Array }
  | { kind: "http1"; requestLine: string; headerLines: string[]; body: string }
  | { kind: "http2"; frames: Array<{ type: number; flags: number; stream: number; payload: Uint8Array }> };

const requestLines = [
  "GET / HTTP/1.1",
  "GET /v1/products HTTP/1.1",
  "POST /bazaar.auth.v1.AuthService/Login HTTP/1.1",
  "GET /v1/products/x HTTP/1.0",
  "GET / HTTP/9.9",
  "GET /\u0000 HTTP/1.1",
  "G\tET / HTTP/1.1",
  "GET  HTTP/1.1",
  " / HTTP/1.1",
  "GET / HTTP/1.1 extra",
  `GET /${"a".repeat(20_000)} HTTP/1.1`,
  "PRI * HTTP/2.0",
  "CONNECT 127.0.0.1:22 HTTP/1.1",
  "GET http://evil.test/ HTTP/1.1",
  "",
];

const headerLines = [
  "Host: x",
  "Content-Length: -1",
  "Content-Length: 5",
  "Content-Length: 5\r\nContent-Length: 6",
  "Transfer-Encoding: chunked",
  "Transfer-Encoding: chunked, identity",
  "Transfer-Encoding: xchunked",
  "Content-Length: 99999999999999999999",
  ": empty-name",
  "No-Colon",
  " folded",
  `X-Big: ${"x".repeat(20_000)}`,
  "Content-Type: application/json",
  "Content-Type: application/grpc",
  "Expect: 100-continue",
  "Connection: upgrade\r\nUpgrade: h2c",
  "Upgrade: websocket",
  "Authorization: Bearer a.b.c",
];

const bodies = [
  "",
  "{}",
  "zz\r\n",
  "5\r\nab",
  "0\r\n\r\n",
  "ffffffffffffffff\r\n",
  '{"email":"a"}',
  "\u0000\u0001",
  "1\r\na\r\n0\r\nX: y\r\n\r\n",
];

const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

const socketBytes: fc.Arbitrary<SocketBytes> = fc.oneof(
  fc.record({ kind: fc.constant("random" as const), bytes: fc.uint8Array({ maxLength: 2_048 }) }),
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("http1" as const),
      requestLine: fc.oneof(fc.constantFrom(...requestLines), fc.string({ maxLength: 40 })),
      headerLines: fc.array(fc.oneof(fc.constantFrom(...headerLines), fc.string({ maxLength: 30 })), { maxLength: 5 }),
      body: fc.oneof(fc.constantFrom(...bodies), fc.string({ maxLength: 40 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("http2" as const),
      frames: fc.array(
        fc.record({
          type: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 255 })),
          flags: fc.integer({ min: 0, max: 255 }),
          stream: fc.oneof(fc.constantFrom(0, 1, 3, 2, 0x7fff_ffff), fc.integer({ min: 0, max: 0x7fff_ffff })),
          payload: fc.uint8Array({ maxLength: 64 }),
        }),
        { maxLength: 6 },
      ),
    }),
  },
);

export function socketCases(targets: Array<SocketCase["target"]>): fc.Arbitrary<SocketCase> {
  return fc.record({ target: fc.constantFrom(...targets), bytes: socketBytes });
}

export function socketCaseBytes({ bytes }: SocketCase): Buffer {
  switch (bytes.kind) {
    case "random":
      return Buffer.from(bytes.bytes);
    case "http1":
      return Buffer.from(
        `${bytes.requestLine}\r\n${bytes.headerLines.map((line) => `${line}\r\n`).join("")}\r\n${bytes.body}`,
        "latin1",
      );
    case "http2": {
      // A valid empty SETTINGS frame first, so the server reads on into the random frames.
      const settings = frame({ type: 4, flags: 0, stream: 0, payload: new Uint8Array() });
      return Buffer.concat([http2Preface, settings, ...bytes.frames.map(frame)]);
    }
  }
}

function frame({
  type,
  flags,
  stream,
  payload,
}: {
  type: number;
  flags: number;
  stream: number;
  payload: Uint8Array;
}): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}
