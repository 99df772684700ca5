// The grpc-js adapter and the mesh client, over real HTTP/2 on loopback: what a handler throws is
// what a client catches (code, message, details), validation happens before the handler,
// deadlines and identity follow a call from hop to hop, reflection describes what is served.
import * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { createMeshClient, forwardFrom, type MeshClient } from "./clients.ts";
import { createLogger } from "./log.ts";
import { notYetImplemented } from "./not-implemented.ts";
import { createReflection } from "./reflection.ts";
import { bind, serve, type RunningServer } from "./serve.ts";
import { failureOf } from "./testing/calls.ts";

const log = createLogger("serve-test", "silent");
const productId = "0193a000-0000-7000-8000-0000000000aa";
const seen: { authorization: string | null; requestId: string | null; timeoutMs: number | undefined }[] = [];

let backend: RunningServer;
let front: RunningServer;
let backendClient: MeshClient<typeof ProductService>;
let frontClient: MeshClient<typeof ProductService>;

function backendImpl() {
  return {
    ...notYetImplemented(ProductService, "a later test"),
    async getProduct(request: { id: string }, ctx: HandlerContext) {
      seen.push({
        authorization: ctx.requestHeader.get("authorization"),
        requestId: ctx.requestHeader.get("x-request-id"),
        timeoutMs: ctx.timeoutMs(),
      });
      if (request.id === productId) {
        return {
          product: { id: productId, name: "Tea", price: { currencyCode: "USD", amountMinor: 9_007_199_254_740_993n } },
        };
      }
      if (request.id.endsWith("1")) throw new Error("ER_PARSE_ERROR near 'SELECT * FROM secret' at 10.0.0.7");
      if (request.id.endsWith("2")) {
        return new Promise<never>((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
      }
      throw new ConnectError(`product ${request.id} not found`, Code.NotFound, undefined, [
        { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: "PRODUCT_NOT_FOUND", domain: "bazaar" }) },
      ]);
    },
  };
}

beforeAll(async () => {
  backend = await serve({ address: "127.0.0.1:0", log, services: [bind(ProductService, backendImpl())] });
  backendClient = createMeshClient(ProductService, `127.0.0.1:${backend.port}`);
  // A second hop that forwards GetProduct, as the edge and every service-to-service call does.
  front = await serve({
    address: "127.0.0.1:0",
    log,
    services: [
      bind(ProductService, {
        ...notYetImplemented(ProductService, "a later test"),
        getProduct: (request, ctx) => backendClient.client.getProduct(request, forwardFrom(ctx)),
      }),
      createReflection([ProductService]),
    ],
  });
  frontClient = createMeshClient(ProductService, `127.0.0.1:${front.port}`);
});

afterAll(async () => {
  backendClient?.close();
  frontClient?.close();
  await front?.close(100);
  await backend?.close(100);
});

describe("serving ServiceImpls over grpc-js", () => {
  it("when a call succeeds, then the message arrives intact, int64 beyond 2^53 included", async () => {
    const response = await backendClient.client.getProduct({ id: productId });
    expect(response.product?.name).toBe("Tea");
    expect(response.product?.price?.amountMinor).toBe(9_007_199_254_740_993n);
  });

  it("when a handler throws a ConnectError with details, then the client catches the same code, message and details", async () => {
    const error = await failureOf(backendClient.client.getProduct({ id: "0193a000-0000-7000-8000-0000000000bb" }));
    expect(error.code).toBe(Code.NotFound);
    expect(error.rawMessage).toBe("product 0193a000-0000-7000-8000-0000000000bb not found");
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("PRODUCT_NOT_FOUND");
  });

  it("when a request breaks a protovalidate rule, then INVALID_ARGUMENT names the field and the handler never runs", async () => {
    const before = seen.length;
    const error = await failureOf(backendClient.client.getProduct({ id: "not-a-uuid" }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/^id: /);
    const violations = error.findDetails(ViolationsSchema)[0]?.violations ?? [];
    expect(violations.map((v) => v.field?.elements.map((e) => e.fieldName).join("."))).toEqual(["id"]);
    expect(seen.length).toBe(before);
  });

  // Found by the fuzzer (tests/fuzz): grpc-js answered these INTERNAL "Error deserializing request".
  it.each([
    ["a string that is not UTF-8", [0x0a, 0x02, 0xff, 0xfe]],
    ["a length past the end of the bytes", [0x0a, 0x10, 0x61]],
    ["JSON sent as protobuf", [...Buffer.from('{"id":"x"}')]],
  ])(
    "when the request's bytes are not its message (%s), then INVALID_ARGUMENT and the handler never runs",
    async (_, bytes) => {
      const before = seen.length;
      const status = await rawGrpcCall(
        backend.port,
        "/bazaar.product.v1.ProductService/GetProduct",
        grpcFrame(Buffer.from(bytes)),
      );
      expect(status.code).toBe(String(Code.InvalidArgument));
      expect(status.message).toMatch(/^cannot decode the bazaar.product.v1.GetProductRequest request: /);
      expect(seen.length).toBe(before);
    },
  );

  it("when a handler fails unexpectedly, then the client gets INTERNAL without the driver's message", async () => {
    const error = await failureOf(backendClient.client.getProduct({ id: "0193a000-0000-7000-8000-000000000001" }));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error");
    expect(error.message).not.toMatch(/SELECT|10\.0\.0\.7/);
  });

  it("when the client's deadline passes, then it gets DEADLINE_EXCEEDED and the handler's signal aborts", async () => {
    const started = Date.now();
    const error = await failureOf(
      backendClient.client.getProduct({ id: "0193a000-0000-7000-8000-000000000002" }, { timeoutMs: 200 }),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("when a call crosses a hop, then authorization and request id follow and the deadline shrinks", async () => {
    seen.length = 0;
    await frontClient.client.getProduct(
      { id: productId },
      { timeoutMs: 3_000, headers: { authorization: "Bearer t0k3n", "x-request-id": "req-42" } },
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]!.authorization).toBe("Bearer t0k3n");
    expect(seen[0]!.requestId).toBe("req-42");
    expect(seen[0]!.timeoutMs).toBeGreaterThan(2_000);
    expect(seen[0]!.timeoutMs).toBeLessThanOrEqual(3_000);
  });

  it("when an error crosses a hop, then its code and details survive", async () => {
    const error = await failureOf(frontClient.client.getProduct({ id: "0193a000-0000-7000-8000-0000000000cc" }));
    expect(error.code).toBe(Code.NotFound);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("PRODUCT_NOT_FOUND");
  });

  it("when a method arrives in a later milestone, then it answers UNIMPLEMENTED saying which", async () => {
    const error = await failureOf(backendClient.client.listCategories({}));
    expect(error.code).toBe(Code.Unimplemented);
    expect(error.rawMessage).toBe("ProductService.ListCategories arrives with a later test");
  });

  it("when a gRPC tool asks the reflection service, then it lists the services and returns their files", async () => {
    const reflection = createClient(
      ServerReflection,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${front.port}` }),
    );
    async function* ask() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
      yield {
        messageRequest: { case: "fileContainingSymbol" as const, value: "bazaar.product.v1.ProductService.GetProduct" },
      };
    }
    const answers = [];
    for await (const answer of reflection.serverReflectionInfo(ask())) answers.push(answer);
    const listed = answers[0]!.messageResponse;
    expect(listed.case).toBe("listServicesResponse");
    if (listed.case === "listServicesResponse") {
      expect(listed.value.service.map((s) => s.name)).toContain("bazaar.product.v1.ProductService");
    }
    const files = answers[1]!.messageResponse;
    expect(files.case).toBe("fileDescriptorResponse");
    if (files.case === "fileDescriptorResponse") expect(files.value.fileDescriptorProto.length).toBeGreaterThan(1);
  });
});

describe("request streams cut off", () => {
  // Found by the fuzzer (tests/fuzz): the handler's read of the broken stream threw
  // ERR_STREAM_PREMATURE_CLOSE, logged as "rpc failed" with a stack, for a client's mistake.
  it("when grpc-js refuses a streamed message over its size limit, then the client gets RESOURCE_EXHAUSTED and no failure is logged", async () => {
    const lines: string[] = [];
    const server = await serve({
      address: "127.0.0.1:0",
      log: pino({ level: "warn" }, { write: (line: string) => void lines.push(line) }),
      services: [createReflection([ProductService])],
    });
    try {
      const status = await rawGrpcCall(
        server.port,
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        grpcFrame(Buffer.from("x"), 0xffff_ffff),
      );
      expect(status.code).toBe(String(Code.ResourceExhausted));
      // The handler sees the stream end as the status goes out; its outcome is logged by then.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(lines).toEqual([]);
    } finally {
      await server.close(100);
    }
  });
});

/** One gRPC call with `body` as its bytes, written by hand as a broken client would; its grpc-status and grpc-message. */
function rawGrpcCall(port: number, path: string, body: Buffer): Promise<{ code: string | undefined; message: string }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    const status: { code: string | undefined; message: string } = { code: undefined, message: "" };
    const read = (fields: http2.IncomingHttpHeaders) => {
      if (fields["grpc-status"] === undefined) return;
      status.code = String(fields["grpc-status"]);
      status.message = decodeURIComponent(String(fields["grpc-message"] ?? ""));
    };
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("response", read);
    stream.on("trailers", read);
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve(status);
    });
    stream.resume();
    stream.end(body);
  });
}

/** A gRPC frame: uncompressed, with the length `declared` (the message's own unless given). */
function grpcFrame(message: Buffer, declared = message.length): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(declared, 1);
  message.copy(frame, 5);
  return frame;
}
