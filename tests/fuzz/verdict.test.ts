// The fuzzer's judge, on answers written by hand: it must see a server fault wherever a protocol
// puts the status (gRPC trailers, gRPC-Web trailer frames — compressed too —, Connect JSON), and
// must not call a proper refusal a fault.
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { Answer, Exchange } from "./exchange.ts";
import { envelope } from "./framing.ts";
import { judge, judgeSocketReply, type CallFacts } from "./verdict.ts";

const facts: CallFacts = { clientDeadline: false, grpc: false, toService: false, head: false, answerWithinMs: 5_000 };
const grpcFacts: CallFacts = { ...facts, grpc: true };

function answered(answer: Partial<Answer>): Exchange {
  return {
    kind: "answer",
    ms: 3,
    answer: { status: 200, headers: {}, trailers: {}, body: Buffer.alloc(0), cutOff: false, ...answer },
  };
}
const json = (status: number, body: object, headers: Record<string, string> = {}) =>
  answered({
    status,
    headers: { "content-type": "application/json", ...headers },
    body: Buffer.from(JSON.stringify(body)),
  });
const grpcWebTrailer = (text: string, flags = 0x80) => envelope(flags, Buffer.from(text));

describe("judging answers", () => {
  it.each([
    [
      "gRPC trailers",
      answered({
        headers: { "content-type": "application/grpc" },
        trailers: { "grpc-status": "13", "grpc-message": "boom" },
      }),
      grpcFacts,
    ],
    [
      "a gRPC-Web trailer frame",
      answered({
        headers: { "content-type": "application/grpc-web+proto" },
        body: grpcWebTrailer("grpc-status: 2\r\ngrpc-message: x\r\n"),
      }),
      grpcFacts,
    ],
    [
      "a compressed gRPC-Web trailer frame",
      answered({
        headers: { "content-type": "application/grpc-web+proto", "grpc-encoding": "gzip" },
        body: envelope(0x81, gzipSync("grpc-status: 13\r\n")),
      }),
      grpcFacts,
    ],
    ["a Connect JSON error", json(500, { code: "internal", message: "the request failed" }), facts],
  ])("when a server fault comes in %s, then it is a problem", (_, exchange, callFacts) => {
    expect(judge(exchange, callFacts).problems.join()).toMatch(/code (internal|unknown)/);
  });

  it.each([
    ["invalid_argument", json(400, { code: "invalid_argument", message: "id: value must be a valid UUID" }), facts],
    ["unavailable (503)", json(503, { code: "unavailable", message: "retry later" }), facts],
    [
      "a client's own deadline passing",
      json(504, { code: "deadline_exceeded", message: "the request took too long" }),
      { ...facts, clientDeadline: true },
    ],
    [
      "a rate-limit refusal with Retry-After",
      json(429, { code: "resource_exhausted", message: "too many requests, retry in 1 s" }, { "retry-after": "1" }),
      facts,
    ],
    [
      "an open stream, cut off by the fuzzer",
      answered({ headers: { "content-type": "application/grpc" }, cutOff: true }),
      grpcFacts,
    ],
    [
      "a HEAD answer to a gRPC path (no trailers allowed)",
      answered({ headers: { "content-type": "application/grpc" } }),
      { ...grpcFacts, head: true },
    ],
    [
      "grpc-js's own refusal of a malformed grpc-timeout",
      answered({
        headers: {
          "content-type": "application/grpc",
          "grpc-status": "13",
          "grpc-message": 'Invalid grpc-timeout value "x"',
        },
      }),
      { ...grpcFacts, toService: true },
    ],
  ])("when the answer is %s, then it is no problem", (_, exchange, callFacts) => {
    expect(judge(exchange, callFacts).problems).toEqual([]);
  });

  it.each([
    ["no answer", { kind: "noAnswer", ms: 5_000 } as Exchange, facts, /no answer within 5000 ms/],
    [
      "a deadline the client never set",
      json(504, { code: "deadline_exceeded", message: "slow" }),
      facts,
      /HTTP 504.*deadline_exceeded though/s,
    ],
    [
      "a gRPC answer with no status",
      answered({ headers: { "content-type": "application/grpc" } }),
      grpcFacts,
      /without grpc-status/,
    ],
    [
      "a rate-limit refusal without Retry-After",
      json(429, { code: "resource_exhausted", message: "too many requests, retry in 1 s" }),
      facts,
      /without retry-after/,
    ],
    [
      "a stack trace",
      json(400, { code: "invalid_argument", message: "bad\n    at decode (/work/main/edge/x.ts:3:9)" }),
      facts,
      /shows internals/,
    ],
    ["a code no protocol has", json(400, { code: "oops", message: "" }), facts, /not a valid code/],
  ])("when the answer is %s, then it is a problem", (_, exchange, callFacts, problem) => {
    expect(judge(exchange, callFacts).problems.join("\n")).toMatch(problem);
  });
});

describe("judging raw connections", () => {
  it("when the reply is an HTTP 500 or the connection stays open, then each is a problem; a 400 that closes is none", () => {
    expect(judgeSocketReply(Buffer.from("HTTP/1.1 500 Internal Server Error\r\n\r\n"), true, 5_000).problems).toEqual([
      "HTTP 500",
    ]);
    expect(judgeSocketReply(Buffer.alloc(0), false, 5_000).problems.join()).toMatch(/still open/);
    expect(judgeSocketReply(Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n"), true, 5_000).problems).toEqual([]);
  });
});
