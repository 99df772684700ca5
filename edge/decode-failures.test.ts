// A connect-node adapter with the decode-failure rewrite, over real HTTP/1.1 and h2c: bytes that
// are not the request message get invalid_argument in every protocol the adapter speaks, and
// answers that decode are left as they were.
import * as http from "node:http";
import * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderService, WatchOrdersResponseSchema } from "../gen/bazaar/order/v1/order_pb.ts";
import {
  GetProductRequestSchema,
  GetProductResponseSchema,
  ProductService,
} from "../gen/bazaar/product/v1/product_pb.ts";
import { answerDecodeFailuresAsInvalidArgument } from "./decode-failures.ts";

const adapter = connectNodeAdapter({
  routes: (router) => {
    router.rpc(ProductService.method.getProduct, async () =>
      create(GetProductResponseSchema, { product: { id: "p1" } }),
    );
    router.rpc(OrderService.method.watchOrders, async function* () {
      yield create(WatchOrdersResponseSchema);
    });
    answerDecodeFailuresAsInvalidArgument(router);
  },
});
const getProduct = "/bazaar.product.v1.ProductService/GetProduct";
const watchOrders = "/bazaar.order.v1.OrderService/WatchOrders";
/** A length-delimited field 1 promising 16 bytes and giving one: protobuf that does not decode. */
const undecodable = Buffer.from([0x0a, 0x10, 0x61]);
const valid = Buffer.from(toBinary(GetProductRequestSchema, create(GetProductRequestSchema, { id: "p1" })));

let h1: http.Server;
let h2: http2.Http2Server;
let h1Url: string;
let h2Url: string;

beforeAll(async () => {
  h1 = http.createServer(adapter);
  h2 = http2.createServer(adapter);
  await Promise.all([
    new Promise<void>((resolve) => h1.listen(0, "127.0.0.1", resolve)),
    new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve)),
  ]);
  h1Url = `http://127.0.0.1:${(h1.address() as AddressInfo).port}`;
  h2Url = `http://127.0.0.1:${(h2.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => h1.close(resolve));
  await new Promise((resolve) => h2.close(resolve));
});

function envelope(flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(flags, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** A gRPC call over h2c; its grpc-status from the headers or trailers. */
function grpcStatus(path: string, body: Buffer): Promise<string | undefined> {
  return grpcStatusWith(path, body, {});
}

function grpcStatusWith(path: string, body: Buffer, headers: Record<string, string>): Promise<string | undefined> {
  const session = http2.connect(h2Url);
  return new Promise((resolve, reject) => {
    let status: string | undefined;
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    const read = (fields: http2.IncomingHttpHeaders) =>
      (status = (fields["grpc-status"] as string | undefined) ?? status);
    stream.on("response", read);
    stream.on("trailers", read);
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve(status);
    });
    // An answer that never comes fails the test here, not at vitest's timeout.
    stream.setTimeout(3_000, () => stream.close());
    stream.resume();
    stream.end(body);
  });
}

/** The last frame of a gRPC-Web or Connect streaming answer. */
function lastFrame(body: Buffer): { flags: number; payload: string } {
  let offset = 0;
  let last = { flags: -1, payload: "" };
  while (offset + 5 <= body.length) {
    const length = body.readUInt32BE(offset + 1);
    last = { flags: body[offset]!, payload: body.subarray(offset + 5, offset + 5 + length).toString("utf8") };
    offset += 5 + length;
  }
  return last;
}

const post = (path: string, headers: Record<string, string>, body: Buffer) =>
  fetch(`${h1Url}${path}`, { method: "POST", headers, body: new Uint8Array(body), signal: AbortSignal.timeout(3_000) });

describe("requests whose protobuf bytes do not decode", () => {
  it("when a gRPC request does not decode, then grpc-status is invalid_argument (3), not internal", async () => {
    expect(await grpcStatus(getProduct, envelope(0, undecodable))).toBe("3");
    expect(await grpcStatus(watchOrders, envelope(0, undecodable))).toBe("3");
  });

  it("when a message is flagged compressed but no compression was declared, then invalid_argument too", async () => {
    expect(await grpcStatus(getProduct, envelope(1, valid))).toBe("3");
    const response = await post(getProduct, { "content-type": "application/grpc-web+proto" }, envelope(1, valid));
    expect(lastFrame(Buffer.from(await response.arrayBuffer())).payload).toMatch(/^grpc-status: ?3\r?$/m);
  });

  it("when a gzip message is cut short, then invalid_argument too", async () => {
    const cutShort = gzipSync(valid).subarray(0, 12);
    expect(await grpcStatusWith(getProduct, envelope(1, cutShort), { "grpc-encoding": "gzip" })).toBe("3");
  });

  // Found by the fuzzer (tests/fuzz): connect-es could not percent-encode the decode error, which
  // quotes the lone surrogate, and never answered.
  it("when a JSON request's decode error would quote a lone surrogate, then an answer still comes: invalid_argument", async () => {
    const loneSurrogate = Buffer.from('"\\ud800"');
    expect(
      await grpcStatusWith(getProduct, envelope(0, loneSurrogate), { "content-type": "application/grpc+json" }),
    ).toBe("3");
    const response = await post(
      getProduct,
      { "content-type": "application/grpc-web+json" },
      envelope(0, loneSurrogate),
    );
    expect(lastFrame(Buffer.from(await response.arrayBuffer())).payload).toMatch(/^grpc-status: ?3\r?$/m);
  });

  it("when a gRPC-Web request does not decode, then its trailer frame says grpc-status 3", async () => {
    const response = await post(getProduct, { "content-type": "application/grpc-web+proto" }, envelope(0, undecodable));
    const trailer = lastFrame(Buffer.from(await response.arrayBuffer()));
    expect(trailer.flags).toBe(0x80);
    expect(trailer.payload).toMatch(/^grpc-status: ?3\r?$/m);
    expect(trailer.payload).toMatch(/grpc-message: ?parse%20binary/);
  });

  it("when a Connect streaming request does not decode, then its end-stream message says invalid_argument", async () => {
    const response = await post(watchOrders, { "content-type": "application/connect+proto" }, envelope(0, undecodable));
    const end = lastFrame(Buffer.from(await response.arrayBuffer()));
    expect(end.flags).toBe(0x02);
    expect(JSON.parse(end.payload)).toMatchObject({
      error: { code: "invalid_argument", message: expect.stringMatching(/^parse binary: /) },
    });
  });

  it("when a compressed Connect unary request does not decode, then HTTP 400 with code invalid_argument", async () => {
    const response = await post(
      getProduct,
      { "content-type": "application/proto", "content-encoding": "gzip" },
      gzipSync(undecodable),
    );
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(response.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
    expect(JSON.parse(text)).toMatchObject({ code: "invalid_argument" });
  });

  it("when requests decode, then the answers are the handler's, unchanged", async () => {
    expect(await grpcStatus(getProduct, envelope(0, valid))).toBe("0");
    const web = await post(getProduct, { "content-type": "application/grpc-web+proto" }, envelope(0, valid));
    expect(lastFrame(Buffer.from(await web.arrayBuffer())).payload).toMatch(/^grpc-status: ?0\r?$/m);
    const unary = await post(
      getProduct,
      { "content-type": "application/json", "content-encoding": "gzip" },
      gzipSync('{"id":"p1"}'),
    );
    expect([unary.status, await unary.json()]).toEqual([200, { product: { id: "p1" } }]);
  });
});
