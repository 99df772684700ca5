// The mesh's unary calls on node:http2, against real grpc-js servers over loopback: answers,
// errors with their details, deadlines, cancellation, a peer that comes back, replicas taking
// turns, a replica going away, and what an address may name.
import http2 from "node:http2";
import { createServer, type Socket } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { GetProductResponseSchema, ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { errorInfoOf, reasonedError } from "./error-info.ts";
import { createGrpcTransport, type GrpcTransport } from "./grpc-transport.ts";
import { parseTarget } from "./h2-unary.ts";
import { createLogger } from "./log.ts";
import { notYetImplemented } from "./not-implemented.ts";
import { bind, serve, type RunningServer } from "./serve.ts";

const log = createLogger("h2-unary-test", "silent");
const productId = "0193a000-0000-7000-8000-0000000000cc";
let servers: RunningServer[] = [];
let transports: GrpcTransport[] = [];
let rawServers: http2.Http2Server[] = [];

afterEach(async () => {
  for (const transport of transports) transport.close();
  await Promise.all(servers.map((server) => server.close(0)));
  await Promise.all(rawServers.map((raw) => new Promise((resolve) => raw.close(resolve))));
  servers = [];
  transports = [];
  rawServers = [];
});

/** A bare HTTP/2 server that does to the n-th stream (from 1) what `answer` says. */
async function rawServer(answer: (stream: http2.ServerHttp2Stream, n: number) => void): Promise<number> {
  const raw = http2.createServer();
  let streams = 0;
  raw.on("stream", (stream) => {
    // Resetting a stream with an error code makes it emit that error on this side too.
    stream.on("error", () => undefined);
    answer(stream, ++streams);
  });
  await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
  rawServers.push(raw);
  return (raw.address() as { port: number }).port;
}

/** What a gRPC server answers for GetProduct: a framed message, then status OK in trailers. */
function answerProduct(stream: http2.ServerHttp2Stream, name: string) {
  const message = toBinary(
    GetProductResponseSchema,
    create(GetProductResponseSchema, { product: { id: productId, name } }),
  );
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
  stream.end(frame);
}

/** A product service whose GetProduct answers with `name`, or does what `behave` says. */
async function productServer(name: string, behave?: (id: string, signal: AbortSignal) => Promise<void>, port = 0) {
  const server = await serve({
    address: `127.0.0.1:${port}`,
    log,
    services: [
      bind(ProductService, {
        ...notYetImplemented(ProductService, "not this test"),
        async getProduct(request: { id: string }, ctx) {
          await behave?.(request.id, ctx.signal);
          return { product: { id: request.id, name } };
        },
      }),
    ],
  });
  servers.push(server);
  return server;
}

function clientOf(address: string, connections = 1) {
  const transport = createGrpcTransport(address, { connections });
  transports.push(transport);
  return createClient(ProductService, transport);
}

async function unusedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function failureOf(call: Promise<unknown>): Promise<ConnectError> {
  const outcome = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(ConnectError);
  return outcome as ConnectError;
}

describe("unary calls over node:http2", () => {
  it("when the peer answers, then the message comes back decoded", async () => {
    const server = await productServer("Tea");
    const client = clientOf(`127.0.0.1:${server.port}`);
    const answer = await client.getProduct({ id: productId });
    expect(answer.product).toMatchObject({ id: productId, name: "Tea" });
  });

  it("when the peer fails with a reason, then the code, message and ErrorInfo arrive intact", async () => {
    const server = await productServer("Tea", async (id) => {
      throw reasonedError("OUT_OF_STOCK", "only 1 left", {
        product_id: id,
        product_ids: id,
        requested: "3",
        available: "1",
      });
    });
    const client = clientOf(`127.0.0.1:${server.port}`);
    const failure = await failureOf(client.getProduct({ id: productId }));
    expect(failure.code).toBe(Code.FailedPrecondition);
    expect(failure.rawMessage).toBe("only 1 left");
    expect(errorInfoOf(failure)).toEqual({
      reason: "OUT_OF_STOCK",
      metadata: { product_id: productId, product_ids: productId, requested: "3", available: "1" },
    });
  });

  it("when the request is invalid, then INVALID_ARGUMENT names the field", async () => {
    const server = await productServer("Tea");
    const client = clientOf(`127.0.0.1:${server.port}`);
    const failure = await failureOf(client.getProduct({ id: "not-a-uuid" }));
    expect(failure.code).toBe(Code.InvalidArgument);
    expect(failure.rawMessage).toContain("id");
  });

  it("when the peer is slower than the deadline, then the call ends with DEADLINE_EXCEEDED at the deadline", async () => {
    const server = await productServer(
      "Tea",
      (_id, signal) => new Promise((resolve) => signal.addEventListener("abort", () => resolve())),
    );
    const client = clientOf(`127.0.0.1:${server.port}`);
    const started = performance.now();
    const failure = await failureOf(client.getProduct({ id: productId }, { timeoutMs: 150 }));
    expect(failure.code).toBe(Code.DeadlineExceeded);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("when the caller aborts, then the call ends with CANCELED and the peer's handler is told", async () => {
    let peerSawAbort = false;
    const server = await productServer(
      "Tea",
      (_id, signal) =>
        new Promise((resolve) =>
          signal.addEventListener("abort", () => {
            peerSawAbort = true;
            resolve();
          }),
        ),
    );
    const client = clientOf(`127.0.0.1:${server.port}`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const failure = await failureOf(
      client.getProduct({ id: productId }, { signal: controller.signal, timeoutMs: 5_000 }),
    );
    expect(failure.code).toBe(Code.Canceled);
    await expect.poll(() => peerSawAbort, { timeout: 2_000 }).toBe(true);
  });

  it("when nothing listens until the deadline, then the call waits for it and ends with DEADLINE_EXCEEDED", async () => {
    const client = clientOf(`127.0.0.1:${await unusedPort()}`);
    const started = performance.now();
    const failure = await failureOf(client.getProduct({ id: productId }, { timeoutMs: 300 }));
    expect(failure.code).toBe(Code.DeadlineExceeded);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("when the peer's connection breaks under a call, then it ends UNAVAILABLE (its outcome unknown)", async () => {
    const port = await rawServer((stream) => stream.session?.socket.destroy());
    const client = clientOf(`127.0.0.1:${port}`);
    const failure = await failureOf(client.getProduct({ id: productId }, { timeoutMs: 2_000 }));
    expect(failure.code).toBe(Code.Unavailable);
  });

  it("when the peer resets the stream with an error of its own, then the call ends INTERNAL", async () => {
    const port = await rawServer((stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    const client = clientOf(`127.0.0.1:${port}`);
    const failure = await failureOf(client.getProduct({ id: productId }, { timeoutMs: 2_000 }));
    expect(failure.code).toBe(Code.Internal);
  });

  it("when the peer refuses a stream, then the call is sent again and answered", async () => {
    const port = await rawServer((stream, n) =>
      n === 1 ? stream.close(http2.constants.NGHTTP2_REFUSED_STREAM) : answerProduct(stream, "second try"),
    );
    const client = clientOf(`127.0.0.1:${port}`);
    expect((await client.getProduct({ id: productId }, { timeoutMs: 2_000 })).product?.name).toBe("second try");
  });

  it("when a peer comes back after being down, then no call waits out the backoff of a connection not back yet", {
    timeout: 20_000,
  }, async () => {
    const port = await unusedPort();
    const client = clientOf(`127.0.0.1:${port}`, 2);
    // Down for 5 s: both connections fail again and again, and back off up to 2 s each.
    const downUntil = Date.now() + 5_000;
    while (Date.now() < downUntil)
      await client.getProduct({ id: productId }, { timeoutMs: 200 }).catch(() => undefined);
    await productServer("Tea", undefined, port);
    // The first call that gets through: a connection is back.
    expect((await client.getProduct({ id: productId }, { timeoutMs: 5_000 })).product?.id).toBe(productId);
    // From now on every call answers at once, whatever the other connection's backoff says.
    for (let call = 0; call < 20; call++) {
      expect((await client.getProduct({ id: productId }, { timeoutMs: 100 })).product?.id).toBe(productId);
    }
  });

  it("when an address lists two replicas, then calls take turns over both", async () => {
    const [one, two] = [await productServer("one"), await productServer("two")];
    const client = clientOf(`127.0.0.1:${one.port},127.0.0.1:${two.port}`, 2);
    // Once every connection is up, turns are strict.
    for (let call = 0; call < 8; call++) await client.getProduct({ id: productId });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const names = [];
    for (let call = 0; call < 40; call++) names.push((await client.getProduct({ id: productId })).product?.name);
    expect(names.filter((name) => name === "one").length).toBe(20);
    expect(names.filter((name) => name === "two").length).toBe(20);
  });

  it("when one of two replicas accepts connections but never speaks HTTP/2, then the other answers every call", async () => {
    const accepted = new Set<Socket>();
    const silent = createServer((socket) => {
      accepted.add(socket);
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      const healthy = await productServer("healthy");
      const client = clientOf(`127.0.0.1:${silentPort},127.0.0.1:${healthy.port}`);
      const names = [];
      for (let call = 0; call < 10; call++) {
        names.push((await client.getProduct({ id: productId }, { timeoutMs: 1_000 })).product?.name);
      }
      expect(new Set(names)).toEqual(new Set(["healthy"]));
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("when one of two replicas goes away, then every later call is answered by the other", async () => {
    const [one, two] = [await productServer("one"), await productServer("two")];
    const client = clientOf(`127.0.0.1:${one.port},127.0.0.1:${two.port}`);
    for (let call = 0; call < 4; call++) await client.getProduct({ id: productId });
    // As a replica leaves: it says GOAWAY and closes its connections.
    await one.close(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const names = [];
    for (let call = 0; call < 20; call++) {
      names.push((await client.getProduct({ id: productId }, { timeoutMs: 2_000 })).product?.name);
    }
    expect(new Set(names)).toEqual(new Set(["two"]));
  });

  it("when the address is a host name, then it is resolved and called", async () => {
    const server = await productServer("Tea");
    const client = clientOf(`dns:///localhost:${server.port}`);
    expect((await client.getProduct({ id: productId }, { timeoutMs: 5_000 })).product?.name).toBe("Tea");
  });
});

describe("what an address names", () => {
  it("when it is host:port, a list of IPs or dns:///name:port, then each is read as such", () => {
    expect(parseTarget("127.0.0.1:50051")).toEqual({ kind: "static", authorities: ["127.0.0.1:50051"] });
    expect(parseTarget("10.0.0.1:1,10.0.0.2:1")).toEqual({ kind: "static", authorities: ["10.0.0.1:1", "10.0.0.2:1"] });
    expect(parseTarget("[::1]:7")).toEqual({ kind: "static", authorities: ["[::1]:7"] });
    expect(parseTarget("dns:///order-headless.bazaar.svc:50053")).toEqual({
      kind: "dns",
      host: "order-headless.bazaar.svc",
      port: "50053",
    });
    expect(parseTarget("order:50053")).toEqual({ kind: "dns", host: "order", port: "50053" });
  });

  it("when a list names hosts, or an item has no port, then it is refused", () => {
    expect(() => parseTarget("a:1,b:2")).toThrow(/dns:\/\/\//);
    expect(() => parseTarget("127.0.0.1")).toThrow(/host:port/);
  });
});
