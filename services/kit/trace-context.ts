// The trace of the work in progress, as a W3C traceparent: set per RPC from the incoming header
// (or started here when the caller sent none) and per consumed event from its NATS header, so
// events written while serving carry the trace of the request that caused them, across NATS.
//
// It is held one of two ways. With tracing off (the default) it is the bare traceparent string
// in an AsyncLocalStorage: no spans, the caller's ids passed on as they came. With tracing on
// (tracing.ts) it is OpenTelemetry's active context, and the traceparent is the active span's.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomFillSync } from "node:crypto";
import { context, isSpanContextValid, ROOT_CONTEXT, trace, type SpanContext } from "@opentelemetry/api";

const current = new AsyncLocalStorage<string>();
const traceParentPattern = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
let spansOn = false;

/** Called by tracing.ts when it starts and stops: the current trace is then the active span's. */
export function followActiveSpans(on: boolean): void {
  spansOn = on;
}

/** Runs work under a traceparent: the given one when it is well-formed, a new root otherwise. */
export function withTraceParent<T>(traceParent: string | null | undefined, work: () => T): T {
  if (!spansOn) return current.run(traceParentOrNew(traceParent), work);
  const parent = spanContextOf(traceParent);
  return context.with(parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT, work);
}

/** The given traceparent when it is well-formed, a new root otherwise. */
export function traceParentOrNew(traceParent: string | null | undefined): string {
  return traceParent && traceParentPattern.test(traceParent) ? traceParent : newTraceParent();
}

export function currentTraceParent(): string | undefined {
  if (!spansOn) return current.getStore();
  const span = trace.getSpan(context.active());
  return span ? traceParentOf(span.spanContext()) : undefined;
}

/** The 32 hex digits of the current trace's id, for log lines. */
export function currentTraceId(): string | undefined {
  if (!spansOn) return current.getStore()?.slice(3, 35);
  return trace.getSpan(context.active())?.spanContext().traceId;
}

// Random ids are cut from a pool filled a few kilobytes at a time: a crypto call per request
// for 24 bytes cost the edge about 6 % of its CPU on a cached read.
const idPool = Buffer.alloc(24 * 512);
let idPoolOffset = idPool.length;

export function newTraceParent(): string {
  if (idPoolOffset === idPool.length) {
    randomFillSync(idPool);
    idPoolOffset = 0;
  }
  const start = idPoolOffset;
  idPoolOffset += 24;
  return `00-${idPool.toString("hex", start, start + 16)}-${idPool.toString("hex", start + 16, start + 24)}-01`;
}

/** A traceparent as an OpenTelemetry span context of a remote parent; undefined when malformed. */
export function spanContextOf(traceParent: string | null | undefined): SpanContext | undefined {
  if (!traceParent || !traceParentPattern.test(traceParent)) return undefined;
  const spanContext: SpanContext = {
    traceId: traceParent.slice(3, 35),
    spanId: traceParent.slice(36, 52),
    traceFlags: Number.parseInt(traceParent.slice(53, 55), 16),
    isRemote: true,
  };
  // All-zero ids are well-formed but invalid (W3C): the work starts a trace of its own.
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

export function traceParentOf(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${spanContext.traceFlags.toString(16).padStart(2, "0")}`;
}
