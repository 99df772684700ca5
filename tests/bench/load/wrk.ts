// wrk, the HTTP/1.1 load generator: C with LuaJIT, one request in flight per connection (HTTP/1.1
// has no multiplexing, so concurrency is the number of connections). It has no warm-up phase of
// its own: a short unreported run comes first.
import { fileURLToPath } from "node:url";
import type { LoadFigures } from "./figures.ts";
import type { HttpLoad } from "./http-load.ts";
import { runTool } from "./run-tool.ts";

const reportScript = fileURLToPath(new URL("wrk-report.lua", import.meta.url));

interface WrkReport {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50Us: number;
  p95Us: number;
  p99Us: number;
  maxUs: number;
}

export async function runWrk(load: HttpLoad): Promise<LoadFigures> {
  const args = (seconds: number) => [
    "-t",
    "1",
    "-c",
    String(load.concurrency),
    "-d",
    `${Math.max(1, Math.round(seconds))}s`,
    "--timeout",
    "30s",
    "-s",
    reportScript,
    ...Object.entries(load.headers ?? {}).flatMap(([name, value]) => ["-H", `${name}: ${value}`]),
    load.url,
  ];
  const env = {
    ...process.env,
    BENCH_METHOD: load.method ?? (load.body ? "POST" : "GET"),
    BENCH_BODY: load.body ? Buffer.from(load.body).toString("utf8") : "",
  };
  if (load.warmupSeconds > 0)
    await runTool({ command: "wrk", args: args(load.warmupSeconds), env, onStart: load.onStart });
  const output = await runTool({ command: "wrk", args: args(load.seconds), env, onStart: load.onStart });
  const line = /^BENCH_RESULT (.*)$/m.exec(output)?.[1];
  if (!line) throw new Error(`wrk printed no result:\n${output}`);
  const report = JSON.parse(line) as WrkReport;
  const seconds = report.durationUs / 1e6;
  // wrk's requests include those answered with a non-2xx/3xx status (its "status" errors).
  const errorReasons = Object.fromEntries(
    (
      [
        ["http non-2xx", report.status],
        ["connect", report.connect],
        ["read", report.read],
        ["write", report.write],
        ["timeout", report.timeout],
      ] as const
    ).filter(([, n]) => n > 0),
  );
  return {
    requests: report.requests,
    seconds,
    requestsPerSecond: report.requests / seconds,
    latencyMs: {
      p50: report.p50Us / 1000,
      p95: report.p95Us / 1000,
      p99: report.p99Us / 1000,
      max: report.maxUs / 1000,
    },
    errors: Object.values(errorReasons).reduce((sum, n) => sum + n, 0),
    errorReasons,
  };
}
