// Figures derived from the measurements: every scenario beside its baselines (throughput divided
// by the raw HTTP baseline of the same protocol and load generator, and by the database baseline
// for paths that mostly query), and what a request costs the servers in CPU time.
import type { Measurement } from "../run-scenarios.ts";

/** Processes that make the load rather than serve it. */
const loadGenerators = new Set(["h2load", "wrk", "bench (node)"]);

export interface Ratio {
  baselineId: string;
  /** Scenario req/s ÷ baseline req/s. */
  ratio: number;
  /** The baseline's concurrency used: the same as the scenario's when it was measured there. */
  baselineConcurrency: number;
}

export interface RatedMeasurement extends Measurement {
  vsRaw?: Ratio;
  vsDatabase?: Ratio;
  /**
   * CPU time of every process but the load generators, per request, in ms: what a request costs
   * the servers. Far steadier than req/s when something else shares the cores.
   */
  serverCpuMsPerRequest: number;
}

export function withDerivedFigures(measurements: Measurement[]): RatedMeasurement[] {
  return measurements.map((m) => ({
    ...m,
    vsRaw: m.rawBaseline ? ratioTo(m, m.rawBaseline, measurements) : undefined,
    vsDatabase: m.dbBaseline ? ratioTo(m, m.dbBaseline, measurements) : undefined,
    serverCpuMsPerRequest: serverCpuMsPerRequest(m),
  }));
}

function serverCpuMsPerRequest(m: Measurement): number {
  const cpuSeconds = m.usage.filter((u) => !loadGenerators.has(u.name)).reduce((sum, u) => sum + u.cpuSeconds, 0);
  return m.figures.requests > 0 ? (cpuSeconds / m.figures.requests) * 1000 : 0;
}

/**
 * Against the baseline at the same concurrency; a scenario with a fixed concurrency the sweep
 * did not include is held against the baseline's best (its ceiling on this box).
 */
function ratioTo(measurement: Measurement, baselineId: string, all: Measurement[]): Ratio | undefined {
  const runs = all.filter((m) => m.scenarioId === baselineId);
  const baseline =
    runs.find((m) => m.concurrency === measurement.concurrency) ??
    runs.reduce<Measurement | undefined>(
      (best, m) => (best && best.figures.requestsPerSecond >= m.figures.requestsPerSecond ? best : m),
      undefined,
    );
  if (!baseline || baseline.figures.requestsPerSecond === 0) return undefined;
  return {
    baselineId,
    ratio: measurement.figures.requestsPerSecond / baseline.figures.requestsPerSecond,
    baselineConcurrency: baseline.concurrency,
  };
}
