// Event lag while a path runs: every durable consumer of the mesh observes, per event it applies,
// the time from the event's commit (its occur_time) to the apply, in the histogram
// bazaar_consumer_event_lag_seconds. Read from every process's /metrics where a measured phase
// starts and ends, the difference is the lag of the events the path itself caused — M14 asks
// for p99 < 100 ms *while* checkouts run, which the idle event-lag scenario cannot show.
// Counted between the same resume() and pause() as the CPU and the statements.

export interface EventLagFigures {
  /** Events applied by any consumer over the measured phases (each consumer counts apart). */
  events: number;
  p50Ms: number;
  p99Ms: number;
}

export interface EventLagCounter {
  resume(): void;
  pause(): void;
  /** Undefined when no consumer applied anything while measured. */
  figures(): Promise<EventLagFigures | undefined>;
}

const series = "bazaar_consumer_event_lag_seconds_bucket";

/** Cumulative counts by upper bound ("+Inf" last), summed over every consumer of every process. */
type Buckets = Map<number, number>;

export function countEventLag(metricsUrls: string[]): EventLagCounter {
  const read = async (): Promise<Buckets> => {
    const texts = await Promise.all(
      metricsUrls.map((url) =>
        fetch(url)
          .then((response) => response.text())
          .catch(() => ""),
      ),
    );
    return sumBuckets(texts);
  };
  const marks: Array<{ phase: "from" | "to"; buckets: Promise<Buckets> }> = [];
  let running = false;
  const pause = () => {
    if (!running) return;
    running = false;
    marks.push({ phase: "to", buckets: read() });
  };
  return {
    resume() {
      if (running) return;
      running = true;
      marks.push({ phase: "from", buckets: read() });
    },
    pause,
    async figures() {
      pause();
      const measured: Buckets = new Map();
      let from: Buckets = new Map();
      for (const mark of marks) {
        const buckets = await mark.buckets;
        if (mark.phase === "from") from = buckets;
        else for (const [le, count] of buckets) measured.set(le, (measured.get(le) ?? 0) + count - (from.get(le) ?? 0));
      }
      marks.length = 0;
      const events = measured.get(Number.POSITIVE_INFINITY) ?? 0;
      if (events <= 0) return undefined;
      return { events, p50Ms: quantileMs(measured, 0.5), p99Ms: quantileMs(measured, 0.99) };
    },
  };
}

export function sumBuckets(metricsTexts: string[]): Buckets {
  const sums: Buckets = new Map();
  for (const text of metricsTexts) {
    for (const line of text.split("\n")) {
      if (!line.startsWith(series)) continue;
      const le = /le="([^"]+)"/.exec(line)?.[1];
      if (le === undefined) continue;
      const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
      sums.set(bound, (sums.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
    }
  }
  return sums;
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
