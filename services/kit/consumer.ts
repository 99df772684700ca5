// Durable consumers: each applies every event of its subject filter once to its own database,
// retries what fails with backoff, and dead-letters what keeps failing (admins are alerted).
//
// Events are applied in batches: what JetStream has already delivered is applied in one
// transaction with one processed-id insert, and acknowledged after the commit. A checkout emits
// about seven events and each has several consumers, so a transaction per event was most of what
// the consumers cost the database. A batch that cannot commit whole (an event applied before, a
// handler that throws, a deadlock) is rolled back and applied event by event, where each event
// gets its own retries and dead letter as if it had come alone.
import { fromBinary } from "@bufbuild/protobuf";
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Kysely, Transaction } from "kysely";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Counter, Gauge, Histogram } from "prom-client";
import { EventSchema, type Event } from "../../gen/bazaar/events/v1/events_pb.ts";
import { deferStatement, transactionWithCommitHooks } from "./db.ts";
import { describeFailure, recordDeadLetter } from "./dead-letters.ts";
import { appendEvent, streamName, type EventTables } from "./events.ts";
import type { Logger } from "./log.ts";
import { refreshOnScrape, registry } from "./metrics.ts";
import { endSpan, runInSpan, startProcessSpan } from "./tracing.ts";

const consumerEvents = new Counter({
  name: "bazaar_consumer_events_total",
  help: "Deliveries settled by a durable consumer, by outcome: applied, duplicate (applied before), ignored (of no use to it) or retried (redelivery asked)",
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
const eventLag = new Histogram({
  name: "bazaar_consumer_event_lag_seconds",
  help: "Seconds from an event's commit (its occur_time) to a durable consumer applying it, first deliveries only",
  labelNames: ["consumer"],
  // Fine between 50 and 500 ms, where checkouts' lag lies: with only 0.1 and 0.25 there, a p99
  // anywhere between them was read (interpolated) as ~240 ms.
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1, 2.5, 5, 10, 30],
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
  /**
   * False for an event the handler would do nothing with: it is acknowledged without a
   * transaction and not recorded as processed. Decided from the event alone.
   */
  wants?(event: Event): boolean;
  maxDeliver?: number;
  /** Waits between deliveries; JetStream repeats the last for any later attempt. */
  redeliveryBackoffMs?: number[];
  /**
   * At most this many events in one transaction (16). 1 for a handler whose work is slow or
   * reaches outside its database (rendering pictures), so a failure repeats nothing else.
   */
  batchSize?: number;
  /**
   * While events keep coming, a batch starts at most this often (10 ms): what arrives meanwhile
   * joins it. A lone event after a quiet spell is applied at once.
   */
  batchIntervalMs?: number;
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

/** An event as delivered, with the trace it continues. */
interface Delivery {
  message: JsMsg;
  event: Event;
  traceParent: string | undefined;
}

const defaultRedeliveryBackoffMs = [1_000, 5_000, 15_000, 30_000, 60_000];
// Under checkouts a consumer's events came a few milliseconds apart and each was applied alone:
// a transaction, a processed-id insert and a commit per event. Paired, `npm run bench -- --only
// order.place-order --duration 10 --concurrency 32 --catalog 0 --lag-seconds 0`, an interval of
// 10 ms against none (tests/bench/PERFORMANCE.md, eighth round): CPU per card order 34.0 / 28.0 /
// 28.1 → 29.3 / 26.6 / 27.6 ms, event lag unchanged.
const defaultBatchIntervalMs = 10;

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
  return transactionWithCommitHooks(db as unknown as Kysely<EventTables>, async (trx) => {
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
 * Applies events, in order, in one transaction, when none of them was applied before; answers
 * false with nothing written otherwise. Their processed ids are recorded last and travel with the
 * COMMIT, so a transaction of writes alone is one round trip: a duplicate then fails that insert
 * and rolls the handlers' work back, which is why this is for first deliveries (rarely applied
 * before) and applyOnce, which checks first, for redeliveries. A handler's error rolls all of them
 * back and is thrown. Each handler runs in the trace its event continues.
 */
export async function applyAllOnce<DB extends EventTables>(
  db: Kysely<DB>,
  consumer: string,
  deliveries: Array<{ event: Event; subject: string; traceParent: string | undefined }>,
  handle: (event: Event, trx: Transaction<DB>) => Promise<void>,
): Promise<boolean> {
  try {
    await transactionWithCommitHooks(db as unknown as Kysely<EventTables>, async (trx) => {
      for (const { event, subject, traceParent } of deliveries) {
        const span = startProcessSpan(consumer, subject, event.id, traceParent);
        let failure: unknown;
        try {
          await runInSpan(span, traceParent, () => handle(event, trx as unknown as Transaction<DB>));
        } catch (error) {
          failure = error;
          throw error;
        } finally {
          endSpan(span, failure);
        }
      }
      await deferStatement(
        trx,
        trx.insertInto("processed_events").values(deliveries.map(({ event }) => ({ consumer, event_id: event.id }))),
      );
    });
    return true;
  } catch (error) {
    if (isProcessedBefore(error, consumer, deliveries)) return false;
    throw error;
  }
}

/** A duplicate key on one of these events' processed-id rows, not on a handler's own write. */
function isProcessedBefore(error: unknown, consumer: string, deliveries: ReadonlyArray<{ event: Event }>): boolean {
  const { code, message } = error as { code?: string; message?: string };
  // MariaDB and MySQL both name the entry: 'consumer-event id' for the composite key.
  return (
    code === "ER_DUP_ENTRY" &&
    typeof message === "string" &&
    deliveries.some(({ event }) => message.includes(`'${consumer}-${event.id}'`))
  );
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
    batchSize = 16,
    batchIntervalMs = defaultBatchIntervalMs,
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
  const ignored = consumerEvents.labels(name, "ignored");
  const retried = consumerEvents.labels(name, "retried");
  const redelivered = redeliveries.labels(name);
  const deadLettered = deadLetters.labels(name);
  const lag = eventLag.labels(name);
  // A redelivery's wait is the retry backoff's, not the path's: only first deliveries count.
  const observeLag = (deliveries: Delivery[]) => {
    const now = Date.now();
    for (const { message, event } of deliveries) {
      if (message.info.deliveryCount === 1 && event.occurTime) lag.observe((now - timestampMs(event.occurTime)) / 1000);
    }
  };

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

  /** Applies one event in its own transaction: its failure is retried or dead-lettered alone. */
  const settleOne = async (delivery: Delivery) => {
    const { message, event, traceParent } = delivery;
    // Whatever the handler emits continues the producer's trace; failures are logged in it too.
    const span = startProcessSpan(name, message.subject, event.id, traceParent);
    await runInSpan(span, traceParent, async () => {
      let failure: unknown;
      try {
        const first = await applyOnce(options.db, name, event, options.handle);
        message.ack();
        if (first) observeLag([delivery]);
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

  /**
   * Applies what was delivered together in one transaction; falls back to one event at a time
   * when that cannot commit whole, and for redeliveries (likely applied before, or failing).
   */
  const settle = async (messages: JsMsg[]) => {
    const deliveries: Delivery[] = [];
    for (const message of messages) {
      if (message.info.deliveryCount > 1) redelivered.inc();
      try {
        const event = fromBinary(EventSchema, message.data);
        if (options.wants && !options.wants(event)) {
          message.ack();
          ignored.inc();
          continue;
        }
        deliveries.push({ message, event, traceParent: message.headers?.get("traceparent") || event.traceParent });
      } catch (error) {
        log.error({ err: error, subject: message.subject, seq: message.seq }, "undecodable event dead-lettered");
        await deadLetter(message, undefined, error);
      }
    }
    const firstDeliveries = deliveries.every(({ message }) => message.info.deliveryCount === 1);
    if (deliveries.length > 0 && firstDeliveries) {
      const batch = deliveries.map(({ message, event, traceParent }) => ({
        event,
        subject: message.subject,
        traceParent,
      }));
      const appliedWhole = await applyAllOnce(options.db, name, batch, options.handle).catch((error: unknown) => {
        log.debug({ err: error, consumer: name, events: batch.length }, "batch rolled back; applying one by one");
        return false;
      });
      if (appliedWhole) {
        for (const { message } of deliveries) message.ack();
        applied.inc(deliveries.length);
        observeLag(deliveries);
        return;
      }
    }
    for (const delivery of deliveries) await settleOne(delivery);
  };

  let stopped = false;
  let current: Pick<ConsumerMessages, "close"> | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        const consumer = await js.consumers.get(streamName, name);
        // A batch's worth delivered ahead: with the batch being applied and the one queued, a
        // delivery waits behind at most two (see inBatches for its ack deadline).
        const messages = await consumer.consume({ max_messages: batchSize });
        current = messages;
        await inBatches(messages, { size: batchSize, intervalMs: batchIntervalMs }, settle);
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

/**
 * Hands what JetStream delivers to `apply` in batches: everything delivered while the previous
 * batch was being applied, up to `size`, so a lone event is applied at once and a burst in few
 * transactions; a batch short of `size` waits until `intervalMs` after the previous one started,
 * so a steady trickle is applied a few events at a time. Delivery waits while a batch is queued.
 * (The iterator's own pending count cannot tell: it counts its internal pull callbacks as
 * messages and never settles to zero.)
 *
 * JetStream waits only a second (the first backoff) for a delivery's ack, then delivers it again.
 * A delivery may wait behind the batch being applied and the one queued: every message held here
 * (queued or being applied) that has waited `renewAckDeadlineAfterMs` since it came or was last
 * renewed asks for its deadline to start again (+WPI). Renewing per batch, judged by how long the
 * last two batches took, was not enough on a loaded CI box: batches that slowed down together
 * let 15–18 of 80 waiting events pass the second and be delivered twice.
 */
async function inBatches(
  messages: ConsumerMessages,
  { size, intervalMs }: { size: number; intervalMs: number },
  apply: (batch: JsMsg[]) => Promise<void>,
): Promise<void> {
  const queue: JsMsg[] = [];
  let applying: JsMsg[] = [];
  const lastRenewed = new WeakMap<JsMsg, number>();
  // Ticks only while messages are held: a timer per consumer ticking ten times a second woke
  // idle processes for nothing (a service runs up to five consumers).
  let renewer: NodeJS.Timeout | undefined;
  const renewHeld = () => {
    const held = [...applying, ...queue];
    if (held.length === 0) {
      clearInterval(renewer);
      renewer = undefined;
      return;
    }
    const now = performance.now();
    for (const message of held) {
      if (now - (lastRenewed.get(message) ?? now) < renewAckDeadlineAfterMs) continue;
      message.working();
      lastRenewed.set(message, now);
    }
  };
  let delivering = true;
  // The applier waits only on a queue short of a batch (empty, or within the interval), delivery
  // only on a full one: never both at once.
  let wakeUp: (() => void) | undefined;
  const wake = () => {
    wakeUp?.();
    wakeUp = undefined;
  };
  const woken = () => new Promise<void>((resolve) => (wakeUp = resolve));
  let lastStart = Number.NEGATIVE_INFINITY;
  const applier = (async () => {
    while (queue.length > 0 || delivering) {
      if (queue.length === 0) {
        await woken();
        continue;
      }
      const wait = lastStart + intervalMs - performance.now();
      if (queue.length < size && delivering && wait > 0) {
        // Woken by each delivery too, so a batch that fills up starts without waiting out the interval.
        let over = false;
        const interval = setTimeout(() => {
          over = true;
          wake();
        }, wait);
        while (queue.length < size && delivering && !over) await woken();
        clearTimeout(interval);
      }
      lastStart = performance.now();
      applying = queue.splice(0, size);
      wake();
      await apply(applying);
      applying = [];
    }
  })().catch((error: unknown) => {
    // Ends delivery with the error: the consumer restarts and what was not acked comes again.
    messages.stop(error instanceof Error ? error : new Error(String(error)));
  });
  try {
    for await (const message of messages) {
      lastRenewed.set(message, performance.now());
      queue.push(message);
      if (!renewer) {
        renewer = setInterval(renewHeld, renewCheckEveryMs);
        renewer.unref();
      }
      wake();
      while (queue.length >= size) await woken();
    }
  } finally {
    delivering = false;
    wake();
    await applier;
    clearInterval(renewer);
  }
}

/** Well inside the shortest ack deadline (the first redelivery backoff, 1 s by default). */
const renewAckDeadlineAfterMs = 300;
const renewCheckEveryMs = 100;
