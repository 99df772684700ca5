// Load from inside this process: a fixed number of workers, each starting its next call as soon as
// the last one answered (a closed loop, like h2load and wrk), so concurrency is what is set.
import { LatencyRecorder, type LoadFigures } from "./figures.ts";

/** One request; resolves with undefined on success or a short error reason. */
export type Call<T> = (item: T) => Promise<string | undefined>;

/**
 * `concurrency` workers call back to back for warm-up plus `seconds`. A request counts when it
 * completes inside the measured window, which in a steady state is the true rate whatever the
 * latency (counting by start time would credit the last requests of a slow run twice over).
 */
export async function runClosedLoop(options: {
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  call: Call<number>;
}): Promise<LoadFigures> {
  const recorder = new LatencyRecorder();
  const measureFrom = performance.now() + options.warmupSeconds * 1000;
  const end = measureFrom + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      while (performance.now() < end) {
        const started = performance.now();
        const reason = await settled(options.call(worker));
        const finished = performance.now();
        if (finished >= measureFrom && finished <= end) recorder.record(finished - started, reason);
      }
    }),
  );
  return recorder.figures(options.seconds);
}

/**
 * Calls once per item, `concurrency` at a time, until the items run out or `stopAt`
 * (performance.now() time) passes; records into `recorder` when given. Resolves with the seconds it took.
 */
export async function runEach<T>(
  items: readonly T[],
  options: { concurrency: number; call: Call<T>; recorder?: LatencyRecorder; stopAt?: number },
): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency, items.length) }, async () => {
      while (next < items.length && performance.now() < (options.stopAt ?? Infinity)) {
        const item = items[next++]!;
        const callStarted = performance.now();
        const reason = await settled(options.call(item));
        options.recorder?.record(performance.now() - callStarted, reason);
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

async function settled(call: Promise<string | undefined>): Promise<string | undefined> {
  try {
    return await call;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? code : String((error as Error).message ?? error).slice(0, 60);
  }
}
