// The outbox relay: publishes each service's committed outbox rows to JetStream, with the row's
// id as Nats-Msg-Id, and marks them published; and the backlog it has not published yet, for
// /metrics.
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { sql, type Kysely, type Transaction } from "kysely";
import { Counter, Gauge } from "prom-client";
import { eventsLeftForSweep, publishCommittedEventsWith, type EventTables, type OutboxRow } from "./events.ts";
import type { Logger } from "./log.ts";
import { refreshOnScrape, registry } from "./metrics.ts";
import { endSpan, startPublishSpan, traceParentOfSpan } from "./tracing.ts";

// Registered when a relay starts: prom-client writes unlabelled counters from the start, and a
// process without a relay (the edge) would show a misleading 0.
const published = new Counter({
  name: "bazaar_outbox_published_total",
  help: "Outbox events published to JetStream",
  registers: [],
});
const publishFailures = new Counter({
  name: "bazaar_outbox_publish_failures_total",
  help: "Outbox event publishes that failed and wait to be retried",
  registers: [],
});
const backlogEvents = new Gauge({
  name: "bazaar_outbox_backlog_events",
  help: "Outbox events not published yet",
  labelNames: ["database"],
  registers: [registry],
});
const oldestUnpublishedAge = new Gauge({
  name: "bazaar_outbox_oldest_unpublished_age_seconds",
  help: "Age of the oldest outbox event not published yet; 0 when all are",
  labelNames: ["database"],
  registers: [registry],
});

/** Outbox events not published yet, and the age of the oldest in seconds (0 when none). */
export async function outboxBacklog(db: Kysely<EventTables>): Promise<{ events: number; oldestAgeSeconds: number }> {
  // The index on (publish_time, id) finds the unpublished rows without reading the published.
  const row = await db
    .selectFrom("outbox")
    .select((eb) => [
      eb.fn.countAll<string | number>().as("events"),
      sql<string | number | null>`TIMESTAMPDIFF(MICROSECOND, MIN(create_time), UTC_TIMESTAMP(6))`.as("age_us"),
    ])
    .where("publish_time", "is", null)
    .executeTakeFirstOrThrow();
  return {
    events: Number(row.events),
    oldestAgeSeconds: row.age_us === null ? 0 : Math.max(0, Number(row.age_us) / 1e6),
  };
}

/** Reads the outbox backlog of `database` at each scrape; returns the unregister. */
export function observeOutboxBacklog(db: Kysely<EventTables>, database: string): () => void {
  return refreshOnScrape("outbox", [backlogEvents, oldestUnpublishedAge], async () => {
    const backlog = await outboxBacklog(db);
    backlogEvents.set({ database }, backlog.events);
    oldestUnpublishedAge.set({ database }, backlog.oldestAgeSeconds);
  });
}

export interface OutboxRelay {
  /** Publish now instead of at the next poll; call after committing a transaction with events. */
  wake(): void;
  stop(): Promise<void>;
}

export interface RelayOptions {
  db: Kysely<EventTables>;
  js: JetStreamClient;
  log: Logger;
  batchSize?: number;
  pollMs?: number;
  /** Published rows are kept this long for inspection, then deleted. */
  retentionMs?: number;
}

export function startOutboxRelay(options: RelayOptions): OutboxRelay {
  const { db, js, log, batchSize = 200, pollMs = 1_000, retentionMs = 24 * 3600 * 1000 } = options;
  registry.registerMetric(published);
  registry.registerMetric(publishFailures);
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  // A wake-up that arrives while a batch is being published is remembered, so the row committed
  // meanwhile goes out right after it instead of waiting a whole poll interval.
  let woken = false;
  let lastPrune = 0;

  // Events committed in this process are handed over by their transaction (appendEvent's commit
  // hook): published at once and marked in one statement per round, where a sweep costs five
  // (isolation, begin, select, update, commit) for the one or two rows a checkout step commits.
  // What they miss — a publish or mark that failed, a transaction without hooks, a crash before
  // the mark — the sweep below finds; a row published twice is dropped by JetStream's duplicate
  // window. A wake after a commit sweeps only when an event was written that no relay was handed.
  const inFlight = new Set<string>();
  let handed: OutboxRow[] = [];
  let handing = false;
  let handedOver = Promise.resolve();
  let leftAtLastSweep = -1;
  const wakeNow = () => {
    woken = true;
    wakeUp?.();
  };
  const handOver = async () => {
    try {
      while (handed.length > 0) {
        const rows = handed;
        handed = [];
        const { sent, failed, reason } = await publishAll(js, rows);
        let marked = true;
        try {
          await markPublished(db, sent);
        } catch (error) {
          marked = false;
          log.warn({ err: error }, "published events not marked; the sweep publishes them again");
        } finally {
          for (const row of rows) inFlight.delete(row.id);
        }
        if (failed.length > 0) {
          publishFailures.inc(failed.length);
          log.warn({ failed: failed.length, err: reason }, "outbox publish failed; the sweep retries it");
        }
        if (failed.length > 0 || !marked) wakeNow();
      }
    } finally {
      // In the same turn as the loop's last look at `handed`: no row is left behind.
      handing = false;
    }
  };
  const publishCommitted = (row: OutboxRow) => {
    // Through a long broker outage the rows wait in the table instead, for the sweep.
    if (stopped || inFlight.size >= maxHandedOver) return;
    inFlight.add(row.id);
    handed.push(row);
    if (handing) return;
    handing = true;
    handedOver = handOver();
  };
  publishCommittedEventsWith(db, publishCommitted);

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) return resolve();
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      wakeUp = undefined;
    });

  // Row locks with SKIP LOCKED let several replicas relay side by side without both
  // publishing the same rows; JetStream's dedupe covers what a crash leaves behind. READ
  // COMMITTED locks only the rows read: under REPEATABLE READ the scan also locks the gap after
  // them, and every service transaction writing an event would wait while a publish hangs on an
  // unreachable broker — checkout stopped for the length of a NATS outage.
  const publishBatch = async () => {
    // Most sweeps find nothing (commits hand their rows over): one indexed read says so, where
    // the locking transaction took four statements per service every second.
    const waiting = await db.selectFrom("outbox").select("id").where("publish_time", "is", null).limit(1).execute();
    if (waiting.length === 0) return 0;
    return db
      .transaction()
      .setIsolationLevel("read committed")
      .execute(async (trx) => {
        // Rows being handed over right now are theirs.
        const rows = (
          await trx
            .selectFrom("outbox")
            .select(["id", "subject", "payload", "trace_parent"])
            .where("publish_time", "is", null)
            .orderBy("id")
            .limit(batchSize)
            .forUpdate()
            .skipLocked()
            .execute()
        ).filter((row) => !inFlight.has(row.id));
        if (rows.length === 0) return 0;
        const { sent, failed, reason } = await publishAll(js, rows);
        await markPublished(trx, sent);
        if (failed.length > 0) {
          publishFailures.inc(failed.length);
          await trx
            .updateTable("outbox")
            .set({ attempts: sql<number>`attempts + 1` })
            .where("id", "in", failed)
            .execute();
          log.warn({ failed: failed.length, err: reason }, "outbox publish failed; will retry");
        }
        return failed.length > 0 ? 0 : rows.length;
      });
  };

  const prune = async () => {
    if (Date.now() - lastPrune < 10 * 60_000) return;
    lastPrune = Date.now();
    await db
      .deleteFrom("outbox")
      .where("publish_time", "<", new Date(Date.now() - retentionMs))
      .limit(10_000)
      .execute();
  };

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        woken = false;
        leftAtLastSweep = eventsLeftForSweep();
        const published = await publishBatch();
        await prune();
        failures = 0;
        if (published < batchSize) await sleep(pollMs);
      } catch (error) {
        failures += 1;
        log.warn({ err: error }, "outbox relay error; backing off");
        await sleep(Math.min(pollMs * 2 ** failures, 30_000));
      }
    }
  })();

  return {
    wake: () => {
      // Every event since the sweep began was handed over: this wake's rows are in flight or out.
      if (eventsLeftForSweep() !== leftAtLastSweep) wakeNow();
    },
    async stop() {
      stopped = true;
      publishCommittedEventsWith(db, undefined);
      wakeUp?.();
      await loop;
      await handedOver;
    },
  };
}

/** Publishes rows side by side: the ids that went out, those that did not, and why the first did not. */
async function publishAll(
  js: JetStreamClient,
  rows: OutboxRow[],
): Promise<{ sent: string[]; failed: string[]; reason: unknown }> {
  const results = await Promise.allSettled(rows.map((row) => publishRow(js, row)));
  const sent = rows.filter((_, i) => results[i]!.status === "fulfilled").map((row) => row.id);
  const failed = rows.filter((_, i) => results[i]!.status === "rejected").map((row) => row.id);
  const reason = (results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined)?.reason;
  return { sent, failed, reason };
}

/** Marks published rows; a row marked already (by another replica's sweep) stays as it is. */
async function markPublished(db: Kysely<EventTables> | Transaction<EventTables>, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("outbox")
    .set({ publish_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "in", ids)
    .where("publish_time", "is", null)
    .execute();
  published.inc(ids.length);
}

/** Rows handed over and not yet published or given up on, at most. */
const maxHandedOver = 10_000;

/**
 * Publishes an outbox row with its id as Nats-Msg-Id. With tracing on it is a PRODUCER span,
 * child of the trace stored with the row, and the message's traceparent names that span.
 */
function publishRow(js: JetStreamClient, row: OutboxRow): Promise<PubAck> {
  const span = startPublishSpan(row.subject, row.id, row.trace_parent);
  const traceParent = span ? traceParentOfSpan(span) : row.trace_parent;
  const h = natsHeaders();
  if (traceParent) h.set("traceparent", traceParent);
  const publishing = js.publish(row.subject, row.payload, { msgID: row.id, headers: h });
  if (!span) return publishing;
  return publishing.then(
    (ack) => {
      endSpan(span);
      return ack;
    },
    (error: unknown) => {
      endSpan(span, error);
      throw error;
    },
  );
}
