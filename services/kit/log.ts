// Structured JSON logs. One root logger per process, named after the service; request-scoped
// children carry the request id so a line can be joined with the edge's and the caller's, and
// every line written while a trace is current carries its trace_id, to find the trace of a line.
import { pino, type DestinationStream, type Logger } from "pino";
import { currentTraceId } from "./trace-context.ts";

export type { Logger };

/** Lines go to stdout unless a `destination` is given (tests). */
export function createLogger(service: string, level = "info", destination?: DestinationStream): Logger {
  const options = {
    name: service,
    level,
    base: { service },
    // Runs only for lines that are written, not for levels filtered out. Pino merges the line
    // into the object returned, so it must be a new one each time.
    mixin: () => {
      const traceId = currentTraceId();
      return traceId === undefined ? {} : { trace_id: traceId };
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
