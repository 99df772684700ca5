// Event lag while a path runs: every durable consumer of the mesh observes, per event it applies,
// the time from the event's commit (its occur_time) to the apply, in the histogram
// bazaar_consumer_event_lag_seconds. Read from every process's /metrics where a measured phase
// starts and ends, the difference is the lag of the events the path itself caused — M14 asks
// for p99 < 100 ms *while* checkouts run, which the idle event-lag scenario cannot show.
// Counted between the same resume() and pause() as the CPU and the statements.
import { phaseReadings } from "./phase-readings.ts";

export interface EventLagFigures {
  /** Events applied by any consumer over the measured phases (each consumer counts apart). */
  events: number;
  p50Ms: number;
  p99Ms: number;
  /** The consumers with the highest p99, highest first (at most three). */
  slowest: Array<{ consumer: string; events: number; p99Ms: number }>;
}

export interface EventLagCounter {
  resume(): void;
  pause(): void;
  /** Undefined when no consumer applied anything while measured. */
  figures(): Promise<EventLagFigures | undefined>;
}

const series = "bazaar_consumer_event_lag_seconds_bucket";

/** Cumulative counts by upper bound ("+Inf" last). */
type Buckets = Map<number, number>;
/** Buckets by consumer name, summed over the processes (replicas) that run it. */
type ByConsumer = Map<string, Buckets>;

export function countEventLag(metricsUrls: string[]): EventLagCounter {
  const read = async (): Promise<ByConsumer> => {
    const texts = await Promise.all(
      metricsUrls.map((url) =>
        fetch(url)
          .then((response) => response.text())
          .catch(() => ""),
      ),
    );
    return bucketsByConsumer(texts);
  };
  const readings = phaseReadings(read);
  return {
    resume: readings.resume,
    pause: readings.pause,
    async figures() {
      const measured: ByConsumer = new Map();
      for (const { from, to } of await readings.phases()) {
        for (const [consumer, buckets] of to) {
          const before = from.get(consumer);
          const delta = [...buckets].map(([le, count]) => [le, count - (before?.get(le) ?? 0)] as [number, number]);
          addInto(measured, consumer, new Map(delta));
        }
      }
      const all: Buckets = new Map();
      for (const buckets of measured.values())
        for (const [le, count] of buckets) all.set(le, (all.get(le) ?? 0) + count);
      const events = all.get(Number.POSITIVE_INFINITY) ?? 0;
      if (events <= 0) return undefined;
      const slowest = [...measured]
        .map(([consumer, buckets]) => ({
          consumer,
          events: buckets.get(Number.POSITIVE_INFINITY) ?? 0,
          p99Ms: quantileMs(buckets, 0.99),
        }))
        .filter((consumer) => consumer.events > 0)
        .sort((a, b) => b.p99Ms - a.p99Ms)
        .slice(0, 3);
      return { events, p50Ms: quantileMs(all, 0.5), p99Ms: quantileMs(all, 0.99), slowest };
    },
  };
}

export function bucketsByConsumer(metricsTexts: string[]): ByConsumer {
  const byConsumer: ByConsumer = new Map();
  for (const text of metricsTexts) {
    for (const line of text.split("\n")) {
      if (!line.startsWith(series)) continue;
      const le = /le="([^"]+)"/.exec(line)?.[1];
      const consumer = /consumer="([^"]+)"/.exec(line)?.[1];
      if (le === undefined || consumer === undefined) continue;
      const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
      addInto(byConsumer, consumer, new Map([[bound, Number(line.slice(line.lastIndexOf(" ") + 1))]]));
    }
  }
  return byConsumer;
}

function addInto(byConsumer: ByConsumer, consumer: string, counts: Buckets): void {
  const sums = byConsumer.get(consumer) ?? new Map<number, number>();
  for (const [bound, count] of counts) sums.set(bound, (sums.get(bound) ?? 0) + count);
  byConsumer.set(consumer, sums);
}

/**
 * The q-quantile in ms, interpolated inside its bucket as Prometheus's histogram_quantile does;
 * in the +Inf bucket, the highest finite bound (the lag is at least that).
 */
export function quantileMs(cumulative: Buckets, q: number): number {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  const total = cumulative.get(Number.POSITIVE_INFINITY) ?? 0;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bound of bounds) {
    const count = cumulative.get(bound)!;
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return lowerBound * 1000;
      const inBucket = count - lowerCount;
      const fraction = inBucket === 0 ? 1 : (rank - lowerCount) / inBucket;
      return (lowerBound + (bound - lowerBound) * fraction) * 1000;
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound * 1000;
}
