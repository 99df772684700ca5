// Retrying what fails while a dependency starts or comes back (the database, NATS), with a
// backoff from 250 ms to 5 s, until it succeeds or the caller is stopping.
import type { Logger } from "./log.ts";

/** Runs `attempt` until it succeeds; rethrows an error that is not `retryable`, or any once `stopped`. */
export async function retry<T>(
  log: Logger,
  what: string,
  attempt: () => Promise<T>,
  retryable: (error: unknown) => boolean,
  stopped: () => boolean,
): Promise<T> {
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await attempt();
    } catch (error) {
      if (stopped() || !retryable(error)) throw error;
      // Expected while dependencies start: the reason, without a stack trace per attempt.
      log.warn(
        { reason: error instanceof Error ? error.message : String(error), retryInMs: delay },
        `${what} not available yet`,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
