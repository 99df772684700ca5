// Event lag: how long an event takes from the producer's commit to a consumer's handler, at a
// steady rate — through the transactional outbox, the relay, JetStream and a durable consumer
// (the path every Bazaar event takes) beside raw JetStream publish → consume at the same rate.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import type { Kysely } from "kysely";
import { createDb, ensureDatabase, inTransaction, migrateToLatest } from "../../services/kit/db.ts";
import { startConsumer } from "../../services/kit/consumer.ts";
import { appendEvent, streamName, type EventTables } from "../../services/kit/events.ts";
import { startOutboxRelay } from "../../services/kit/outbox-relay.ts";
import { uuidv7 } from "../../services/kit/ids.ts";
import { createLogger } from "../../services/kit/log.ts";
import * as eventTables from "../../services/kit/migrations/2026_11_23_000000_create_event_tables.ts";
import * as deadLetters from "../../services/kit/migrations/2026_11_24_000000_create_dead_letters.ts";
import { connectNats } from "../../services/kit/nats.ts";

export interface LagFigures {
  path: string;
  events: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function measureEventLag(options: {
  mysqlUrl: string;
  natsUrl: string;
  ratePerSecond: number;
  seconds: number;
}): Promise<LagFigures[]> {
  const log = createLogger("bench", "silent");
  const source = `benchlag${Date.now().toString(36)}`;
  const database = `bench_${source}`;
  await ensureDatabase(options.mysqlUrl, database);
  const db = createDb<EventTables>({ url: options.mysqlUrl, database });
  const nats = await connectNats(options.natsUrl, "bazaar-bench");
  try {
    await migrateToLatest(db as Kysely<unknown>, { "0_event_tables": eventTables, "1_dead_letters": deadLetters });

    const throughOutbox: number[] = [];
    const relay = startOutboxRelay({ db, js: nats.js, log });
    const consumer = await startConsumer<EventTables>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source,
      name: `${source}-outbox`,
      filterSubject: `bazaar.${source}.category_created`,
      async handle(event) {
        throughOutbox.push(Date.now() - timestampDate(event.occurTime!).getTime());
      },
    });
    await atSteadyRate(options.ratePerSecond, options.seconds, async () => {
      await inTransaction(db, (trx) =>
        appendEvent(trx, {
          source,
          payload: { case: "categoryCreated", value: { categoryId: uuidv7(), name: "lag" } },
        }),
      );
      relay.wake();
    });
    const expected = options.ratePerSecond * options.seconds;
    await until(() => throughOutbox.length >= expected, 30_000);
    await consumer.stop();
    await relay.stop();

    // Baseline: the same rate published straight to JetStream and pulled by a durable consumer.
    const raw: number[] = [];
    const rawSubject = `bazaar.${source}.raw`;
    await nats.jsm.consumers.add(streamName, {
      durable_name: `${source}-raw`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: rawSubject,
    });
    const messages = await (await nats.js.consumers.get(streamName, `${source}-raw`)).consume();
    const pulling = (async () => {
      for await (const message of messages) {
        raw.push(Date.now() - Number(new TextDecoder().decode(message.data)));
        message.ack();
      }
    })();
    await atSteadyRate(options.ratePerSecond, options.seconds, async () => {
      await nats.js.publish(rawSubject, new TextEncoder().encode(String(Date.now())));
    });
    await until(() => raw.length >= expected, 30_000);
    await messages.close();
    await pulling;
    await nats.jsm.consumers.delete(streamName, `${source}-raw`);
    await nats.jsm.consumers.delete(streamName, `${source}-outbox`);

    return [
      figures("baseline: raw JetStream publish → durable consumer", raw),
      figures("event: outbox commit → relay → JetStream → consumer handler", throughOutbox),
    ];
  } finally {
    await nats.nc.close();
    await db.destroy();
  }
}

/** Starts `work` ratePerSecond times a second for `seconds`, without waiting for one to finish. */
async function atSteadyRate(ratePerSecond: number, seconds: number, work: () => Promise<void>): Promise<void> {
  const total = ratePerSecond * seconds;
  const started = Date.now();
  const running: Array<Promise<void>> = [];
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * ratePerSecond) + 1);
    for (; sent < due; sent++) running.push(work());
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(running);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("events did not all arrive in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function figures(path: string, lags: number[]): LagFigures {
  const sorted = [...lags].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { path, events: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? 0 };
}
