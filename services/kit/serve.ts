// Serves Connect-style ServiceImpls over gRPC with @grpc/grpc-js.
//
// Why not connect-node's own gRPC server: on this hardware grpc-js answers ~5x the unary calls
// (see NOTES.md). Handlers stay written once as `ServiceImpl<typeof XService>` with
// `ConnectError`, so the same impl also runs in memory in unit tests (createRouterTransport,
// through testing/in-memory.ts, which reuses the request checks and error translation below).
import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import {
  create,
  fromBinary,
  isMessage,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
} from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { createValidator, violationsToProto, type Validator } from "@bufbuild/protovalidate";
import { isConnectionError } from "./db.ts";
import { GrpcHandlerContext } from "./grpc-context.ts";
import { grpcStatusFromError, metadataFromHeaders } from "./grpc-status.ts";
import type { Logger } from "./log.ts";
import { rpcServerRecorder } from "./metrics.ts";
import { endRpcSpan, runInSpan, startRpcServerSpan } from "./tracing.ts";

/** A service descriptor with its implementation; build with `bind` for type checking. */
export interface ServiceBinding {
  service: DescService;
  impl: Record<string, AnyHandler>;
}

/** A handler as the server sees it: its arguments are checked by `ServiceImpl` in `bind`. */
type AnyHandler = (...args: any[]) => unknown;

export function bind<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceBinding {
  return { service, impl: impl as unknown as Record<string, AnyHandler> };
}

/** Runs before every handler; throw a ConnectError to refuse the call (e.g. authentication). */
export type RequestHook = (ctx: HandlerContext) => void | Promise<void>;

export interface ServeOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  services: ServiceBinding[];
  log: Logger;
  hooks?: RequestHook[];
  /** Connections are cut after this long without traffic, so dead peers don't pin memory. */
  maxConnectionIdleMs?: number;
}

export interface RunningServer {
  port: number;
  /** Stops accepting, lets in-flight calls finish for up to `graceMs`, then cancels the rest. */
  close(graceMs?: number): Promise<void>;
}

export const requestIdKey = createContextKey<string>("", { description: "request id" });

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 4 * 1024 * 1024,
    "grpc.max_connection_idle_ms": options.maxConnectionIdleMs ?? 5 * 60_000,
    // Callers keep their connections for ever otherwise, and a replica added by the autoscaler
    // would get no calls from them: after this age the server asks the client to reconnect
    // (GOAWAY; calls and streams in flight finish), and the client re-resolves the replicas.
    "grpc.max_connection_age_ms": 5 * 60_000,
    "grpc.keepalive_permit_without_calls": 1,
    // Per-call bookkeeping (about a tenth of a unary call's CPU) for a channelz service that
    // nothing here serves.
    "grpc.enable_channelz": 0,
  });
  const validator = createValidator();
  // Streams (Health.Watch, WatchOrders) can last for hours: on shutdown they end with
  // UNAVAILABLE so clients reconnect to another replica, while unary calls drain normally.
  const shutdown = new AbortController();
  for (const binding of options.services) {
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of binding.service.methods) {
      const impl = binding.impl[method.localName];
      if (!impl) throw new Error(`${binding.service.typeName} has no implementation of ${method.name}`);
      definition[method.name] = methodDefinition(method);
      handlers[method.name] = handlerFor(method, impl.bind(binding.impl), validator, options, shutdown.signal);
    }
    server.addService(definition, handlers);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.address, grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    ),
  );
  return {
    port,
    close: (graceMs = 8_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

function methodDefinition(method: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (message) => Buffer.from(toBinary(method.input, message as never)),
    requestDeserialize: (bytes: Buffer) => decodeRequest(method.input, bytes),
    responseSerialize: (message) => encodeAnswer(method.output, message as never),
    responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
  };
}

/** The bytes of answers handed out more than once; null until first sent. */
const encodedAnswers = new WeakMap<object, Buffer | null>();

/**
 * Marks `message` as an answer the handler hands out again and again unchanged (a read cache's):
 * the server encodes it the first time only. It must not be changed afterwards.
 */
export function reusedAnswer<T extends object>(message: T): T {
  encodedAnswers.set(message, null);
  return message;
}

function encodeAnswer(schema: DescMessage, message: object): Buffer {
  const encoded = encodedAnswers.get(message);
  if (encoded) return encoded;
  const bytes = Buffer.from(toBinary(schema, message as never));
  if (encoded === null) encodedAnswers.set(message, bytes);
  return bytes;
}

/**
 * grpc-js answers INTERNAL when a deserializer throws, but bytes that are not the request message
 * (truncated, not protobuf, strings that are not UTF-8) are the caller's mistake: they reach the
 * handler as the INVALID_ARGUMENT that validation throws.
 */
function decodeRequest(schema: DescMessage, bytes: Buffer): unknown {
  try {
    return fromBinary(schema, bytes);
  } catch (error) {
    return new ConnectError(
      `cannot decode the ${schema.typeName} request: ${(error as Error).message}`,
      Code.InvalidArgument,
    );
  }
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> & grpc.ServerWritableStream<unknown, unknown>;

function handlerFor(
  method: DescMethod,
  impl: AnyHandler,
  validator: Validator,
  options: ServeOptions,
  shutdownSignal: AbortSignal,
) {
  const validate = requestValidation(method, validator);
  const output = (value: unknown) => (isMessage(value, method.output) ? value : create(method.output, value as never));

  const calls = rpcServerRecorder(method);

  // Resolves to the status to send when the call failed, undefined when it succeeded or the
  // client is gone (nothing can be sent then).
  const run = (call: AnyCall, body: (ctx: GrpcHandlerContext) => Promise<void>) => {
    const started = performance.now();
    calls.started();
    const ctx = contextFor(method, call, method.methodKind === "unary" ? undefined : shutdownSignal);
    const traceParent = ctx.metadataValue("traceparent");
    const span = startRpcServerSpan(method, traceParent);
    // Errors are logged inside the span too, so their lines carry the trace id.
    return runInSpan(span, traceParent, async () => {
      let code: Code | 0 = 0;
      try {
        for (const hook of options.hooks ?? []) await hook(ctx);
        await body(ctx);
        return undefined;
      } catch (error) {
        const connectError = toWireError(error, ctx, options.log);
        code = connectError.code;
        return call.cancelled ? undefined : grpcStatusFromError(connectError);
      } finally {
        ctx.finish();
        const ms = performance.now() - started;
        calls.record(code, ms / 1000);
        endRpcSpan(span, code, "server");
        options.log.debug(
          { method: method.name, code, ms: Math.round(ms * 10) / 10, requestId: ctx.values.get(requestIdKey) },
          "rpc",
        );
      }
    });
  };

  switch (method.methodKind) {
    case "unary":
      return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        run(call as AnyCall, async (ctx) => {
          const response = output(await impl(await validate(call.request), ctx));
          sendHeaders(call, ctx);
          callback(null, response, trailerOf(ctx));
        }).then((status) => status && callback(status));
      };
    case "server_streaming":
      return (call: grpc.ServerWritableStream<unknown, unknown>) => {
        run(call as AnyCall, async (ctx) => {
          const responses = impl(await validate(call.request), ctx) as AsyncIterable<unknown>;
          let first = true;
          for await (const response of responses) {
            if (first) sendHeaders(call, ctx);
            first = false;
            if (!call.write(output(response))) await onceDrained(call, ctx.signal);
          }
          call.end(trailerOf(ctx));
        }).then((status) => status && call.emit("error", status));
      };
    case "client_streaming":
      return (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        run(call as unknown as AnyCall, async (ctx) => {
          const response = output(await impl(validated(call, validate), ctx));
          sendHeaders(call, ctx);
          callback(null, response, trailerOf(ctx));
        }).then((status) => status && callback(status));
      };
    case "bidi_streaming":
      return (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        run(call as unknown as AnyCall, async (ctx) => {
          for await (const response of impl(validated(call, validate), ctx) as AsyncIterable<unknown>) {
            if (!call.write(output(response))) await onceDrained(call, ctx.signal);
          }
          call.end(trailerOf(ctx));
        }).then((status) => status && call.emit("error", status));
      };
  }
}

/**
 * Checks a request against its protovalidate rules before any handler sees it: a request that
 * breaks one answers invalid_argument with the field violations as a detail.
 */
export function requestValidation(method: DescMethod, validator: Validator): (message: unknown) => Promise<unknown> {
  return async (message) => {
    if (message instanceof ConnectError) throw message;
    const result = validator.validate(method.input, message as never);
    if (result.kind === "valid") return message;
    if (result.kind === "invalid") {
      const [violations, schema] = violationsToProto(result.violations);
      throw new ConnectError(result.violations.map(String).join("; "), Code.InvalidArgument, undefined, [
        { desc: schema, value: violations },
      ]);
    }
    throw result.error;
  };
}

function contextFor(method: DescMethod, call: AnyCall, shutdownSignal: AbortSignal | undefined): GrpcHandlerContext {
  const ctx = new GrpcHandlerContext(method, call, shutdownSignal);
  ctx.values.set(requestIdKey, ctx.metadataValue("x-request-id") ?? randomUUID());
  return ctx;
}

/** Turns anything a handler threw into what may go on the wire; logs what must not. */
export function toWireError(error: unknown, ctx: HandlerContext, log: Logger): ConnectError {
  if (error instanceof ConnectError) {
    if (error.code === Code.Internal || error.code === Code.Unknown) {
      log.error({ err: error, method: ctx.method.name, requestId: ctx.values.get(requestIdKey) }, "rpc failed");
    }
    return error;
  }
  const abortReason = ctx instanceof GrpcHandlerContext ? ctx.abortReason : ctx.signal.aborted && ctx.signal.reason;
  if (abortReason instanceof ConnectError) return abortReason;
  if (isConnectionError(error)) {
    log.warn({ err: error, method: ctx.method.name }, "database unavailable");
    return new ConnectError("a dependency is unavailable, retry later", Code.Unavailable);
  }
  // A driver or programming error: its message may hold SQL or addresses, so it stays in the log.
  log.error({ err: error, method: ctx.method.name, requestId: ctx.values.get(requestIdKey) }, "rpc failed");
  return new ConnectError("internal error", Code.Internal);
}

/**
 * A request stream's messages, validated. A stream cut off before its end (the client went, or
 * grpc-js refused a message and ended it) ends the call as cancelled, not as the handler's fault.
 */
async function* validated(stream: AsyncIterable<unknown>, validate: (m: unknown) => Promise<unknown>) {
  try {
    for await (const message of stream) yield await validate(message);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE")
      throw new ConnectError("the request stream ended early", Code.Canceled);
    throw error;
  }
}

function sendHeaders(call: { sendMetadata(m: grpc.Metadata): void }, ctx: GrpcHandlerContext) {
  if (ctx.setResponseHeader) call.sendMetadata(metadataFromHeaders(ctx.setResponseHeader));
}

function trailerOf(ctx: GrpcHandlerContext): grpc.Metadata | undefined {
  return ctx.setResponseTrailer ? metadataFromHeaders(ctx.setResponseTrailer) : undefined;
}

function onceDrained(stream: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    stream.once("drain", () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
