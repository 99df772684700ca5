// Waiting between attempts (retry.ts) and reconnects (watch.ts): cut short by an abort, after
// which the caller looks at the signal itself.

/** Resolves after `ms`, or at once when `signal` is or becomes aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", done);
      resolve();
    }, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
