// The bench's results as Markdown: printed at the end of a run and saved beside the JSON.
import type { Measurement } from "../run-scenarios.ts";
import type { BenchReport } from "./bench-report.ts";
import type { RatedMeasurement, Ratio } from "./derived-figures.ts";

const generatorNotes = [
  "**h2load** (nghttp2, C): HTTP/2 over h2c, up to 8 connections with concurrency ÷ connections streams each; judges HTTP status only, so a gRPC answer counts as a success whatever its grpc-status (its one request is checked once before the run).",
  "**wrk** (C, LuaJIT): HTTP/1.1, one request in flight per connection; one thread.",
  "**node driver**: the bench's own node:http2 client in the bench process, for per-request bodies and tokens (many shoppers, one idempotency key per order) and to count non-zero grpc-status. It costs CPU on the same cores: see the `bench (node)` column and its own hello-world baseline.",
  "**mysql2** / **nats.js**: the database and JetStream baselines, clients in the bench process.",
  "**sharp**: the picture baseline, the product service's own renderImage called in the bench process (its CPU is in the `bench (node)` column).",
];

export function renderMarkdown(report: BenchReport): string {
  const rated = report.measurements;
  const general = rated.filter((m) => m.catalogSize === undefined);
  const catalog = rated.filter((m) => m.catalogSize !== undefined);
  const sections = [
    `# Bazaar bench — ${report.startedAt}`,
    describeRun(report),
    "## Throughput and latency",
    "× raw: req/s ÷ the raw hello-world baseline of the same protocol and load generator, at the same concurrency (or its best, for a scenario at a concurrency the sweep skipped). × DB: ÷ the mysql2 baseline the path mostly consists of (primary-key select for reads, reserve-stock transaction for cart and checkout writes). CPU ms/req: CPU time of every process except the load generators (h2load, wrk, the bench process) per request — what a request costs the servers, steadier than req/s on a shared box. SQL/req: statements MariaDB ran per request over the same measured phase (its `Questions` count; every service, consumers and background loops included). Event lag p99: from an event's commit to a consumer applying it, over every event any consumer applied in the measured phase (`bazaar_consumer_event_lag_seconds` on every process's /metrics, interpolated within its buckets).",
    mainTable(general),
    catalog.length > 0
      ? "## Catalog queries by catalog size\n\ngRPC on the product port, node driver. Each cell: req/s · p99 latency ms · server CPU ms per query."
      : "",
    catalog.length > 0 ? catalogTable(catalog) : "",
    sweepTable(rated, report.settings.levels),
    "## CPU and memory per process\n\nCPU as % of one core over the measured phase (warm-up and unmeasured setup excluded; this box has " +
      `${report.machine.cores} cores, so ${report.machine.cores * 100}% is all of it), then the peak resident set / proportional set (PSS) in MB.`,
    usageTable(rated),
    memorySection(report),
    report.eventLag ? eventLagSection(report) : "",
    errorsSection(rated, report),
    `## Load generators\n\n${generatorNotes.map((note) => `- ${note}`).join("\n")}`,
  ];
  return `${sections.filter(Boolean).join("\n\n")}\n`;
}

function describeRun({ machine, settings }: BenchReport): string {
  return [
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Linux ${machine.kernel}; Node ${machine.node}; ${machine.mariadb}; ${machine.natsServer}; ${Object.values(machine.loadGenerators).join(", ")}. Load average when the bench started: ${machine.loadAverageAtStart}.`,
    `Each run: ${settings.warmupSeconds} s warm-up, then ${settings.seconds} s measured. Concurrency levels: ${settings.levels.join(", ")}. ` +
      `Catalog sizes: ${
        settings.catalogSizes
          .filter((n) => n > 0)
          .map((n) => n.toLocaleString("en"))
          .join(", ") || "as found (no products added)"
      }. Shoppers: ${settings.shoppers}. ` +
      "Everything — load generator, edge, services, MariaDB, NATS — shares the same cores.",
  ].join("\n\n");
}

function mainTable(measurements: RatedMeasurement[]): string {
  return table(
    [
      "scenario",
      "protocol",
      "load generator",
      "c",
      "req/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "errors",
      "CPU ms/req",
      "SQL/req",
      "event lag p99 ms",
      "× raw",
      "× DB",
    ],
    ["l", "l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    measurements.map((m) => [
      m.kind === "baseline" ? `*baseline:* ${m.title}` : m.title,
      m.protocol,
      m.generator,
      String(m.concurrency),
      rate(m.figures.requestsPerSecond),
      ms(m.figures.latencyMs.p50),
      ms(m.figures.latencyMs.p95),
      ms(m.figures.latencyMs.p99),
      String(m.figures.errors),
      ms(m.serverCpuMsPerRequest),
      m.statementsPerRequest === undefined ? "" : m.statementsPerRequest.toFixed(1),
      m.eventLag === undefined ? "" : ms(m.eventLag.p99Ms),
      ratio(m.vsRaw),
      ratio(m.vsDatabase),
    ]),
  );
}

function catalogTable(measurements: RatedMeasurement[]): string {
  const sizes = [...new Set(measurements.map((m) => m.catalogSize!))].sort((a, b) => a - b);
  const rows = groupBy(measurements, (m) => m.scenarioId);
  return table(
    ["query", "c", ...sizes.map((size) => `${size.toLocaleString("en")} products`)],
    ["l", "r", ...sizes.map(() => "r" as const)],
    [...rows.values()].map((runs) => [
      runs[0]!.title,
      String(runs[0]!.concurrency),
      ...sizes.map((size) => {
        const run = runs.find((m) => m.catalogSize === size);
        return run
          ? `${rate(run.figures.requestsPerSecond)} · ${ms(run.figures.latencyMs.p99)} · ${ms(run.serverCpuMsPerRequest)}`
          : "";
      }),
    ]),
  );
}

function sweepTable(measurements: RatedMeasurement[], levels: number[]): string {
  const swept = [
    ...groupBy(
      measurements.filter((m) => m.sweep),
      (m) => m.scenarioId,
    ).values(),
  ];
  if (swept.length === 0 || levels.length < 2) return "";
  return [
    "## Concurrency sweep\n\nreq/s at each concurrency (requests in flight); the chart beside these results plots the same.",
    table(
      ["scenario", "protocol", "load generator", ...levels.map((c) => `c=${c}`)],
      ["l", "l", "l", ...levels.map(() => "r" as const)],
      swept.map((runs) => [
        runs[0]!.kind === "baseline" ? `*baseline:* ${runs[0]!.title}` : runs[0]!.title,
        runs[0]!.protocol,
        runs[0]!.generator,
        ...levels.map((c) => {
          const run = runs.find((m) => m.concurrency === c);
          return run ? rate(run.figures.requestsPerSecond) : "";
        }),
      ]),
    ),
  ].join("\n\n");
}

/** Columns in the order a request travels, then the servers, then who made the load. */
const processOrder = [
  "edge",
  "auth",
  "product",
  "cart",
  "order",
  "admin",
  "mariadbd",
  "nats-server",
  "raw hello server",
  "h2load",
  "wrk",
  "bench (node)",
];

function usageTable(measurements: RatedMeasurement[]): string {
  const rank = (name: string) => {
    const index = processOrder.findIndex((known) => name === known || name.startsWith(`${known}-`));
    return index < 0 ? processOrder.length : index;
  };
  const names = [...new Set(measurements.flatMap((m) => m.usage.map((u) => u.name)))].sort(
    (a, b) => rank(a) - rank(b) || a.localeCompare(b),
  );
  return table(
    ["scenario", "c", ...names],
    ["l", "r", ...names.map(() => "r" as const)],
    measurements.map((m) => [
      m.catalogSize === undefined ? label(m) : `${label(m)} (${m.catalogSize.toLocaleString("en")})`,
      String(m.concurrency),
      ...names.map((name) => {
        const usage = m.usage.find((u) => u.name === name);
        return usage
          ? `${Math.round(usage.cpuPercent)}% · ${Math.round(usage.peakRssMb)}/${Math.round(usage.peakPssMb)}`
          : "";
      }),
    ]),
  );
}

/**
 * Idle and peak memory per process. Resident sets count in full the pages of the node binary
 * that every Node process shares; PSS shares them out, so it is what each process really costs.
 */
function memorySection({ idleMemory, measurements }: BenchReport): string {
  if (!idleMemory) return "";
  const peaks = new Map<string, { rssMb: number; pssMb: number }>();
  for (const usage of measurements.flatMap((m) => m.usage)) {
    const peak = peaks.get(usage.name) ?? { rssMb: 0, pssMb: 0 };
    peaks.set(usage.name, {
      rssMb: Math.max(peak.rssMb, usage.peakRssMb),
      pssMb: Math.max(peak.pssMb, usage.peakPssMb),
    });
  }
  return [
    "## Memory per process\n\nMB once the mesh was up, before any load (idle), and the highest seen during any measured run (peak). RSS counts in full the pages of the node binary every Node process shares (~35 MB of Node alone's ~43); PSS divides shared pages among the processes sharing them, so the processes' PSS adds up to what the mesh holds.",
    table(
      ["process", "idle RSS", "idle PSS", "peak RSS", "peak PSS"],
      ["l", "r", "r", "r", "r"],
      idleMemory.map(({ name, rssMb, pssMb }) => {
        const peak = peaks.get(name);
        return [
          name,
          String(Math.round(rssMb)),
          String(Math.round(pssMb)),
          peak ? String(Math.round(peak.rssMb)) : "",
          peak ? String(Math.round(peak.pssMb)) : "",
        ];
      }),
    ),
  ].join("\n\n");
}

function eventLagSection({ eventLag }: BenchReport): string {
  const { ratePerSecond, seconds, paths } = eventLag!;
  return [
    `## Event lag\n\nEvents at a steady ${ratePerSecond}/s for ${seconds} s, ms from the producer's commit (or publish) to the consumer's handler, with the whole mesh running.`,
    table(
      ["path", "events", "p50 ms", "p99 ms", "max ms"],
      ["l", "r", "r", "r", "r"],
      paths.map((p) => [p.path, String(p.events), String(p.p50Ms), String(p.p99Ms), String(p.maxMs)]),
    ),
  ].join("\n\n");
}

function errorsSection(measurements: RatedMeasurement[], report: BenchReport): string {
  const lines = [
    ...measurements
      .filter((m) => m.figures.errors > 0)
      .map((m) => `- ${label(m)}, c=${m.concurrency}: ${JSON.stringify(m.figures.errorReasons)}`),
    ...report.failures.map((f) => `- ${f.scenarioId}, c=${f.concurrency}: run failed: ${f.error}`),
  ];
  return lines.length === 0 ? "" : `## Errors\n\n${lines.join("\n")}`;
}

/** A scenario's name where protocol and generator are not in their own columns. */
function label(m: Measurement): string {
  return `${m.kind === "baseline" ? "baseline: " : ""}${m.title} (${m.protocol}, ${m.generator})`;
}

function table(header: string[], align: Array<"l" | "r">, rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${align.map((a) => (a === "r" ? "---:" : "---")).join("|")}|`,
    ...rows.map((row) => `| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`),
  ].join("\n");
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

const rate = (perSecond: number) => Math.round(perSecond).toLocaleString("en");
const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
const ratio = (r: Ratio | undefined) => (r ? r.ratio.toFixed(r.ratio >= 0.1 ? 2 : 3) : "");
