// The outbox against a real MariaDB and a real nats-server: the event commits with the change
// or not at all, the relay publishes it once even across a crash, a consumer applies it once.
import { randomBytes } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { sql, type Kysely, type Transaction } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EventSchema, type Event } from "../../gen/bazaar/events/v1/events_pb.ts";
import { afterCommit, createDb, deferStatement, ensureDatabase, inTransaction, migrateToLatest } from "./db.ts";
import { uuidv7 } from "./ids.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { listDeadLetters, observeDeadLetters, redriveDeadLetter } from "./dead-letters.ts";
import { currentTraceParent, withTraceParent } from "./trace-context.ts";
import { applyAllOnce, applyOnce, startConsumer } from "./consumer.ts";
import { appendEvent, streamName, type EventTables } from "./events.ts";
import { startOutboxRelay } from "./outbox-relay.ts";
import { createLogger } from "./log.ts";
import { registry, scrape } from "./metrics.ts";
import * as eventTables from "./migrations/2026_11_23_000000_create_event_tables.ts";
import * as deadLetters from "./migrations/2026_11_24_000000_create_dead_letters.ts";
import { connectNats, type NatsHandles } from "./nats.ts";

interface TestDb extends EventTables {
  widgets: { id: string; name: string };
  applied: { event_id: string };
}

const log = createLogger("events-test", "silent");
// A source of its own, so this file's subjects never meet another test's.
const source = `t${randomBytes(4).toString("hex")}`;
let db: Kysely<TestDb>;
let nats: NatsHandles;

beforeAll(async () => {
  const database = `events_${source}`;
  await ensureDatabase(inject("mysqlUrl"), database);
  db = createDb<TestDb>({ url: inject("mysqlUrl"), database });
  await migrateToLatest(db as Kysely<unknown>, { "0_event_tables": eventTables, "1_dead_letters": deadLetters });
  await sql`CREATE TABLE widgets (id CHAR(36) PRIMARY KEY, name VARCHAR(50) NOT NULL)`.execute(db);
  await sql`CREATE TABLE applied (event_id CHAR(36) NOT NULL)`.execute(db);
  nats = await connectNats(inject("natsUrl"), "events-test");
});

afterAll(async () => {
  await nats?.nc.close();
  await db?.destroy();
});

async function createWidget(name: string, fail = false): Promise<string> {
  const id = uuidv7();
  return db.transaction().execute(async (trx) => {
    await trx.insertInto("widgets").values({ id, name }).execute();
    const eventId = await appendEvent(trx, {
      source,
      subjectId: id,
      payload: { case: "categoryCreated", value: { categoryId: id, name } },
    });
    if (fail) throw new Error("the use case failed after writing");
    return eventId;
  });
}

async function messagesInStream(subject: string): Promise<number> {
  const info = await nats.jsm.streams.info(streamName, { subjects_filter: subject });
  return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
}

describe("the transactional outbox", () => {
  it("when a change commits, then its event row commits with it; when it rolls back, neither exists", async () => {
    const eventId = await createWidget("committed");
    expect(await db.selectFrom("outbox").select("id").where("id", "=", eventId).executeTakeFirst()).toBeDefined();

    await expect(createWidget("rolled-back", true)).rejects.toThrow("failed after writing");
    expect(await db.selectFrom("widgets").selectAll().where("name", "=", "rolled-back").execute()).toEqual([]);
    expect(await db.selectFrom("outbox").selectAll().execute()).toHaveLength(1);
  });

  it("when an event commits through inTransaction, then the relay publishes it at once, not at its next sweep", async () => {
    const relay = startOutboxRelay({ db, js: nats.js, log, pollMs: 60_000 });
    // Let the relay's first sweep pass: the next is a minute away.
    await new Promise((resolve) => setTimeout(resolve, 200));
    // A source of its own: the other stories count what is in the stream under theirs.
    const own = `${source}h`;
    const id = await inTransaction(db, (trx) =>
      appendEvent(trx, {
        source: own,
        payload: { case: "productDeleted", value: { productId: uuidv7() } },
      }),
    );
    await waitFor(async () => (await messagesInStream(`bazaar.${own}.product_deleted`)) === 1, 3_000);
    await waitFor(
      async () =>
        (await db.selectFrom("outbox").select("publish_time").where("id", "=", id).executeTakeFirstOrThrow())
          .publish_time !== null,
      3_000,
    );
    await relay.stop();
  });

  it("when every event since the relay's last sweep was handed over, then a wake does not sweep; after one written without commit hooks, it does", async () => {
    const relay = startOutboxRelay({ db, js: nats.js, log, pollMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const own = `${source}w`;
    // A row only a sweep finds (as a crashed relay leaves them): written straight into the table.
    const leftoverId = uuidv7();
    const leftover = create(EventSchema, {
      id: leftoverId,
      source: own,
      payload: { case: "categoryCreated", value: { categoryId: leftoverId, name: "left over" } },
    });
    await db
      .insertInto("outbox")
      .values({
        id: leftoverId,
        subject: `bazaar.${own}.category_created`,
        payload: Buffer.from(toBinary(EventSchema, leftover)),
        trace_parent: null,
        publish_time: null,
      })
      .execute();
    const deleted = (trx: Transaction<TestDb>) =>
      appendEvent(trx, { source: own, payload: { case: "productDeleted", value: { productId: uuidv7() } } });

    await inTransaction(db, deleted);
    relay.wake();
    await waitFor(async () => (await messagesInStream(`bazaar.${own}.product_deleted`)) === 1, 3_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await messagesInStream(`bazaar.${own}.category_created`)).toBe(0);

    await db.transaction().execute(deleted);
    relay.wake();
    await waitFor(async () => (await messagesInStream(`bazaar.${own}.category_created`)) === 1, 3_000);
    await waitFor(async () => (await messagesInStream(`bazaar.${own}.product_deleted`)) === 2, 3_000);
    await relay.stop();
  });

  it("when the relay crashed after publishing but before marking, then the re-sweep is deduplicated", async () => {
    const eventId = await createWidget("crash");
    const row = await db.selectFrom("outbox").selectAll().where("id", "=", eventId).executeTakeFirstOrThrow();
    // What a relay that died between publish and UPDATE left behind: published, still unmarked.
    await nats.js.publish(row.subject, row.payload, { msgID: row.id });

    const relay = startOutboxRelay({ db: db as Kysely<EventTables>, js: nats.js, log, pollMs: 50 });
    await waitFor(
      async () => (await db.selectFrom("outbox").where("publish_time", "is", null).select("id").execute()).length === 0,
    );
    await relay.stop();

    expect(await messagesInStream(`bazaar.${source}.>`)).toBe(2); // "committed" and "crash", once each
  });

  it("when an event is delivered twice, then the consumer applies it once", async () => {
    const seen: Event[] = [];
    const consumer = await startConsumer<TestDb>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source,
      name: `test-${source}`,
      filterSubject: `bazaar.${source}.>`,
      async handle(event, trx) {
        seen.push(event);
        await trx.insertInto("applied").values({ event_id: event.id }).execute();
      },
    });
    await waitFor(async () => seen.length === 2);

    // The same event again under another Msg-Id, as a producer bug or a replay would send it.
    const duplicate = create(EventSchema, seen[0]!);
    await nats.js.publish(`bazaar.${source}.category_created`, toBinary(EventSchema, duplicate), {
      msgID: `again-${source}`,
    });
    await waitFor(
      async () =>
        (await nats.jsm.consumers.info(streamName, `test-${source}`)).num_ack_pending === 0 &&
        (await nats.jsm.consumers.info(streamName, `test-${source}`)).num_pending === 0,
    );
    await consumer.stop();

    // The handler may run for the duplicate (a first delivery records its id with the COMMIT), but
    // that run rolls back: each event's effect is there once.
    const applied = await db.selectFrom("applied").select("event_id").execute();
    const distinct = [...new Set(seen.map((e) => e.id))];
    expect(distinct).toHaveLength(2);
    expect(applied.map((r) => r.event_id).sort()).toEqual(distinct.sort());
    expect(await metricValue("bazaar_consumer_events_total", { consumer: `test-${source}`, outcome: "applied" })).toBe(
      2,
    );
    expect(
      await metricValue("bazaar_consumer_events_total", { consumer: `test-${source}`, outcome: "duplicate" }),
    ).toBe(1);
    // Each applied event's commit → apply lag is observed once; the duplicate's is not.
    const lag = await registry.getSingleMetric("bazaar_consumer_event_lag_seconds")!.get();
    const ofThis = lag.values.filter((value) => value.labels.consumer === `test-${source}`) as Array<{
      value: number;
      metricName?: string;
    }>;
    expect(ofThis.find((value) => value.metricName?.endsWith("_count"))?.value).toBe(2);
    const sum = ofThis.find((value) => value.metricName?.endsWith("_sum"))!.value;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(20);
  });

  it("when a message is not an event at all, then it is terminated instead of redelivered for ever", async () => {
    const name = `poison-${source}`;
    const seen: string[] = [];
    const consumer = await startConsumer<TestDb>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source,
      name,
      filterSubject: `bazaar.${source}.poison`,
      async handle(event) {
        seen.push(event.id);
      },
    });
    await nats.js.publish(`bazaar.${source}.poison`, new Uint8Array([0xff, 0xff, 0xff]), { msgID: `poison-${source}` });
    await waitFor(async () => {
      const info = await nats.jsm.consumers.info(streamName, name);
      return info.delivered.stream_seq > 0 && info.num_ack_pending === 0 && info.num_redelivered === 0;
    });
    await consumer.stop();
    expect(seen).toEqual([]);
    const [letter] = await db.selectFrom("dead_letters").selectAll().where("consumer", "=", name).execute();
    expect(letter).toMatchObject({ event_id: "", subject: `bazaar.${source}.poison`, attempts: 1 });
    expect(await announcements("")).toEqual([
      expect.objectContaining({
        value: expect.objectContaining({ consumer: name, subject: `bazaar.${source}.poison` }),
      }),
    ]);
  });

  it("when a process died after committing an event's effects but before acking it, then the redelivery applies nothing twice", async () => {
    const name = `crash-${source}`;
    const subject = `bazaar.${source}.crash`;
    const event = create(EventSchema, {
      id: uuidv7(),
      source,
      payload: { case: "categoryCreated", value: { categoryId: uuidv7(), name: "x" } },
    });
    await nats.js.publish(subject, toBinary(EventSchema, event), { msgID: event.id });
    const handle = async (e: Event, trx: Parameters<Parameters<typeof applyOnce<TestDb>>[3]>[1]) => {
      await trx.insertInto("applied").values({ event_id: e.id }).execute();
    };
    // What the dead process managed: its transaction committed, its ack never left.
    expect(await applyOnce(db, name, event, handle)).toBe(true);
    const consumer = await startConsumer<TestDb>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source,
      name,
      filterSubject: subject,
      handle,
    });
    await waitFor(async () => {
      const info = await nats.jsm.consumers.info(streamName, name);
      return info.delivered.stream_seq > 0 && info.num_ack_pending === 0 && info.num_pending === 0;
    });
    await consumer.stop();
    expect(await db.selectFrom("applied").selectAll().where("event_id", "=", event.id).execute()).toHaveLength(1);
    expect(await metricValue("bazaar_consumer_events_total", { consumer: name, outcome: "duplicate" })).toBe(1);
    expect((await metricValue("bazaar_consumer_events_total", { consumer: name, outcome: "applied" })) ?? 0).toBe(0);
  });

  it("when a batch holds an event applied before, then applyAllOnce writes nothing; a handler's own duplicate key is thrown", async () => {
    const name = `batch-${source}`;
    const eventOf = () =>
      create(EventSchema, {
        id: uuidv7(),
        source,
        payload: { case: "categoryCreated", value: { categoryId: uuidv7(), name: "x" } },
      });
    const [before, fresh] = [eventOf(), eventOf()];
    const delivery = (event: Event) => ({ event, subject: `bazaar.${source}.batch`, traceParent: undefined });
    const handle = (e: Event, trx: Parameters<Parameters<typeof applyOnce<TestDb>>[3]>[1]) =>
      deferStatement(trx, trx.insertInto("applied").values({ event_id: e.id }));
    const appliedRows = async () =>
      (await db.selectFrom("applied").select("event_id").where("event_id", "in", [before.id, fresh.id]).execute()).map(
        (r) => r.event_id,
      );

    expect(await applyAllOnce(db, name, [delivery(before)], handle)).toBe(true);
    expect(await applyAllOnce(db, name, [delivery(fresh), delivery(before)], handle)).toBe(false);
    expect(await appliedRows()).toEqual([before.id]);
    expect(await applyAllOnce(db, name, [delivery(fresh)], handle)).toBe(true);
    expect((await appliedRows()).sort()).toEqual([before.id, fresh.id].sort());

    // A handler whose write meets a duplicate key of its own fails the batch: not taken for "applied before".
    const failing = (_e: Event, trx: Parameters<Parameters<typeof applyOnce<TestDb>>[3]>[1]) =>
      deferStatement(trx, trx.insertInto("processed_events").values({ consumer: name, event_id: before.id }));
    await expect(applyAllOnce(db, name, [delivery(eventOf())], failing)).rejects.toMatchObject({
      code: "ER_DUP_ENTRY",
    });
  });

  it("when an event is written while serving a traced request, then its consumer runs under the same traceparent", async () => {
    const traced = `${source}trace`;
    const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const eventId = await withTraceParent(traceParent, () =>
      db.transaction().execute((trx) =>
        appendEvent(trx, {
          source: traced,
          payload: { case: "categoryCreated", value: { categoryId: uuidv7(), name: "traced" } },
        }),
      ),
    );
    const relay = startOutboxRelay({ db: db as Kysely<EventTables>, js: nats.js, log, pollMs: 50 });
    const seen: Array<{ header: string | undefined; field: string }> = [];
    const consumer = await startConsumer<TestDb>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source,
      name: `traced-${source}`,
      filterSubject: `bazaar.${traced}.>`,
      async handle(event) {
        if (event.id === eventId) seen.push({ header: currentTraceParent(), field: event.traceParent });
      },
    });
    await waitFor(async () => seen.length === 1);
    await consumer.stop();
    await relay.stop();
    expect(seen).toEqual([{ header: traceParent, field: traceParent }]);
  });

  it("when a handler fails on every delivery, then the event is dead-lettered with the error after max_deliver, and a redrive after the fix applies it once", async () => {
    const name = `dead-${source}`;
    const subject = `bazaar.${source}.dead`;
    let broken = true;
    const applied: string[] = [];
    const consumer = await startConsumer<TestDb>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source,
      name,
      filterSubject: subject,
      maxDeliver: 3,
      redeliveryBackoffMs: [100, 100],
      async handle(event) {
        if (broken) throw new Error("the projection table is missing");
        applied.push(event.id);
      },
    });
    const event = create(EventSchema, {
      id: uuidv7(),
      source,
      payload: { case: "categoryCreated", value: { categoryId: uuidv7(), name: "y" } },
    });
    await nats.js.publish(subject, toBinary(EventSchema, event), { msgID: event.id });
    // Counted once the letter is recorded and the message terminated.
    await waitFor(async () => (await metricValue("bazaar_dead_letters_total", { consumer: name })) === 1);
    // The server handles the +TERM after the client sent it: a busy machine can show the message
    // as still awaiting its ack for a moment after the letter was recorded.
    await waitFor(async () => JSON.stringify(await consumer.lag()) === JSON.stringify({ pending: 0, ackPending: 0 }));
    expect(await metricValue("bazaar_consumer_events_total", { consumer: name, outcome: "retried" })).toBe(2);
    expect(await metricValue("bazaar_consumer_redeliveries_total", { consumer: name })).toBe(2);

    const dead = db as unknown as Kysely<EventTables>;
    const unobserve = observeDeadLetters(dead, () => [name]);
    await scrape(log);
    expect(await metricValue("bazaar_dead_letters_unresolved", { consumer: name })).toBe(1);
    const [letter] = await listDeadLetters(dead, { pageSize: 10 });
    expect(letter).toMatchObject({
      consumer: name,
      event_id: event.id,
      subject,
      attempts: 3,
      error: "Error: the projection table is missing",
      redrive_time: null,
    });
    // Announced with the letter, for the admins' alerts: what gave up on what, and why.
    expect(await announcements(event.id)).toEqual([
      {
        subject: `bazaar.${source}.event_dead_lettered`,
        value: {
          consumer: name,
          eventId: event.id,
          subject,
          error: "Error: the projection table is missing",
          attempts: 3,
        },
      },
    ]);

    const stillBroken = await redriveDeadLetter(dead, [consumer], letter!.id).catch((e: unknown) =>
      ConnectError.from(e),
    );
    expect((stillBroken as ConnectError).code).toBe(Code.FailedPrecondition);
    broken = false;
    expect((await redriveDeadLetter(dead, [consumer], letter!.id)).redrive_time).toBeInstanceOf(Date);
    await redriveDeadLetter(dead, [consumer], letter!.id);
    expect(applied).toEqual([event.id]);
    await scrape(log);
    expect(await metricValue("bazaar_dead_letters_unresolved", { consumer: name })).toBe(0);
    unobserve();
    await consumer.stop();
  });

  it("when a dead-letter announcement is itself dead-lettered, then it is kept but not announced again", async () => {
    const name = `alerts-${source}`;
    // A subject of its own: announcements of this file's earlier letters are in the stream too.
    const subject = `bazaar.${source}.alert`;
    const consumer = await startConsumer<TestDb>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source,
      name,
      filterSubject: subject,
      maxDeliver: 1,
      async handle() {
        throw new Error("the alerting is broken");
      },
    });
    const alert = create(EventSchema, {
      id: uuidv7(),
      source,
      payload: {
        case: "eventDeadLettered",
        value: { consumer: "other", eventId: uuidv7(), subject: "bazaar.x.y", error: "e", attempts: 8 },
      },
    });
    await nats.js.publish(subject, toBinary(EventSchema, alert), { msgID: alert.id });
    await waitFor(async () => (await metricValue("bazaar_dead_letters_total", { consumer: name })) === 1);
    await consumer.stop();
    expect(await db.selectFrom("dead_letters").select("event_id").where("consumer", "=", name).execute()).toEqual([
      { event_id: alert.id },
    ]);
    expect(await announcements(alert.id)).toEqual([]);
  });
});

/** The EventDeadLettered events in the outbox about `eventId`. */
describe("durable consumers in batches", () => {
  /** Publishes `count` events straight to the stream, as a relay would, and answers their ids. */
  async function publishEvents(subject: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const event = create(EventSchema, {
        id: uuidv7(),
        source,
        payload: { case: "categoryCreated", value: { categoryId: uuidv7(), name: `e${i}` } },
      });
      await nats.js.publish(subject, toBinary(EventSchema, event), { msgID: event.id });
      ids.push(event.id);
    }
    return ids;
  }

  async function appliedIds(ids: string[]): Promise<string[]> {
    const rows = await db.selectFrom("applied").select("event_id").where("event_id", "in", ids).execute();
    return rows.map((row) => row.event_id);
  }

  function consumerOf(
    name: string,
    subject: string,
    handle: Parameters<typeof startConsumer<TestDb>>[0]["handle"],
    wants?: Parameters<typeof startConsumer<TestDb>>[0]["wants"],
    batchIntervalMs?: number,
  ) {
    return startConsumer<TestDb>({
      ...(wants && { wants }),
      ...(batchIntervalMs !== undefined && { batchIntervalMs }),
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source,
      name,
      filterSubject: subject,
      // JetStream takes the first wait as the first delivery's ack deadline too.
      redeliveryBackoffMs: [1_000],
      handle,
    });
  }

  it("when a burst of events is waiting, then they are applied in order, each once, in far fewer transactions", async () => {
    const subject = `bazaar.${source}.burst`;
    const ids = await publishEvents(subject, 40);
    const order: string[] = [];
    const transactions = new Set<object>();
    const consumer = await consumerOf(`burst-${source}`, subject, async (event, trx) => {
      order.push(event.id);
      transactions.add(trx);
      await trx.insertInto("applied").values({ event_id: event.id }).execute();
    });
    await waitFor(async () => JSON.stringify(await consumer.lag()) === JSON.stringify({ pending: 0, ackPending: 0 }));
    await consumer.stop();

    expect(order).toEqual(ids);
    expect((await appliedIds(ids)).sort()).toEqual([...ids].sort());
    expect(transactions.size).toBeLessThanOrEqual(10);
    expect(await metricValue("bazaar_consumer_events_total", { consumer: `burst-${source}`, outcome: "applied" })).toBe(
      40,
    );
  });

  it("when events trickle in faster than the batch interval, then they are applied a few at a time, and a lone event after a quiet spell at once", async () => {
    const subject = `bazaar.${source}.trickle`;
    const name = `trickle-${source}`;
    const transactions = new Set<object>();
    const appliedAt = new Map<string, number>();
    const consumer = await consumerOf(
      name,
      subject,
      async (event, trx) => {
        transactions.add(trx);
        appliedAt.set(event.id, performance.now());
        await trx.insertInto("applied").values({ event_id: event.id }).execute();
      },
      undefined,
      1_000,
    );
    // 20 events 20 ms apart: applied as they come, each would be a transaction of its own.
    const ids: string[] = [];
    const firstPublishedAt = performance.now();
    for (let i = 0; i < 20; i++) {
      ids.push(...(await publishEvents(subject, 1)));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const publishingMs = performance.now() - firstPublishedAt;
    await waitFor(async () => (await appliedIds(ids)).length === 20, 10_000);
    // The first at once, then one batch per interval the publishing spanned, and one more where
    // 16 waiting start early: 3 when publishing took well under a second.
    expect(transactions.size).toBeLessThanOrEqual(2 + Math.ceil(publishingMs / 1_000));

    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const publishedAt = performance.now();
    const [lone] = await publishEvents(subject, 1);
    await waitFor(async () => (await appliedIds([lone!])).length === 1, 10_000);
    await consumer.stop();
    expect(appliedAt.get(lone!)! - publishedAt).toBeLessThan(800);
    // Held up to the interval, their ack deadlines were renewed: none came twice.
    expect((await metricValue("bazaar_consumer_redeliveries_total", { consumer: name })) ?? 0).toBe(0);
  });

  it("when the consumer does not want some events, then they are acknowledged unrecorded and the rest applied once", async () => {
    const subject = `bazaar.${source}.wanted`;
    const name = `wanted-${source}`;
    const ids = await publishEvents(subject, 12);
    const unwanted = new Set(ids.filter((_, i) => i % 3 === 0));
    const handled: string[] = [];
    const consumer = await consumerOf(
      name,
      subject,
      async (event, trx) => {
        handled.push(event.id);
        await trx.insertInto("applied").values({ event_id: event.id }).execute();
      },
      (event) => !unwanted.has(event.id),
    );
    await waitFor(async () => JSON.stringify(await consumer.lag()) === JSON.stringify({ pending: 0, ackPending: 0 }));
    await consumer.stop();

    const wanted = ids.filter((id) => !unwanted.has(id));
    expect(handled).toEqual(wanted);
    expect((await appliedIds(ids)).sort()).toEqual([...wanted].sort());
    // Nothing was recorded of the unwanted ones: no processed-id row, so no transaction at all.
    const processed = await db.selectFrom("processed_events").select("event_id").where("consumer", "=", name).execute();
    expect(processed.map((row) => row.event_id).sort()).toEqual([...wanted].sort());
    expect(await metricValue("bazaar_consumer_events_total", { consumer: name, outcome: "ignored" })).toBe(4);
    expect(await metricValue("bazaar_consumer_events_total", { consumer: name, outcome: "applied" })).toBe(8);
  });

  it("when events wait behind slow batches, then none is delivered a second time", async () => {
    const subject = `bazaar.${source}.slow`;
    const name = `slow-${source}`;
    const ids = await publishEvents(subject, 80);
    // 20 ms an event: 80 events take 1.6 s, longer than the 1 s JetStream waits for an ack.
    const consumer = await consumerOf(name, subject, async (event, trx) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await trx.insertInto("applied").values({ event_id: event.id }).execute();
    });
    await waitFor(async () => (await appliedIds(ids)).length === 80);
    await waitFor(async () => JSON.stringify(await consumer.lag()) === JSON.stringify({ pending: 0, ackPending: 0 }));
    await consumer.stop();

    expect((await metricValue("bazaar_consumer_redeliveries_total", { consumer: name })) ?? 0).toBe(0);
    expect(await metricValue("bazaar_consumer_events_total", { consumer: name, outcome: "applied" })).toBe(80);
  });

  it("when one event of a batch fails, then the others are applied once, it alone is retried, and only committed work is announced", async () => {
    const subject = `bazaar.${source}.flaky`;
    const ids = await publishEvents(subject, 10);
    const attempts = new Map<string, number>();
    const announced: string[] = [];
    const consumer = await consumerOf(`flaky-${source}`, subject, async (event, trx) => {
      const attempt = (attempts.get(event.id) ?? 0) + 1;
      attempts.set(event.id, attempt);
      await trx.insertInto("applied").values({ event_id: event.id }).execute();
      afterCommit(trx, () => announced.push(event.id));
      // Fails in its batch, then once more alone: it is handed back to JetStream and redelivered.
      if (event.id === ids[5] && attempt <= 2) throw new Error("a deadlock, say");
    });
    await waitFor(async () => (await appliedIds(ids)).length === 10);
    await waitFor(async () => JSON.stringify(await consumer.lag()) === JSON.stringify({ pending: 0, ackPending: 0 }));
    await consumer.stop();

    // Rolled back with the batch, then applied again alone: each row once.
    expect((await appliedIds(ids)).sort()).toEqual([...ids].sort());
    expect([...announced].sort()).toEqual([...ids].sort());
    const retried = await metricValue("bazaar_consumer_events_total", {
      consumer: `flaky-${source}`,
      outcome: "retried",
    });
    expect(retried).toBeGreaterThanOrEqual(1);
    // Only the failing event came again: every redelivery is one of its retries.
    expect(await metricValue("bazaar_consumer_redeliveries_total", { consumer: `flaky-${source}` })).toBe(retried);
  });

  it("when a batch holds an event applied before, then nothing in it is applied twice", async () => {
    const subject = `bazaar.${source}.replayed`;
    const name = `replayed-${source}`;
    const handle = async (event: Event, trx: Parameters<Parameters<typeof consumerOf>[2]>[1]) => {
      await trx.insertInto("applied").values({ event_id: event.id }).execute();
    };
    const [first] = await publishEvents(subject, 1);
    let consumer = await consumerOf(name, subject, handle);
    await waitFor(async () => (await appliedIds([first!])).length === 1);
    await consumer.stop();

    // While the consumer is away: a fresh event, the first one again (a replay under another
    // Msg-Id), and another fresh one; they arrive together when it comes back.
    const [before] = await publishEvents(subject, 1);
    const replay = create(EventSchema, {
      id: first!,
      source,
      payload: { case: "categoryCreated", value: { categoryId: uuidv7(), name: "again" } },
    });
    await nats.js.publish(subject, toBinary(EventSchema, replay), { msgID: `again-${first}` });
    const [after] = await publishEvents(subject, 1);
    consumer = await consumerOf(name, subject, handle);
    await waitFor(async () => JSON.stringify(await consumer.lag()) === JSON.stringify({ pending: 0, ackPending: 0 }));
    await consumer.stop();

    expect((await appliedIds([first!, before!, after!])).sort()).toEqual([first!, before!, after!].sort());
    expect(await metricValue("bazaar_consumer_events_total", { consumer: name, outcome: "duplicate" })).toBe(1);
  });
});

async function announcements(eventId: string) {
  const rows = await db
    .selectFrom("outbox")
    .select(["subject", "payload"])
    .where("subject", "like", "%.event_dead_lettered")
    .execute();
  return rows.flatMap((row) => {
    const { payload } = fromBinary(EventSchema, row.payload);
    if (payload.case !== "eventDeadLettered" || payload.value.eventId !== eventId) return [];
    const { consumer, subject, error, attempts } = payload.value;
    return [{ subject: row.subject, value: { consumer, eventId, subject, error, attempts } }];
  });
}

/** A series' current value in this process's registry. */
async function metricValue(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const { values } = await registry.getSingleMetric(name)!.get();
  return values.find((value) => Object.entries(labels).every(([key, expected]) => value.labels[key] === expected))
    ?.value;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
