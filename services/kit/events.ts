// Events between services: the stream, the transactional outbox and the relay that moves it to
// JetStream. The durable consumers that apply each event once are in consumer.ts.
//
// Why an outbox: publishing after commit loses the event when the process dies in between;
// publishing before commit announces a change that may roll back. The event row commits or rolls
// back with the change, and the relay publishes it with Nats-Msg-Id = event id, so a re-sweep
// after a crash is dropped by JetStream's duplicate window instead of delivered twice.
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { StorageType, type JetStreamClient, type JetStreamManager, type PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders, nanos } from "@nats-io/transport-node";
import { sql, type Generated, type Kysely, type Transaction } from "kysely";
import { Counter, Gauge } from "prom-client";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { uuidv7 } from "./ids.ts";
import type { Logger } from "./log.ts";
import type { DeadLettersTable } from "./dead-letters.ts";
import { refreshOnScrape, registry } from "./metrics.ts";
import { currentTraceParent } from "./trace-context.ts";
import { endSpan, startPublishSpan, traceParentOfSpan } from "./tracing.ts";

export const streamName = "BAZAAR_EVENTS";

export interface OutboxTable {
  id: string;
  subject: string;
  payload: Buffer;
  trace_parent: string | null;
  create_time: Generated<Date>;
  publish_time: Date | null;
  attempts: Generated<number>;
}

export interface ProcessedEventsTable {
  consumer: string;
  event_id: string;
  process_time: Generated<Date>;
}

/** The tables every service database has for events; a service's DB type extends this. */
export interface EventTables {
  outbox: OutboxTable;
  processed_events: ProcessedEventsTable;
  dead_letters: DeadLettersTable;
}

export async function ensureStream(jsm: JetStreamManager, replicas = 1): Promise<void> {
  const config = {
    name: streamName,
    subjects: ["bazaar.>"],
    storage: StorageType.File,
    max_age: nanos(7 * 24 * 3600 * 1000),
    max_msg_size: 64 * 1024,
    // Longer than any relay retry gap, so a row republished after a crash is still deduplicated.
    duplicate_window: nanos(30 * 60 * 1000),
    num_replicas: replicas,
  };
  try {
    const current = (await jsm.streams.info(streamName)).config;
    // Every process ensures the stream at start: only a change is written, so ten replicas
    // starting together do not queue ten updates on a clustered stream's leader.
    const unchanged =
      current.num_replicas === config.num_replicas &&
      current.max_age === config.max_age &&
      current.max_msg_size === config.max_msg_size &&
      current.duplicate_window === config.duplicate_window &&
      current.subjects.join() === config.subjects.join();
    if (!unchanged) await jsm.streams.update(streamName, config);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add(config);
  }
}

export type EventPayload = MessageInitShape<typeof EventSchema>["payload"];

export interface NewEvent {
  /** Emitting service, the middle part of the subject: bazaar.<source>.<event_name>. */
  source: string;
  payload: NonNullable<EventPayload>;
  actorId?: string;
  subjectId?: string;
  traceParent?: string;
}

/** The NATS subject of an event, from its payload case: orderPlaced → bazaar.order.order_placed. */
export function subjectOf(source: string, payloadCase: string): string {
  return `bazaar.${source}.${payloadCase.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

/** Writes an event into the outbox of the transaction's database. Returns the event id. */
export async function appendEvent(trx: Transaction<EventTables>, event: NewEvent): Promise<string> {
  const traceParent = event.traceParent ?? currentTraceParent() ?? "";
  const id = uuidv7();
  const message = create(EventSchema, {
    id,
    occurTime: timestampFromDate(new Date()),
    source: event.source,
    actorId: event.actorId ?? "",
    subjectId: event.subjectId ?? "",
    traceParent,
    payload: event.payload as never,
  });
  await trx
    .insertInto("outbox")
    .values({
      id,
      subject: subjectOf(event.source, event.payload.case!),
      payload: Buffer.from(toBinary(EventSchema, message)),
      trace_parent: traceParent || null,
      publish_time: null,
    })
    .execute();
  return id;
}

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
  const publishBatch = () =>
    db
      .transaction()
      .setIsolationLevel("read committed")
      .execute(async (trx) => {
        const rows = await trx
          .selectFrom("outbox")
          .select(["id", "subject", "payload", "trace_parent"])
          .where("publish_time", "is", null)
          .orderBy("id")
          .limit(batchSize)
          .forUpdate()
          .skipLocked()
          .execute();
        if (rows.length === 0) return 0;
        const results = await Promise.allSettled(rows.map((row) => publishRow(js, row)));
        const sent = rows.filter((_, i) => results[i]!.status === "fulfilled").map((row) => row.id);
        const failed = rows.filter((_, i) => results[i]!.status === "rejected").map((row) => row.id);
        if (sent.length > 0) {
          await trx
            .updateTable("outbox")
            .set({ publish_time: sql<Date>`UTC_TIMESTAMP(6)` })
            .where("id", "in", sent)
            .execute();
          published.inc(sent.length);
        }
        if (failed.length > 0) {
          publishFailures.inc(failed.length);
          await trx
            .updateTable("outbox")
            .set({ attempts: sql<number>`attempts + 1` })
            .where("id", "in", failed)
            .execute();
          const reason = (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
          log.warn({ failed: failed.length, err: reason }, "outbox publish failed; will retry");
        }
        return failed.length > 0 ? 0 : rows.length;
      });

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
      woken = true;
      wakeUp?.();
    },
    async stop() {
      stopped = true;
      wakeUp?.();
      await loop;
    },
  };
}

/**
 * Publishes an outbox row with its id as Nats-Msg-Id. With tracing on it is a PRODUCER span,
 * child of the trace stored with the row, and the message's traceparent names that span.
 */
function publishRow(
  js: JetStreamClient,
  row: { id: string; subject: string; payload: Buffer; trace_parent: string | null },
): Promise<PubAck> {
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

function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found/i.test(error.message);
}
