// The buyer's feed of order status changes, for WatchOrders. The database is the truth: every
// change has a per-buyer sequence number that commits in order, so a reader that resumes after
// number n misses nothing and repeats nothing. NATS only says "look now" (OrderStatusChanged),
// and a slow poll covers a NATS outage.
import type { Kysely } from "kysely";
import type { OrderDatabase } from "../db/database.ts";
import { feedAfter, findOrder } from "../db/order.repository.ts";
import type { Order } from "./order.ts";

/** Wakes the feeds of one buyer when a change of theirs is announced. */
export class OrderChangeSignals {
  readonly #waiting = new Map<string, Set<() => void>>();

  announce(userId: string): void {
    const waiters = this.#waiting.get(userId);
    this.#waiting.delete(userId);
    for (const wake of waiters ?? []) wake();
  }

  /**
   * A promise that resolves at the buyer's next announcement. Take it before reading the
   * feed, so an announcement that arrives during the read is not lost.
   */
  next(userId: string): { changed: Promise<void>; cancel(): void } {
    let wake!: () => void;
    const changed = new Promise<void>((resolve) => (wake = resolve));
    const waiters = this.#waiting.get(userId) ?? new Set();
    waiters.add(wake);
    this.#waiting.set(userId, waiters);
    const cancel = () => {
      waiters.delete(wake);
      if (waiters.size === 0 && this.#waiting.get(userId) === waiters) this.#waiting.delete(userId);
    };
    return { changed, cancel };
  }
}

export interface FeedDeps {
  db: Kysely<OrderDatabase>;
  signals: OrderChangeSignals;
  /** Reads the feed at least this often even without an announcement. */
  pollMs: number;
}

export interface FeedUpdate {
  /** The order as it was right after the change. */
  order: Order;
  seq: number;
}

/** The buyer's changes after `afterSeq`, then each new one as it commits, until `signal` aborts. */
export async function* followOrderChanges(
  deps: FeedDeps,
  userId: string,
  afterSeq: number,
  signal: AbortSignal,
): AsyncGenerator<FeedUpdate> {
  let after = afterSeq;
  while (!signal.aborted) {
    const wakeUp = deps.signals.next(userId);
    try {
      const entries = await feedAfter(deps.db, userId, after, 100);
      // A replay often holds several changes of one order: read each order once per batch.
      const orders = new Map<string, Promise<Order | undefined>>();
      for (const entry of entries) {
        if (!orders.has(entry.orderId)) orders.set(entry.orderId, findOrder(deps.db, entry.orderId));
        const order = await orders.get(entry.orderId)!;
        if (order) yield { order: asOfChange(order, entry.seq), seq: entry.seq };
        after = entry.seq;
      }
      if (entries.length === 0) await untilAny(wakeUp.changed, deps.pollMs, signal);
    } finally {
      wakeUp.cancel();
    }
  }
}

/** The order as it stood right after the change numbered seq. */
function asOfChange(order: Order, seq: number): Order {
  const history = order.history.filter((change) => change.seq <= seq);
  const change = history.at(-1)!;
  return { ...order, status: change.status, history, updateTime: change.time };
}

function untilAny(changed: Promise<void>, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    void changed.then(done);
  });
}
