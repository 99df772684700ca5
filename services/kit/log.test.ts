// Log lines name the trace they were written in, so a line leads to its trace and back.
import { describe, expect, it } from "vitest";
import { createLogger } from "./log.ts";
import { withTraceParent } from "./trace-context.ts";

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger("log-test", "info", { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe("log lines", () => {
  it("when a line is written under a traceparent, then it carries the trace id; outside any, it has none", () => {
    const { log, lines } = capturedLogger();
    withTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", () =>
      log.info({ orderId: "o-1" }, "order placed"),
    );
    log.info("between requests");
    expect(lines).toMatchObject([
      { msg: "order placed", orderId: "o-1", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", service: "log-test" },
      { msg: "between requests" },
    ]);
    expect(lines[1]).not.toHaveProperty("trace_id");
  });

  it("when a line's own fields name a trace id, then they win over the current one", () => {
    const { log, lines } = capturedLogger();
    withTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", () =>
      log.info({ trace_id: "given" }, "explicit"),
    );
    expect(lines[0]).toMatchObject({ trace_id: "given" });
  });
});
