// Waiting in tests for what happens asynchronously (events consumed, recovery, projections).

/**
 * Reads until `accept` holds or `timeoutMs` has passed, and returns the last value read: the
 * caller asserts on it, so a timeout fails with what was actually there.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!accept(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    value = await read();
  }
  return value;
}
