// The buyer's feed of order status changes (WatchOrders) and the shop's feed of shop order
// status changes (WatchShopOrders). The database is the truth: every change has a per-buyer and
// a per-shop sequence number that commits in order, so a reader that resumes after number n
// misses nothing and repeats nothing. NATS only says "look now" (OrderStatusChanged,
// ShopOrderStatusChanged), and a slow poll covers a NATS outage.
import type { Kysely } from "kysely";
import type { FeedSignals } from "../../kit/feed-signals.ts";
import type { OrderDatabase } from "../db/database.ts";
import { feedAfter, findOrder, findShopOrder, shopFeedAfter } from "../db/order.repository.ts";
import type { Order, ShopOrder } from "./order.ts";

/** The key a shop's feeds wait on; buyers' feeds wait on the user id. */
export function shopFeedKey(shopId: string): string {
  return `shop:${shopId}`;
}

export interface FeedDeps {
  db: Kysely<OrderDatabase>;
  signals: FeedSignals;
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
  yield* followFeed(deps, userId, afterSeq, signal, async function* (after) {
    const entries = await feedAfter(deps.db, userId, after, 100);
    // A replay often holds several changes of one order: read each order once per batch.
    const orders = new Map<string, Promise<Order | undefined>>();
    for (const entry of entries) {
      if (!orders.has(entry.orderId)) orders.set(entry.orderId, findOrder(deps.db, entry.orderId));
      const order = await orders.get(entry.orderId)!;
      yield { seq: entry.seq, update: order && { order: asOfChange(order, entry.seq), seq: entry.seq } };
    }
  });
}

export interface ShopFeedUpdate {
  /** The shop order as it was right after the change. */
  shopOrder: ShopOrder;
  seq: number;
}

/**
 * The shop's changes after `afterSeq`, then each new one as it commits, until `signal` aborts;
 * with `sellerId`, only the changes of that seller's shop orders.
 */
export async function* followShopOrderChanges(
  deps: FeedDeps,
  shop: { shopId: string; sellerId?: string },
  afterSeq: number,
  signal: AbortSignal,
): AsyncGenerator<ShopFeedUpdate> {
  yield* followFeed(deps, shopFeedKey(shop.shopId), afterSeq, signal, async function* (after) {
    const entries = await shopFeedAfter(deps.db, shop, after, 100);
    const shopOrders = new Map<string, Promise<ShopOrder | undefined>>();
    for (const entry of entries) {
      if (!shopOrders.has(entry.shopOrderId))
        shopOrders.set(entry.shopOrderId, findShopOrder(deps.db, entry.shopOrderId));
      const shopOrder = await shopOrders.get(entry.shopOrderId)!;
      const update = shopOrder && { shopOrder: shopOrderAsOf(shopOrder, entry.historyLength), seq: entry.seq };
      yield { seq: entry.seq, update };
    }
  });
}

/**
 * The loop both feeds share: read a batch after the last position, and when it is empty wait
 * for an announcement under `key` or the poll, whichever comes first.
 */
async function* followFeed<T>(
  deps: FeedDeps,
  key: string,
  afterSeq: number,
  signal: AbortSignal,
  batchAfter: (after: number) => AsyncGenerator<{ seq: number; update: T | undefined }>,
): AsyncGenerator<T> {
  let after = afterSeq;
  while (!signal.aborted) {
    const wakeUp = deps.signals.next(key);
    try {
      let read = 0;
      for await (const entry of batchAfter(after)) {
        if (entry.update !== undefined) yield entry.update;
        after = entry.seq;
        read++;
      }
      if (read === 0) await untilAny(wakeUp.changed, deps.pollMs, signal);
    } finally {
      wakeUp.cancel();
    }
  }
}

/** The shop order as it stood after its first `historyLength` changes. */
function shopOrderAsOf(shopOrder: ShopOrder, historyLength: number): ShopOrder {
  const history = shopOrder.history.slice(0, historyLength);
  const change = history.at(-1) ?? shopOrder.history.at(-1)!;
  return { ...shopOrder, status: change.status, history, updateTime: change.time };
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
