// Every bug the fuzzer has found, as the request that showed it and the answer it must get now.
// Each campaign replays them first, so a fix that comes undone fails at once rather than when a
// random seed happens to meet the same input again.
import { gzipSync } from "node:zlib";
import type { ServiceName } from "../../services/kit/config.ts";
import { statusOf } from "./answer-status.ts";
import type { Answer, HttpCall } from "./exchange.ts";
import { envelope } from "./framing.ts";

export interface FoundBug {
  /** What went wrong before the fix. */
  bug: string;
  target: "edge" | ServiceName;
  call: Omit<HttpCall, "origin">;
  /** The answer's code (Connect name), and its HTTP status where the protocol puts the code there. */
  expect: { code: string; httpStatus?: number };
}

const getProduct = "/bazaar.product.v1.ProductService/GetProduct";
const listCategories = "/bazaar.product.v1.ProductService/ListCategories";
/** GetProductRequest.id holding the bytes ff fe: a proto3 string that is not UTF-8. */
const notUtf8 = Buffer.from([0x0a, 0x02, 0xff, 0xfe]);
/** A length-delimited field promising 16 bytes and giving one. */
const truncated = Buffer.from([0x0a, 0x10, 0x61]);
const grpc = (extra: Array<[string, string]> = []): Array<[string, string]> => [
  ["content-type", "application/grpc"],
  ["te", "trailers"],
  ...extra,
];
const call = (
  path: string,
  headers: Array<[string, string]>,
  body: Buffer,
  httpVersion: "1.1" | "2" = "2",
): FoundBug["call"] => ({
  httpVersion,
  method: "POST",
  path,
  headers,
  body,
  streaming: false,
});

export const foundBugs: FoundBug[] = [
  {
    bug: 'a service answered INTERNAL "Error deserializing request" to protobuf that does not decode (grpc-js)',
    target: "product",
    call: call(getProduct, grpc(), envelope(0, notUtf8)),
    expect: { code: "invalid_argument" },
  },
  {
    bug: 'a service logged "rpc failed" with a stack when grpc-js cut a request stream off (a message over its size limit)',
    target: "auth",
    call: call(
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      grpc(),
      envelope(0, Buffer.from("x"), 0xffff_ffff),
    ),
    expect: { code: "resource_exhausted" },
  },
  {
    bug: "the edge answered HTTP 501 to a Connect request in a content coding it does not take",
    target: "edge",
    call: call(
      getProduct,
      [
        ["content-type", "APPLICATION/JSON"],
        ["content-encoding", "x-junk"],
      ],
      Buffer.from("{}"),
      "1.1",
    ),
    expect: { code: "unimplemented", httpStatus: 415 },
  },
  {
    bug: 'the edge answered INTERNAL "parse binary: …" to gRPC protobuf that does not decode (connect-es)',
    target: "edge",
    call: call(getProduct, grpc(), envelope(0, truncated)),
    expect: { code: "invalid_argument" },
  },
  {
    bug: "the edge answered HTTP 500 to compressed Connect protobuf that does not decode (connect-es)",
    target: "edge",
    call: call(
      getProduct,
      [
        ["content-type", "application/proto"],
        ["content-encoding", "gzip"],
      ],
      gzipSync(truncated),
      "1.1",
    ),
    expect: { code: "invalid_argument", httpStatus: 400 },
  },
  {
    bug: "the edge answered INTERNAL to a gRPC-Web message flagged compressed with no compression declared (connect-es)",
    target: "edge",
    call: call(getProduct, [["content-type", "application/grpc-web+proto"]], envelope(1, notUtf8), "1.1"),
    expect: { code: "invalid_argument" },
  },
  {
    bug: 'the edge answered INTERNAL "decompression failed" to a gzip message cut short (connect-node)',
    target: "edge",
    call: call(getProduct, grpc([["grpc-encoding", "gzip"]]), envelope(1, gzipSync(notUtf8).subarray(0, 12))),
    expect: { code: "invalid_argument" },
  },
  {
    bug: "the edge never answered a gRPC JSON request whose decode error quotes a lone surrogate (connect-es)",
    target: "edge",
    call: call(
      getProduct,
      [
        ["content-type", "application/grpc+json"],
        ["te", "trailers"],
      ],
      envelope(0, Buffer.from('"\\ud800"')),
    ),
    expect: { code: "invalid_argument" },
  },
  {
    bug: "the edge ended a call with grpc-timeout 99999999H after 1 ms, warning TimeoutOverflowWarning (connect-node)",
    target: "edge",
    call: call(listCategories, grpc([["grpc-timeout", "99999999H"]]), envelope(0, Buffer.alloc(0))),
    expect: { code: "ok" },
  },
];

/** What is wrong with the answer to a found bug's request, if anything. */
export function checkFoundBug(found: FoundBug, answer: Answer): string[] {
  const { code } = statusOf(answer);
  const problems: string[] = [];
  if (code !== found.expect.code) problems.push(`code ${code}, expected ${found.expect.code}`);
  if (found.expect.httpStatus !== undefined && answer.status !== found.expect.httpStatus)
    problems.push(`HTTP ${answer.status}, expected ${found.expect.httpStatus}`);
  return problems;
}
