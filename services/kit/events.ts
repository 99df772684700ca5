// Events between services: the stream and the transactional outbox. The relay that moves the
// outbox to JetStream is in outbox-relay.ts, the durable consumers that apply each event once in
// consumer.ts.
//
// Why an outbox: publishing after commit loses the event when the process dies in between;
// publishing before commit announces a change that may roll back. The event row commits or rolls
// back with the change, and the relay publishes it with Nats-Msg-Id = event id, so a re-sweep
// after a crash is dropped by JetStream's duplicate window instead of delivered twice.
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Generated, Kysely, Transaction } from "kysely";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { deferStatement, whenCommitted } from "./db.ts";
import { uuidv7 } from "./ids.ts";
import type { DeadLettersTable } from "./dead-letters.ts";
import { currentTraceParent } from "./trace-context.ts";

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

/** An outbox row as the relay publishes it. */
export interface OutboxRow {
  id: string;
  subject: string;
  payload: Buffer;
  trace_parent: string | null;
}

/** Who publishes a database's committed events at once: its outbox relay, when one runs here. */
const committedEventPublishers = new WeakMap<Kysely<any>, (row: OutboxRow) => void>();

// Events no relay was handed: written in a transaction without commit hooks, or committed while
// no relay of this process ran. A relay sweeps on a wake only when this count moved.
let eventsLeftToSweep = 0;

/** How many events this process wrote that only a relay's sweep publishes (it only grows). */
export function eventsLeftForSweep(): number {
  return eventsLeftToSweep;
}

/** Who else in this process reads the events committed to a database (a read model of its own writes). */
const committedEventObservers = new WeakMap<Kysely<any>, Set<(row: OutboxRow) => void>>();

/**
 * Tells `observer` of every event committed to `db` by this process, right after its commit (in
 * transactions with commit hooks): a read model then sees its own service's writes before the
 * caller's next request, without waiting for the broker. Returns how to stop.
 */
export function observeCommittedEvents(db: Kysely<any>, observer: (row: OutboxRow) => void): () => void {
  let observers = committedEventObservers.get(db);
  if (!observers) committedEventObservers.set(db, (observers = new Set()));
  observers.add(observer);
  return () => observers.delete(observer);
}

/** Called by a relay: events committed to `db` in this process are handed to it after commit. */
export function publishCommittedEventsWith(db: Kysely<any>, publish: ((row: OutboxRow) => void) | undefined): void {
  if (publish) committedEventPublishers.set(db, publish);
  else committedEventPublishers.delete(db);
}

/**
 * Writes an event into the outbox of the transaction's database. Returns the event id. Once the
 * transaction commits (in one opened by inTransaction or a consumer), this process's relay
 * publishes it at once; otherwise its next sweep does.
 */
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
  const row: OutboxRow = {
    id,
    subject: subjectOf(event.source, event.payload.case!),
    payload: Buffer.from(toBinary(EventSchema, message)),
    trace_parent: traceParent || null,
  };
  // With the transaction's next statement or its COMMIT: nothing reads the insert's answer.
  await deferStatement(trx, trx.insertInto("outbox").values({ ...row, publish_time: null }));
  const handedOver = whenCommitted(trx, (db) => {
    for (const observe of committedEventObservers.get(db) ?? []) {
      // Observers log their own failures; one that throws anyway must not keep the event from
      // its relay.
      try {
        observe(row);
      } catch {}
    }
    const publish = committedEventPublishers.get(db);
    if (publish) publish(row);
    else eventsLeftToSweep += 1;
  });
  if (!handedOver) eventsLeftToSweep += 1;
  return id;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found/i.test(error.message);
}
