// Wakes the readers of a feed (WatchOrders, WatchShopOrders, WatchNotifications) when something
// of theirs changed. The feeds' truth is the database; a signal only says "look now", so a
// reader takes the promise before it reads and a change during the read is not lost.
export class FeedSignals {
  readonly #waiting = new Map<string, Set<() => void>>();

  /** Wakes every reader waiting on `key` (a user id, or a shop's feed key). */
  announce(key: string): void {
    const waiters = this.#waiting.get(key);
    this.#waiting.delete(key);
    for (const wake of waiters ?? []) wake();
  }

  /** A promise that resolves at the key's next announcement; take it before reading the feed. */
  next(key: string): { changed: Promise<void>; cancel(): void } {
    let wake!: () => void;
    const changed = new Promise<void>((resolve) => (wake = resolve));
    const waiters = this.#waiting.get(key) ?? new Set();
    waiters.add(wake);
    this.#waiting.set(key, waiters);
    const cancel = () => {
      waiters.delete(wake);
      if (waiters.size === 0 && this.#waiting.get(key) === waiters) this.#waiting.delete(key);
    };
    return { changed, cancel };
  }
}
