// A user's feed of new notifications (WatchNotifications). The database is the truth: each
// notification has a per-user position that commits in order (inbox_positions), so a reader
// resuming after position n misses nothing and repeats nothing, across restarts too. The
// in-process signal only says "look now"; a short poll covers writes of other replicas.
import type { Kysely } from "kysely";
import type { FeedSignals } from "../../kit/feed-signals.ts";
import type { NotificationDatabase, NotificationRow } from "../db/database.ts";
import { notificationsAfter } from "../db/notification.repository.ts";

export interface FeedDeps {
  db: Kysely<NotificationDatabase>;
  signals: FeedSignals;
  /** Reads the feed at least this often even without a signal. */
  pollMs: number;
}

/** The user's notifications after `afterSeq`, then each new one as it commits, until `signal` aborts. */
export async function* followNotifications(
  deps: FeedDeps,
  userId: string,
  afterSeq: number,
  signal: AbortSignal,
): AsyncGenerator<NotificationRow> {
  let after = afterSeq;
  while (!signal.aborted) {
    const wakeUp = deps.signals.next(userId);
    try {
      const rows = await notificationsAfter(deps.db, userId, after, 100);
      for (const row of rows) {
        yield row;
        after = Number(row.seq);
      }
      if (rows.length === 0) await untilAny(wakeUp.changed, deps.pollMs, signal);
    } finally {
      wakeUp.cancel();
    }
  }
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
