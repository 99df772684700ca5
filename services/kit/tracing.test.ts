// Tracing through the kit's gRPC server and mesh client over real HTTP/2 on loopback. Off (the
// default), the caller's traceparent travels unchanged, nothing is recorded and the SDK is never
// loaded; on, each hop is a CLIENT span whose SERVER span is its child, in the caller's trace,
// exported over OTLP/HTTP.
import { spawnSync } from "node:child_process";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { failureOf } from "./testing/calls.ts";
import { eventually } from "./testing/eventually.ts";
import {
  SpanKind,
  SpanStatus,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from "./testing/otlp-receiver.ts";
import { createMeshClient, forwardFrom, type MeshClient } from "./clients.ts";
import { createLogger } from "./log.ts";
import { notYetImplemented } from "./not-implemented.ts";
import { bind, serve, type RunningServer } from "./serve.ts";
import { currentTraceId, currentTraceParent } from "./trace-context.ts";
import { startTracing, tracingOn, type RunningTracing } from "./tracing.ts";

const log = createLogger("tracing-test", "silent");
const productId = "0193a000-0000-7000-8000-0000000000aa";
const missingId = "0193a000-0000-7000-8000-0000000000bb";
const callerTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const callerSpanId = "00f067aa0ba902b7";
const callerTraceParent = `00-${callerTraceId}-${callerSpanId}-01`;

/** What the backend's handler saw of the trace. */
const seen: Array<{
  current: string | undefined;
  traceId: string | undefined;
  header: string | null;
  activeSpan: boolean;
}> = [];

let backend: RunningServer;
let front: RunningServer;
let backendClient: MeshClient<typeof ProductService>;
let frontClient: MeshClient<typeof ProductService>;

beforeAll(async () => {
  backend = await serve({
    address: "127.0.0.1:0",
    log,
    services: [
      bind(ProductService, {
        ...notYetImplemented(ProductService, "a later test"),
        async getProduct(request: { id: string }, ctx: HandlerContext) {
          seen.push({
            current: currentTraceParent(),
            traceId: currentTraceId(),
            header: ctx.requestHeader.get("traceparent"),
            activeSpan: trace.getActiveSpan() !== undefined,
          });
          if (request.id === missingId) throw new ConnectError(`product ${request.id} not found`, Code.NotFound);
          return { product: { id: request.id, name: "Tea" } };
        },
      }),
    ],
  });
  backendClient = createMeshClient(ProductService, `127.0.0.1:${backend.port}`);
  front = await serve({
    address: "127.0.0.1:0",
    log,
    services: [
      bind(ProductService, {
        ...notYetImplemented(ProductService, "a later test"),
        getProduct: (request, ctx) => backendClient.client.getProduct(request, forwardFrom(ctx)),
      }),
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

describe("tracing off", () => {
  it("when a call crosses a hop with a traceparent, then the backend sees it unchanged and no span is made, not even through a global tracer", async () => {
    // Another library's SDK in the process must not start recording the kit's calls either.
    const recorded = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: recorded })] }),
    );
    try {
      seen.length = 0;
      await frontClient.client.getProduct({ id: productId }, { headers: { traceparent: callerTraceParent } });
      expect(tracingOn()).toBe(false);
      expect(seen).toEqual([
        { current: callerTraceParent, traceId: callerTraceId, header: callerTraceParent, activeSpan: false },
      ]);
      // The global tracer records what is asked of it: only this probe.
      trace.getTracer("probe").startSpan("probe").end();
      expect(recorded.getFinishedSpans().map((span) => span.name)).toEqual(["probe"]);
    } finally {
      trace.disable();
    }
  });

  it("when a call carries no traceparent, then the backend works under a new one", async () => {
    seen.length = 0;
    await backendClient.client.getProduct({ id: productId });
    expect(seen[0]!.current).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it("when the kit and the edge are loaded with tracing off, then the OpenTelemetry SDK and exporter are not", () => {
    const script = `
      import { registerHooks } from "node:module";
      const loaded = [];
      registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); loaded.push(result.url); return result; } });
      await import("./services/kit/lifecycle.ts");
      await import("./edge/request-telemetry.ts");
      process.stdout.write(JSON.stringify(loaded.filter((url) => url.includes("/@opentelemetry/"))));
    `;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.stderr).toBe("");
    const packages = new Set(
      (JSON.parse(result.stdout) as string[]).map((url) => /\/@opentelemetry\/([\w-]+)\//.exec(url)?.[1]),
    );
    expect([...packages]).toEqual(["api"]);
  });
});

describe("tracing on", () => {
  let receiver: OtlpReceiver;
  let tracing: RunningTracing;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tracing = await startTracing(
      "bazaar-test",
      { tracesEndpoint: `${receiver.endpoint}/v1/traces`, batchDelayMs: 20 },
      log,
    );
  });

  afterAll(async () => {
    await tracing?.stop();
    await receiver?.close();
  });

  /** The spans of one trace once `count` have arrived; the exporter sends them in batches. */
  const spansOfTrace = async (traceId: string, count: number) =>
    eventually(
      async () => receiver.spans.filter((span) => span.traceId === traceId),
      (spans) => spans.length >= count,
      15_000,
    );
  const childOf = (spans: ReceivedSpan[], parent: string | undefined, kind: number) =>
    spans.find((s) => s.parentSpanId === parent && s.kind === kind);

  it("when a call crosses a hop, then each hop is a CLIENT span with the SERVER span as its child, in the caller's trace", async () => {
    seen.length = 0;
    await frontClient.client.getProduct({ id: productId }, { headers: { traceparent: callerTraceParent } });
    const spans = await spansOfTrace(callerTraceId, 4);

    const toFront = childOf(spans, callerSpanId, SpanKind.client);
    const frontServer = childOf(spans, toFront?.spanId, SpanKind.server);
    const toBackend = childOf(spans, frontServer?.spanId, SpanKind.client);
    const backendServer = childOf(spans, toBackend?.spanId, SpanKind.server);
    expect(spans).toHaveLength(4);
    for (const span of [toFront, frontServer, toBackend, backendServer]) {
      expect(span).toMatchObject({
        service: "bazaar-test",
        name: "bazaar.product.v1.ProductService/GetProduct",
        status: SpanStatus.unset,
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": "bazaar.product.v1.ProductService",
          "rpc.method": "GetProduct",
          "rpc.grpc.status_code": 0,
        },
      });
    }
    // The handler runs in its server span; the header it got names the client span.
    expect(seen).toEqual([
      {
        current: `00-${callerTraceId}-${backendServer!.spanId}-01`,
        traceId: callerTraceId,
        header: `00-${callerTraceId}-${toBackend!.spanId}-01`,
        activeSpan: true,
      },
    ]);
  });

  it("when the backend answers not_found, then the client spans are errors and the server spans are not, all with code 5", async () => {
    const traceId = "aaaabbbbccccddddeeeeffff00001111";
    const error = await failureOf(
      frontClient.client.getProduct(
        { id: missingId },
        { headers: { traceparent: `00-${traceId}-${callerSpanId}-01` } },
      ),
    );
    expect(error.code).toBe(Code.NotFound);
    const spans = await spansOfTrace(traceId, 4);
    expect(spans.map((s) => [s.kind, s.status, s.attributes["rpc.grpc.status_code"]]).sort()).toEqual(
      [
        [SpanKind.client, SpanStatus.error, 5],
        [SpanKind.client, SpanStatus.error, 5],
        [SpanKind.server, SpanStatus.unset, 5],
        [SpanKind.server, SpanStatus.unset, 5],
      ].sort(),
    );
  });

  it("when a call carries no traceparent, then its client span starts a trace of its own", async () => {
    const before = receiver.spans.length;
    await backendClient.client.getProduct({ id: productId });
    const [root] = await eventually(
      async () => receiver.spans.slice(before).filter((s) => s.kind === SpanKind.client),
      (spans) => spans.length >= 1,
      15_000,
    );
    expect(root!.parentSpanId).toBeUndefined();
    expect(receiver.spans.slice(before).find((s) => s.kind === SpanKind.server)?.parentSpanId).toBe(root!.spanId);
  });
});
