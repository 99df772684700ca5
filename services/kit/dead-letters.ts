// Dead letters, kept by every service for the events its own durable consumers gave up on
// (startConsumer in events.ts records them): listed newest first and applied again with the
// consumer's handler once the cause is fixed. DeadLetterService serves them to the admin service.
import { fromBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { sql, type Generated, type Kysely } from "kysely";
import { Gauge } from "prom-client";
import type { DeadLetterService } from "../../gen/bazaar/events/v1/dead_letters_pb.ts";
import { EventSchema, type Event } from "../../gen/bazaar/events/v1/events_pb.ts";
import { pageSizeOf } from "./pages.ts";
import type { DurableConsumer } from "./consumer.ts";
import type { EventTables } from "./events.ts";
import { uuidv7 } from "./ids.ts";
import { refreshOnScrape, registry } from "./metrics.ts";

export interface DeadLettersTable {
  id: string;
  consumer: string;
  event_id: string;
  subject: string;
  payload: Buffer;
  error: string;
  attempts: number;
  create_time: Generated<Date>;
  redrive_time: Date | null;
}

export type DeadLetterRow = Omit<DeadLettersTable, "create_time"> & { create_time: Date };

export interface NewDeadLetter {
  consumer: string;
  eventId: string;
  subject: string;
  payload: Uint8Array;
  error: unknown;
  attempts: number;
}

/** What a dead letter says went wrong: the error's name and message, never the payload. */
export function describeFailure(error: unknown): string {
  return (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 4_000);
}

export async function recordDeadLetter(db: Kysely<EventTables>, letter: NewDeadLetter): Promise<void> {
  await db
    .insertInto("dead_letters")
    .values({
      id: uuidv7(),
      consumer: letter.consumer,
      event_id: letter.eventId,
      subject: letter.subject,
      payload: Buffer.from(letter.payload),
      error: describeFailure(letter.error),
      attempts: letter.attempts,
      redrive_time: null,
    })
    .execute();
}

/** Dead letters not redriven yet, by consumer. */
export async function unresolvedDeadLetters(db: Kysely<EventTables>): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom("dead_letters")
    .select((eb) => ["consumer", eb.fn.countAll<string | number>().as("letters")])
    .where("redrive_time", "is", null)
    .groupBy("consumer")
    .execute();
  return new Map(rows.map((row) => [row.consumer, Number(row.letters)]));
}

const unresolved = new Gauge({
  name: "bazaar_dead_letters_unresolved",
  help: "Dead letters not redriven yet, by consumer",
  labelNames: ["consumer"],
  registers: [registry],
});

/**
 * Counts unresolved dead letters at each scrape: 0 for each of `consumers` that has none, so a
 * dashboard shows a line rather than nothing. Returns the unregister.
 */
export function observeDeadLetters(db: Kysely<EventTables>, consumers: () => string[]): () => void {
  return refreshOnScrape("dead_letters", [unresolved], async () => {
    const counts = await unresolvedDeadLetters(db);
    unresolved.reset();
    for (const consumer of consumers()) unresolved.set({ consumer }, 0);
    for (const [consumer, letters] of counts) unresolved.set({ consumer }, letters);
  });
}

/** Newest first; `beforeId` continues after the last id of the previous page. */
export async function listDeadLetters(
  db: Kysely<EventTables>,
  page: { pageSize: number; beforeId?: string },
): Promise<DeadLetterRow[]> {
  let select = db.selectFrom("dead_letters").selectAll();
  if (page.beforeId) select = select.where("id", "<", page.beforeId);
  return select.orderBy("id", "desc").limit(pageSizeOf(page.pageSize)).execute();
}

/**
 * Applies a dead letter's event with its consumer's handler. Applied before, or now: it is
 * marked redriven. Failing again: FAILED_PRECONDITION with the error, and it stays dead.
 */
export async function redriveDeadLetter(
  db: Kysely<EventTables>,
  consumers: DurableConsumer[],
  id: string,
): Promise<DeadLetterRow> {
  const find = () => db.selectFrom("dead_letters").selectAll().where("id", "=", id).executeTakeFirst();
  const row = await find();
  if (!row) throw new ConnectError(`dead letter ${id} not found`, Code.NotFound);
  if (row.redrive_time) return row;
  const consumer = consumers.find((c) => c.name === row.consumer);
  if (!consumer)
    throw new ConnectError(`consumer ${row.consumer} is not running in this process`, Code.FailedPrecondition);
  let event: Event;
  try {
    event = fromBinary(EventSchema, row.payload);
  } catch {
    throw new ConnectError(`dead letter ${id} is not a decodable event and cannot be applied`, Code.FailedPrecondition);
  }
  try {
    await consumer.redrive(event);
  } catch (error) {
    throw new ConnectError(
      `applying event ${event.id} failed again: ${(error as Error).message}`,
      Code.FailedPrecondition,
    );
  }
  await db
    .updateTable("dead_letters")
    .set({ redrive_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .execute();
  return (await find())!;
}

export function createDeadLetterService(
  db: Kysely<EventTables>,
  consumers: () => DurableConsumer[],
): ServiceImpl<typeof DeadLetterService> {
  return {
    async listDeadLetters(request) {
      return { deadLetters: (await listDeadLetters(db, request)).map(toProto) };
    },
    async redriveDeadLetter(request) {
      return { deadLetter: toProto(await redriveDeadLetter(db, consumers(), request.id)) };
    },
  };
}

function toProto(row: DeadLetterRow) {
  return {
    id: row.id,
    consumer: row.consumer,
    eventId: row.event_id,
    subject: row.subject,
    error: row.error,
    attempts: row.attempts,
    createTime: timestampFromDate(row.create_time),
    redriveTime: row.redrive_time ? timestampFromDate(row.redrive_time) : undefined,
  };
}
