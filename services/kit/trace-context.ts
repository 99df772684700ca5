// The W3C traceparent of the work in progress: set per RPC from the incoming header (or started
// here when the caller sent none) and per consumed event from its NATS header, so events
// written while serving carry the trace of the request that caused them, across NATS.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";

const current = new AsyncLocalStorage<string>();
const traceParentPattern = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Runs work under a traceparent: the given one when it is well-formed, a new root otherwise. */
export function withTraceParent<T>(traceParent: string | null | undefined, work: () => T): T {
  return current.run(traceParentOrNew(traceParent), work);
}

/** The given traceparent when it is well-formed, a new root otherwise. */
export function traceParentOrNew(traceParent: string | null | undefined): string {
  return traceParent && traceParentPattern.test(traceParent) ? traceParent : newTraceParent();
}

export function currentTraceParent(): string | undefined {
  return current.getStore();
}

export function newTraceParent(): string {
  return `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
}
