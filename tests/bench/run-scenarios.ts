// Runs scenarios one after another, each at its concurrency levels, with a progress line before
// and the figures after, sampling every watched process's CPU and memory during each run.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadFigures, LoadGenerator } from "./load/figures.ts";
import { UsageSampler, type ProcessUsage } from "./process-usage.ts";
import type { RunContext, Scenario } from "./scenarios/scenario.ts";
import { countEventLag, type EventLagFigures } from "./event-lag-count.ts";
import { countStatements } from "./statement-count.ts";

export interface Measurement {
  scenarioId: string;
  title: string;
  kind: Scenario["kind"];
  generator: LoadGenerator;
  protocol: Scenario["protocol"];
  concurrency: number;
  /** Part of the concurrency sweep (measured at every level). */
  sweep: boolean;
  catalogSize?: number;
  rawBaseline?: string;
  dbBaseline?: string;
  figures: LoadFigures;
  usage: ProcessUsage[];
  /** SQL statements the database ran per request while measured (all services together). */
  statementsPerRequest?: number;
  /** Commit → consumer lag of the events applied while measured (all consumers together). */
  eventLag?: EventLagFigures;
}

export interface FailedRun {
  scenarioId: string;
  concurrency: number;
  error: string;
}

export interface RunSettings {
  /** --concurrency, for the scenarios that sweep. */
  levels: number[];
  warmupSeconds: number;
  seconds: number;
  /** Processes to sample in every run, by name; a name may repeat. */
  processes: Array<readonly [string, number]>;
  /** The mesh's database, whose statement count each run reports; absent when not reachable. */
  mysqlUrl?: string;
  /** Every mesh process's /metrics, whose consumers' event lag each run reports. */
  metricsUrls: string[];
  log: (line: string) => void;
}

/** How far along the whole bench is, for the progress lines. */
export interface Progress {
  done: number;
  total: number;
  startedAt: number;
}

export function levelsOf(scenario: Scenario, levels: number[]): number[] {
  return scenario.sweep ? levels : [scenario.concurrency ?? levels.at(-1)!];
}

export async function runScenarios(
  scenarios: Scenario[],
  settings: RunSettings,
  progress: Progress,
): Promise<{ measurements: Measurement[]; failures: FailedRun[] }> {
  const measurements: Measurement[] = [];
  const failures: FailedRun[] = [];
  const workDir = await mkdtemp(join(tmpdir(), "bazaar-bench-load-"));
  try {
    for (const scenario of scenarios) {
      for (const concurrency of levelsOf(scenario, settings.levels)) {
        progress.done += 1;
        const elapsed = Math.round((performance.now() - progress.startedAt) / 1000);
        const size =
          scenario.catalogSize === undefined ? "" : ` · ${scenario.catalogSize.toLocaleString("en")} products`;
        settings.log(
          `▶ [${progress.done}/${progress.total} · ${elapsed} s] ${scenario.title}${size} · ${scenario.protocol} · ${scenario.generator} · c=${concurrency}`,
        );
        try {
          const measurement = await runOnce(scenario, concurrency, settings, workDir);
          measurements.push(measurement);
          settings.log(`  ${summaryLine(measurement)}`);
        } catch (error) {
          const message = String((error as Error).message ?? error);
          failures.push({ scenarioId: scenario.id, concurrency, error: message });
          settings.log(`  FAILED: ${message}`);
        }
      }
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return { measurements, failures };
}

async function runOnce(
  scenario: Scenario,
  concurrency: number,
  settings: RunSettings,
  workDir: string,
): Promise<Measurement> {
  // The bench process is the load generator of the node driver, mysql2 and nats.js runs.
  const sampler = new UsageSampler([...settings.processes, ["bench (node)", process.pid]]);
  // The database baselines are the database's own load, not a path's: not counted.
  const statements =
    settings.mysqlUrl && scenario.protocol !== "MySQL" ? await countStatements(settings.mysqlUrl) : undefined;
  const eventLag = settings.metricsUrls.length > 0 ? countEventLag(settings.metricsUrls) : undefined;
  const measuring = {
    resume: () => {
      sampler.resume();
      statements?.resume();
      eventLag?.resume();
    },
    pause: () => {
      sampler.pause();
      statements?.pause();
      eventLag?.pause();
    },
  };
  const run: RunContext = {
    concurrency,
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.seconds,
    workDir,
    watch: (name, pid) => sampler.watch(name, pid),
    sampling: measuring,
  };
  let warmedUp: NodeJS.Timeout | undefined;
  try {
    await scenario.prepare?.(run);
    if (scenario.phases !== "self") warmedUp = setTimeout(() => measuring.resume(), settings.warmupSeconds * 1000);
    const figures = await scenario.measure(run);
    measuring.pause();
    const statementCount = await statements?.total();
    const lag = await eventLag?.figures();
    return {
      scenarioId: scenario.id,
      title: scenario.title,
      kind: scenario.kind,
      generator: scenario.generator,
      protocol: scenario.protocol,
      concurrency,
      sweep: scenario.sweep,
      catalogSize: scenario.catalogSize,
      rawBaseline: scenario.rawBaseline,
      dbBaseline: scenario.dbBaseline,
      figures,
      usage: sampler.stop(),
      ...(statementCount !== undefined &&
        figures.requests > 0 && { statementsPerRequest: statementCount / figures.requests }),
      ...(lag && { eventLag: lag }),
    };
  } finally {
    clearTimeout(warmedUp);
    sampler.stop();
    await statements?.close();
  }
}

function summaryLine({ figures, usage, statementsPerRequest, eventLag }: Measurement): string {
  const { p50, p95, p99 } = figures.latencyMs;
  const errors = figures.errors === 0 ? "0 errors" : `${figures.errors} errors ${JSON.stringify(figures.errorReasons)}`;
  const busiest = [...usage]
    .sort((a, b) => b.cpuPercent - a.cpuPercent)
    .slice(0, 4)
    .map((u) => `${u.name} ${Math.round(u.cpuPercent)}%`)
    .join(", ");
  const sql = statementsPerRequest === undefined ? "" : ` · SQL ${statementsPerRequest.toFixed(1)}/req`;
  const lag = eventLag
    ? ` · event lag p50 ${eventLag.p50Ms.toFixed(1)} p99 ${eventLag.p99Ms.toFixed(1)} ms (${eventLag.events} applied; slowest ${eventLag.slowest.map((c) => `${c.consumer} ${c.p99Ms.toFixed(0)}`).join(", ")})`
    : "";
  return `${Math.round(figures.requestsPerSecond).toLocaleString("en")} req/s · p50 ${p50.toFixed(2)} p95 ${p95.toFixed(2)} p99 ${p99.toFixed(2)} ms · ${errors} · CPU ${busiest}${sql}${lag}`;
}
