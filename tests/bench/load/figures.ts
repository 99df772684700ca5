// What one measured run yields, whichever load generator produced it, and the recorder that
// turns per-request timings into those figures for the generators that run inside this process.

/** Who produced a figure: a C generator, or a client running inside the bench's own Node process. */
export type LoadGenerator = "h2load" | "wrk" | "node driver" | "mysql2" | "nats.js" | "sharp";

export interface LoadFigures {
  /** Requests completed in the measured window (warm-up excluded). */
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  errors: number;
  /** Error counts by reason ("http 429", "grpc-status 14", "timeout"…); empty when all succeeded. */
  errorReasons: Record<string, number>;
}

/** Collects latencies and error reasons of requests made by this process. */
export class LatencyRecorder {
  #latenciesMs = new Float64Array(1 << 16);
  #count = 0;
  #errors = new Map<string, number>();

  record(latencyMs: number, errorReason: string | undefined): void {
    if (this.#count === this.#latenciesMs.length) {
      const grown = new Float64Array(this.#latenciesMs.length * 2);
      grown.set(this.#latenciesMs);
      this.#latenciesMs = grown;
    }
    this.#latenciesMs[this.#count++] = latencyMs;
    if (errorReason !== undefined) this.#errors.set(errorReason, (this.#errors.get(errorReason) ?? 0) + 1);
  }

  figures(seconds: number): LoadFigures {
    const errorReasons = Object.fromEntries(this.#errors);
    return figuresFrom(this.#latenciesMs.subarray(0, this.#count), seconds, errorReasons);
  }
}

/** Figures from every measured request's latency (any order) and the errors among them. */
export function figuresFrom(
  latenciesMs: Float64Array,
  seconds: number,
  errorReasons: Record<string, number>,
): LoadFigures {
  const sorted = Float64Array.from(latenciesMs).sort();
  // Nearest rank: the smallest latency at least q of the requests did not exceed.
  const at = (q: number) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return {
    requests: sorted.length,
    seconds,
    requestsPerSecond: seconds > 0 ? sorted.length / seconds : 0,
    latencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? 0 },
    errors: Object.values(errorReasons).reduce((sum, n) => sum + n, 0),
    errorReasons,
  };
}
