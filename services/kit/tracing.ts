// Tracing with OpenTelemetry: a span per RPC served and made, per event published and applied,
// per SQL statement, exported over OTLP/HTTP (JSON) to a collector.
//
// Off unless an endpoint is configured, and then free: the SDK is never imported, and every
// helper here returns at its first line, so the kit passes bare traceparent strings as it always
// did (trace-context.ts). On, the SDK is loaded by startTracing and spans follow OpenTelemetry's
// semantic conventions for RPC, messaging and databases. Only @opentelemetry/api, a small
// package of interfaces, is loaded either way.
import {
  context,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { LogEvent } from "kysely";
import type { TracingConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import { followActiveSpans, spanContextOf, traceParentOf, withTraceParent } from "./trace-context.ts";

export type { Span };

let tracer: Tracer | undefined;

export interface RunningTracing {
  /** Sends what is still buffered (bounded by `timeoutMs`) and turns tracing off. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Starts tracing for the process when the config has an endpoint; does nothing otherwise.
 * Start it before creating the database, whose query spans are set up when it is made.
 */
export async function startTracing(serviceName: string, config: TracingConfig, log: Logger): Promise<RunningTracing> {
  const endpoint = config.tracesEndpoint;
  if (endpoint === undefined) return { stop: async () => undefined };
  const [sdk, { OTLPTraceExporter }, { resourceFromAttributes }, { AsyncLocalStorageContextManager }] =
    await Promise.all([
      import("@opentelemetry/sdk-trace"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/context-async-hooks"),
    ]);
  // The exporter reports failures (collector unreachable, refused batches) through diag.
  const otelLog = log.child({ component: "opentelemetry" });
  diag.setLogger(
    {
      error: (m) => otelLog.warn(m),
      warn: (m) => otelLog.warn(m),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    // SQL text and error messages are the long attributes; a bound keeps a span's size sane.
    spanLimits: { attributeValueLengthLimit: 2_048 },
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: endpoint }),
        scheduledDelayMillis: config.batchDelayMs,
      }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  tracer = provider.getTracer("bazaar");
  followActiveSpans(true);
  log.info({ endpoint }, "tracing on");
  return {
    async stop(timeoutMs = 2_000) {
      tracer = undefined;
      followActiveSpans(false);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([
        provider.shutdown().catch((error) => otelLog.warn({ err: error }, "spans not flushed")),
        late,
      ]);
      clearTimeout(timer);
      context.disable();
      diag.disable();
    },
  };
}

export function tracingOn(): boolean {
  return tracer !== undefined;
}

/** Probes call Health every few seconds; their spans would bury the traces that matter. */
const untracedServices = new Set(["grpc.health.v1.Health"]);

interface RpcSpanShape {
  name: string;
  attributes: Attributes;
}

const rpcShapes = new WeakMap<DescMethod, Map<string, RpcSpanShape>>();

/** Name and attributes of an RPC's spans, made once per method and system (spans copy them). */
function rpcShape(method: DescMethod, system: string): RpcSpanShape {
  let bySystem = rpcShapes.get(method);
  if (!bySystem) rpcShapes.set(method, (bySystem = new Map()));
  let shape = bySystem.get(system);
  if (!shape) {
    shape = {
      name: `${method.parent.typeName}/${method.name}`,
      attributes: { "rpc.system": system, "rpc.service": method.parent.typeName, "rpc.method": method.name },
    };
    bySystem.set(system, shape);
  }
  return shape;
}

/** The context of a traceparent received from elsewhere; the root context when there is none. */
function remoteParent(traceParent: string | null | undefined): Context {
  const parent = spanContextOf(traceParent);
  return parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

/**
 * A SERVER span for a request received with `traceParent`; undefined when tracing is off. Only
 * the header counts as parent: whatever context the connection's events run in is unrelated.
 */
export function startServerSpan(
  name: string,
  attributes: Attributes,
  traceParent: string | null | undefined,
): Span | undefined {
  if (tracer === undefined) return undefined;
  return tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, remoteParent(traceParent));
}

/** A SERVER span for a gRPC call received with `traceParent`; undefined when tracing is off. */
export function startRpcServerSpan(method: DescMethod, traceParent: string | null | undefined): Span | undefined {
  if (tracer === undefined || untracedServices.has(method.parent.typeName)) return undefined;
  const shape = rpcShape(method, "grpc");
  return startServerSpan(shape.name, shape.attributes, traceParent);
}

/**
 * A CLIENT span for an outgoing RPC, child of the active span, or of the traceparent the call
 * carries when it is made outside any span; undefined when tracing is off.
 */
export function startRpcClientSpan(method: DescMethod, traceParent: string | null | undefined): Span | undefined {
  if (tracer === undefined || untracedServices.has(method.parent.typeName)) return undefined;
  const active = context.active();
  const parent = trace.getSpan(active) ? active : remoteParent(traceParent);
  const shape = rpcShape(method, "grpc");
  return tracer.startSpan(shape.name, { kind: SpanKind.CLIENT, attributes: shape.attributes }, parent);
}

/**
 * Codes that mean the server failed; the others are the caller's mistakes or decisions (not
 * found, invalid argument, permission denied…), which leave a SERVER span's status unset, as
 * OpenTelemetry's RPC conventions say. For a client every code but OK is an error.
 */
const serverFaults = new Set<number>([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/**
 * Ends an RPC span with its status code (0 for OK), named as `system` names it: gRPC's number,
 * Connect's error string; a REST request (no system) has only its HTTP status.
 */
export function endRpcSpan(
  span: Span | undefined,
  code: number,
  side: "server" | "client",
  system: string | undefined = "grpc",
): void {
  if (span === undefined) return;
  if (system === "grpc") span.setAttribute("rpc.grpc.status_code", code);
  else if (system === "connect_rpc" && code !== 0) span.setAttribute("rpc.connect_rpc.error_code", codeToString(code));
  if (code !== 0 && (side === "client" || serverFaults.has(code))) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: codeToString(code) });
  }
  span.end();
}

/** A PRODUCER span for publishing an event, child of the traceparent stored with it. */
export function startPublishSpan(
  subject: string,
  messageId: string,
  traceParent: string | null | undefined,
): Span | undefined {
  if (tracer === undefined) return undefined;
  return tracer.startSpan(
    `publish ${subject}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        "messaging.system": "nats",
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": subject,
        "messaging.message.id": messageId,
      },
    },
    remoteParent(traceParent),
  );
}

/** A CONSUMER span for applying an event, child of the traceparent it arrived with. */
export function startProcessSpan(
  consumer: string,
  subject: string,
  messageId: string,
  traceParent: string | null | undefined,
): Span | undefined {
  if (tracer === undefined) return undefined;
  return tracer.startSpan(
    `process ${subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": subject,
        "messaging.consumer.group.name": consumer,
        "messaging.message.id": messageId,
      },
    },
    remoteParent(traceParent),
  );
}

/**
 * Runs work as the span's own, so spans started inside are its children and events written
 * inside carry it. Without a span (tracing off, or an untraced call) the work runs under
 * `traceParent` as before.
 */
export function runInSpan<T>(span: Span | undefined, traceParent: string | null | undefined, work: () => T): T {
  return span ? context.with(trace.setSpan(ROOT_CONTEXT, span), work) : withTraceParent(traceParent, work);
}

/** Ends a span, as failed when there is an error. */
export function endSpan(span: Span | undefined, error?: unknown): void {
  if (span === undefined) return;
  if (error !== undefined)
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  span.end();
}

/** The traceparent that makes a receiver's spans children of `span`. */
export function traceParentOfSpan(span: Span): string {
  return traceParentOf(span.spanContext());
}

/**
 * A kysely `log` hook that records each statement as a CLIENT span of the work that ran it;
 * undefined when tracing is off, so the database is made without one and costs nothing extra.
 * Kysely calls it as the statement finishes, in the caller's async context, with the duration:
 * the span is written after the fact with its real start. Statements run outside any span (the
 * relay's polling, health pings) stay out of traces: they would be roots every second.
 */
export function statementSpans(server: {
  database: string;
  host: string;
  port: number;
}): ((event: LogEvent) => void) | undefined {
  const active = tracer;
  if (active === undefined) return undefined;
  const { database } = server;
  return (event) => {
    const parent = context.active();
    if (trace.getSpan(parent) === undefined) return;
    const end = performance.timeOrigin + performance.now();
    const statement = event.query.sql;
    const operation = (/^\s*(\w+)/.exec(statement)?.[1] ?? "query").toUpperCase();
    const span = active.startSpan(
      `${operation} ${database}`,
      {
        kind: SpanKind.CLIENT,
        startTime: end - event.queryDurationMillis,
        attributes: {
          "db.system.name": "mysql",
          "db.namespace": database,
          "db.operation.name": operation,
          "db.query.text": statement,
          "server.address": server.host,
          "server.port": server.port,
        },
      },
      parent,
    );
    if (event.level === "error") {
      const error = event.error;
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.end(end);
  };
}
