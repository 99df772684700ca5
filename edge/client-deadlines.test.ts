// A connect-node adapter with client deadlines clamped, over h2c: a deadline longer than a Node
// timer holds is served as the longest one, not fired after a millisecond.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetProductResponseSchema, ProductService } from "../gen/bazaar/product/v1/product_pb.ts";
import { clampClientDeadlines } from "./client-deadlines.ts";

const seenTimeouts: Array<number | undefined> = [];
const warnings: string[] = [];
const onWarning = (warning: Error) => warnings.push(warning.name);
let server: http2.Http2Server;
let baseUrl: string;

beforeAll(async () => {
  process.on("warning", onWarning);
  const adapter = connectNodeAdapter({
    routes: (router) => {
      router.rpc(ProductService.method.getProduct, async (_, ctx) => {
        // Long enough for a timer that overflowed (1 ms) to have fired.
        await new Promise((resolve) => setTimeout(resolve, 20));
        seenTimeouts.push(ctx.signal.aborted ? -1 : ctx.timeoutMs());
        return create(GetProductResponseSchema);
      });
      clampClientDeadlines(router);
    },
  });
  server = http2.createServer(adapter);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  process.off("warning", onWarning);
  await new Promise((resolve) => server.close(resolve));
});

/** A gRPC call, or a Connect unary call when `connect`; the grpc-status, or the HTTP status for Connect. */
function call(headers: Record<string, string>, connect = false): Promise<string | undefined> {
  const session = http2.connect(baseUrl);
  return new Promise((resolve, reject) => {
    let status: string | undefined;
    const protocol = connect
      ? { "content-type": "application/proto" }
      : { "content-type": "application/grpc", te: "trailers" };
    const stream = session.request({
      ":method": "POST",
      ":path": "/bazaar.product.v1.ProductService/GetProduct",
      ...protocol,
      ...headers,
    });
    const read = (fields: http2.IncomingHttpHeaders) =>
      (status = (connect ? String(fields[":status"]) : (fields["grpc-status"] as string | undefined)) ?? status);
    stream.on("response", read);
    stream.on("trailers", (fields) => connect || read(fields));
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve(status);
    });
    stream.resume();
    stream.end(connect ? Buffer.alloc(0) : Buffer.alloc(5));
  });
}

// Found by the fuzzer (tests/fuzz): "grpc-timeout: 99999999H" ended calls at once, with a
// TimeoutOverflowWarning on the edge's stderr for every such request.
describe("client deadlines longer than a timer holds", () => {
  it.each([
    ["a gRPC deadline of 99999999 hours", { "grpc-timeout": "99999999H" }, false, "0"],
    ["a Connect deadline of 9999999999 ms", { "connect-timeout-ms": "9999999999" }, true, "200"],
  ])(
    "when a call gives %s, then the handler runs under the longest deadline a timer holds and no warning is raised",
    async (_, headers, connect, ok) => {
      seenTimeouts.length = 0;
      expect(await call(headers, connect)).toBe(ok);
      expect(seenTimeouts[0]).toBeGreaterThan(2_147_000_000);
      expect(seenTimeouts[0]).toBeLessThanOrEqual(2 ** 31 - 1);
      expect(warnings).toEqual([]);
    },
  );

  it("when a call gives an ordinary deadline, then it is left as it is", async () => {
    seenTimeouts.length = 0;
    expect(await call({ "grpc-timeout": "5S" })).toBe("0");
    expect(seenTimeouts[0]).toBeGreaterThan(4_000);
    expect(seenTimeouts[0]).toBeLessThanOrEqual(5_000);
  });
});
