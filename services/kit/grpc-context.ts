// The HandlerContext of a call served by grpc-js, built lazily.
//
// Why not connect's createHandlerContext: it eagerly copies metadata into Headers, links three
// AbortSignals, arms a deadline timer and, when the call ends, aborts with a fresh DOMException.
// Profiled under load that was a third of the adapter's CPU. Most handlers never look at the
// headers or the signal, so here each piece is made on first use, and finishing a call that
// nobody listened to costs nothing.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { headersFromMetadata } from "./grpc-status.ts";

// Shared reasons: an abort reason is only read, never mutated, so one instance serves all.
const cancelledByClient = new ConnectError("client cancelled the call", Code.Canceled);
const deadlineExceeded = new ConnectError("deadline exceeded", Code.DeadlineExceeded);
const callFinished = new ConnectError("call finished", Code.Canceled);

type ServerCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

export class GrpcHandlerContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly values: ContextValues = createContextValues();
  readonly #call: ServerCall;
  readonly #deadlineMs: number;
  readonly #shutdownSignal: AbortSignal | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(method: DescMethod, call: ServerCall, shutdownSignal?: AbortSignal) {
    this.method = method;
    this.service = method.parent;
    this.#call = call;
    this.#shutdownSignal = shutdownSignal;
    const deadline = call.getDeadline();
    this.#deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  }

  get url(): string {
    return this.#call.getPath();
  }

  /** The IP address of the connection's other end. */
  get peerAddress(): string {
    // grpc-js reports "1.2.3.4:port" or "[::1]:port".
    return this.#call
      .getPeer()
      .replace(/^ipv[46]:/, "")
      .replace(/:\d+$/, "")
      .replace(/^\[|\]$/g, "");
  }

  get requestHeader(): Headers {
    return (this.#requestHeader ??= headersFromMetadata(this.#call.metadata));
  }

  get responseHeader(): Headers {
    return (this.#responseHeader ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.#responseTrailer ??= new Headers());
  }

  /** Response headers or trailers a handler set, if any; never allocates. */
  get setResponseHeader(): Headers | undefined {
    return this.#responseHeader;
  }

  get setResponseTrailer(): Headers | undefined {
    return this.#responseTrailer;
  }

  /** One metadata value without building Headers. */
  metadataValue(key: string): string | undefined {
    const value = this.#call.metadata.get(key)[0];
    return typeof value === "string" ? value : undefined;
  }

  timeoutMs = (): number | undefined =>
    Number.isFinite(this.#deadlineMs) ? Math.max(0, this.#deadlineMs - Date.now()) : undefined;

  get signal(): AbortSignal {
    if (!this.#controller) {
      const controller = (this.#controller = new AbortController());
      if (this.#call.cancelled) controller.abort(cancelledByClient);
      this.#call.once("cancelled", () => controller.abort(cancelledByClient));
      const remaining = this.timeoutMs();
      if (remaining !== undefined) this.#timer = setTimeout(() => controller.abort(deadlineExceeded), remaining);
      const shutdown = this.#shutdownSignal;
      if (shutdown?.aborted) controller.abort(shutdown.reason);
      else
        shutdown?.addEventListener("abort", () => controller.abort(shutdown.reason), {
          once: true,
          signal: controller.signal,
        });
    }
    return this.#controller.signal;
  }

  /** Why the call's signal aborted, if it did. */
  get abortReason(): unknown {
    return this.#controller?.signal.aborted ? this.#controller.signal.reason : undefined;
  }

  /** Ends the call's signal so downstream calls made for it stop; free when nobody listened. */
  finish(): void {
    clearTimeout(this.#timer);
    this.#controller?.abort(callFinished);
  }
}

/** One request header's value; over gRPC without building the whole Headers object. */
export function requestHeaderValue(ctx: HandlerContext, name: string): string | undefined {
  if (ctx instanceof GrpcHandlerContext) return ctx.metadataValue(name);
  return ctx.requestHeader.get(name) ?? undefined;
}
