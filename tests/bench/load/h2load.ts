// h2load (Debian nghttp2-client), the HTTP/2 load generator: C, one thread, many streams per
// connection. Percentiles come from its per-request log (its summary has only a mean), and it
// judges only the HTTP status: a gRPC answer is 200 whatever its grpc-status.
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { figuresFrom, type LoadFigures } from "./figures.ts";
import type { HttpLoad } from "./http-load.ts";
import { runTool } from "./run-tool.ts";

/** More connections than this only multiply what one stream-multiplexing connection already does. */
const maxConnections = 8;

export async function runH2load(load: HttpLoad): Promise<LoadFigures> {
  const connections = Math.min(load.concurrency, maxConnections);
  const logFile = join(load.workDir, "h2load.log");
  const args = [
    "-D",
    String(load.seconds),
    `--warm-up-time=${load.warmupSeconds}`,
    "-c",
    String(connections),
    "-m",
    String(Math.ceil(load.concurrency / connections)),
    "-t",
    "1",
    `--log-file=${logFile}`,
  ];
  if (load.body) {
    const bodyFile = join(load.workDir, "h2load-body.bin");
    await writeFile(bodyFile, load.body);
    args.push("-d", bodyFile);
  }
  for (const [name, value] of Object.entries(load.headers ?? {})) args.push("-H", `${name}: ${value}`);
  // h2load appends to its log file.
  await rm(logFile, { force: true });
  const output = await runTool({ command: "h2load", args: [...args, load.url], onStart: load.onStart });
  const fromLog = figuresFromLog(await readFile(logFile, "utf8"), load.seconds);
  await rm(logFile, { force: true });
  // The summary's rate covers the measured phase exactly; requests cut off when it ended are in
  // the log without a status, and requests that never got an answer are only in the summary.
  const requestsPerSecond = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(output)?.[1] ?? 0);
  const summary = /(\d+) errored, (\d+) timeout/.exec(output);
  const errorReasons = { ...fromLog.errorReasons };
  for (const [reason, count] of [
    ["connection error", Number(summary?.[1] ?? 0)],
    ["timeout", Number(summary?.[2] ?? 0)],
  ] as const) {
    if (count > 0) errorReasons[reason] = count;
  }
  return {
    ...fromLog,
    requests: Math.round(requestsPerSecond * load.seconds),
    requestsPerSecond,
    errors: Object.values(errorReasons).reduce((sum, n) => sum + n, 0),
    errorReasons,
  };
}

/** One line per measured request: start time µs, HTTP status (0: cut off unanswered at the end), duration µs. */
function figuresFromLog(log: string, seconds: number): LoadFigures {
  const answered = log
    .split("\n")
    .map((line) => line.split("\t"))
    .filter(([, status]) => status !== undefined && status !== "0");
  const latenciesMs = Float64Array.from(answered, ([, , durationUs]) => Number(durationUs) / 1000);
  const errorReasons: Record<string, number> = {};
  for (const [, status] of answered) {
    if (!status!.startsWith("2")) errorReasons[`http ${status}`] = (errorReasons[`http ${status}`] ?? 0) + 1;
  }
  return figuresFrom(latenciesMs, seconds, errorReasons);
}
