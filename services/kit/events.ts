// Events between services: a transactional outbox, the relay that moves it to JetStream, and
// durable consumers that apply each event exactly once to their own database.
//
// Why an outbox: publishing after commit loses the event when the process dies in between;
// publishing before commit announces a change that may roll back. The event row commits or rolls
// back with the change, and the relay publishes it with Nats-Msg-Id = event id, so a re-sweep
// after a crash is dropped by JetStream's duplicate window instead of delivered twice.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AckPolicy,
  DeliverPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type PubAck,
} from "@nats-io/jetstream";
import { headers as natsHeaders, nanos } from "@nats-io/transport-node";
import { sql, type Generated, type Kysely, type Transaction } from "kysely";
import { Counter, Gauge } from "prom-client";
import { EventSchema, type Event } from "../../gen/bazaar/events/v1/events_pb.ts";
import { uuidv7 } from "./ids.ts";
import type { Logger } from "./log.ts";
import { describeFailure, recordDeadLetter, type DeadLettersTable } from "./dead-letters.ts";
import { refreshOnScrape, registry } from "./metrics.ts";
import { currentTraceParent } from "./trace-context.ts";
import { endSpan, runInSpan, startProcessSpan, startPublishSpan, traceParentOfSpan } from "./tracing.ts";

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

const consumerEvents = new Counter({
  name: "bazaar_consumer_events_total",
  help: "Deliveries settled by a durable consumer, by outcome: applied, duplicate (applied before) or retried (redelivery asked)",
  labelNames: ["consumer", "outcome"],
  registers: [registry],
});
const redeliveries = new Counter({
  name: "bazaar_consumer_redeliveries_total",
  help: "Deliveries of events a durable consumer had been given before",
  labelNames: ["consumer"],
  registers: [registry],
});
const deadLetters = new Counter({
  name: "bazaar_dead_letters_total",
  help: "Events a durable consumer gave up on and recorded as dead letters",
  labelNames: ["consumer"],
  registers: [registry],
});
const pendingMessages = new Gauge({
  name: "bazaar_consumer_pending_messages",
  help: "Events in the stream a durable consumer has not been given yet (JetStream num_pending)",
  labelNames: ["consumer"],
  registers: [registry],
});
const ackPendingMessages = new Gauge({
  name: "bazaar_consumer_ack_pending_messages",
  help: "Events given to a durable consumer and not settled yet (JetStream num_ack_pending)",
  labelNames: ["consumer"],
  registers: [registry],
});

/** Reads every durable consumer's lag from JetStream at each scrape; returns the unregister. */
export function observeConsumerLag(consumers: () => DurableConsumer[]): () => void {
  return refreshOnScrape("consumers", [pendingMessages, ackPendingMessages], async () => {
    const lags = await Promise.all(
      consumers().map(async (consumer) => ({ consumer: consumer.name, ...(await consumer.lag()) })),
    );
    for (const { consumer, pending, ackPending } of lags) {
      pendingMessages.set({ consumer }, pending);
      ackPendingMessages.set({ consumer }, ackPending);
    }
  });
}

export interface ConsumerOptions<DB extends EventTables> {
  js: JetStreamClient;
  jsm: JetStreamManager;
  db: Kysely<DB>;
  log: Logger;
  /** The consuming service: its dead letters are announced as bazaar.<source>.event_dead_lettered. */
  source: string;
  /** Durable consumer name, one per (service, purpose), e.g. "cart-product-cache". */
  name: string;
  /** One subject filter (nats-server 2.9 has no multi-filter consumers), e.g. "bazaar.product.>". */
  filterSubject: string;
  /** Applies the event inside the transaction that records it as processed. */
  handle(event: Event, trx: Transaction<DB>): Promise<void>;
  maxDeliver?: number;
  /** Waits between deliveries; JetStream repeats the last for any later attempt. */
  redeliveryBackoffMs?: number[];
}

export interface RunningConsumer {
  stop(): Promise<void>;
}

/** A durable consumer: its dead letters can be applied again with its handler. */
export interface DurableConsumer extends RunningConsumer {
  name: string;
  /** Applies an event with this consumer's handler, once (false: it was applied before). */
  redrive(event: Event): Promise<boolean>;
  /** Events not delivered yet and delivered but not settled, as JetStream counts them now. */
  lag(): Promise<{ pending: number; ackPending: number }>;
}

const defaultRedeliveryBackoffMs = [1_000, 5_000, 15_000, 30_000, 60_000];

/**
 * Applies an event unless this consumer already did. The processed-id row and the handler's
 * writes commit together: a redelivered event finds its row and does nothing, a failed handler
 * leaves no row and is retried. Returns false for an event applied before.
 */
export async function applyOnce<DB extends EventTables>(
  db: Kysely<DB>,
  consumer: string,
  event: Event,
  handle: (event: Event, trx: Transaction<DB>) => Promise<void>,
): Promise<boolean> {
  return (db as unknown as Kysely<EventTables>).transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto("processed_events")
      .ignore()
      .values({ consumer, event_id: event.id })
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
    await handle(event, trx as unknown as Transaction<DB>);
    return true;
  });
}

/**
 * Creates (or finds, with the same settings) a durable consumer. Replicas of a service starting
 * together ask for the same consumer at once, and a JetStream cluster that has just formed may
 * answer with a timeout or no leader yet; a few tries a moment apart get past both, where one
 * failure would stop the process's start.
 */
async function addDurableConsumer(
  jsm: JetStreamManager,
  log: Logger,
  config: Parameters<JetStreamManager["consumers"]["add"]>[1],
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await jsm.consumers.add(streamName, config);
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      log.warn(
        { err: error, consumer: config.durable_name, attempt },
        "durable consumer not created yet; trying again",
      );
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

export async function startConsumer<DB extends EventTables>(options: ConsumerOptions<DB>): Promise<DurableConsumer> {
  const {
    js,
    jsm,
    log,
    name,
    filterSubject,
    maxDeliver = 8,
    redeliveryBackoffMs = defaultRedeliveryBackoffMs,
  } = options;
  await addDurableConsumer(jsm, log, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: filterSubject,
    ack_wait: nanos(30_000),
    max_deliver: maxDeliver,
    backoff: redeliveryBackoffMs.slice(0, maxDeliver - 1).map(nanos),
  });
  const db = options.db as unknown as Kysely<EventTables>;
  const applied = consumerEvents.labels(name, "applied");
  const duplicate = consumerEvents.labels(name, "duplicate");
  const retried = consumerEvents.labels(name, "retried");
  const redelivered = redeliveries.labels(name);
  const deadLettered = deadLetters.labels(name);

  /**
   * Keeps what could not be applied and announces it (admins are alerted), in one transaction,
   * then ends its deliveries. If even that fails it is redelivered.
   */
  const deadLetter = async (message: JsMsg, event: Event | undefined, error: unknown) => {
    try {
      await db.transaction().execute(async (trx) => {
        const attempts = message.info.deliveryCount;
        const eventId = event?.id ?? "";
        await recordDeadLetter(trx, {
          consumer: name,
          eventId,
          subject: message.subject,
          payload: message.data,
          error,
          attempts,
        });
        // Never about an announcement itself: a consumer failing on those would feed itself.
        if (event?.payload.case === "eventDeadLettered") return;
        await appendEvent(trx, {
          source: options.source,
          subjectId: eventId,
          payload: {
            case: "eventDeadLettered",
            value: {
              consumer: name,
              eventId,
              subject: message.subject,
              error: describeFailure(error).slice(0, 500),
              attempts,
            },
          },
        });
      });
      // No reason argument: nats-server 2.9 ignores a `+TERM` that carries one.
      message.term();
      deadLettered.inc();
    } catch (recordError) {
      log.error(
        { err: recordError, eventId: event?.id, subject: message.subject },
        "dead letter not recorded; redelivering",
      );
      message.nak(redeliveryBackoffMs.at(-1));
      retried.inc();
    }
  };

  const settle = async (message: JsMsg) => {
    if (message.info.deliveryCount > 1) redelivered.inc();
    let event: Event;
    try {
      event = fromBinary(EventSchema, message.data);
    } catch (error) {
      log.error({ err: error, subject: message.subject, seq: message.seq }, "undecodable event dead-lettered");
      await deadLetter(message, undefined, error);
      return;
    }
    // Whatever the handler emits continues the producer's trace; failures are logged in it too.
    const traceParent = message.headers?.get("traceparent") || event.traceParent;
    const span = startProcessSpan(name, message.subject, event.id, traceParent);
    await runInSpan(span, traceParent, async () => {
      let failure: unknown;
      try {
        const first = await applyOnce(options.db, name, event, options.handle);
        message.ack();
        (first ? applied : duplicate).inc();
      } catch (error) {
        failure = error;
        const attempt = message.info.deliveryCount;
        if (attempt >= maxDeliver) {
          log.error(
            { err: error, eventId: event.id, subject: message.subject, attempt },
            "event failed on its last delivery; dead-lettered",
          );
          await deadLetter(message, event, error);
        } else {
          log.warn({ err: error, eventId: event.id, subject: message.subject, attempt }, "event failed; redelivering");
          message.nak(redeliveryBackoffMs[Math.min(attempt - 1, redeliveryBackoffMs.length - 1)]);
          retried.inc();
        }
      } finally {
        endSpan(span, failure);
      }
    });
  };

  let stopped = false;
  let current: Pick<ConsumerMessages, "close"> | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        const consumer = await js.consumers.get(streamName, name);
        const messages = await consumer.consume({ max_messages: 64 });
        current = messages;
        for await (const message of messages) await settle(message);
      } catch (error) {
        if (stopped) break;
        log.warn({ err: error, consumer: name }, "consumer interrupted; restarting");
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  })();

  return {
    name,
    redrive: (event) => applyOnce(options.db, name, event, options.handle),
    async lag() {
      const info = await jsm.consumers.info(streamName, name);
      return { pending: info.num_pending, ackPending: info.num_ack_pending };
    },
    async stop() {
      stopped = true;
      await current?.close();
      await loop;
    },
  };
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found/i.test(error.message);
}
