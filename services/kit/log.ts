// Structured JSON logs. One root logger per process, named after the service; request-scoped
// children carry the request id so a line can be joined with the edge's and the caller's.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(service: string, level = "info"): Logger {
  return pino({ name: service, level, base: { service } });
}
