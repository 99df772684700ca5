// `npm run admin:rebuild`: drops the admin service's projections (audit trail, sales figures)
// and rebuilds them from the whole event stream, printing progress. Safe while the admin
// service runs: its live consumer and this replay share one record of applied event ids, so
// every event is applied exactly once whichever of them gets to it first.
import { fromBinary } from "@bufbuild/protobuf";
import { DeliverPolicy } from "@nats-io/jetstream";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { createDb, migrateToLatest } from "../kit/db.ts";
import { applyOnce } from "../kit/consumer.ts";
import { streamName } from "../kit/events.ts";
import { connectNats } from "../kit/nats.ts";
import { loadAdminConfig } from "./config.ts";
import type { AdminDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { clearProjections } from "./db/projections.repository.ts";
import { applyToProjections, projectionsConsumer } from "./domain/projections.ts";

const config = loadConfigOrExit(() => loadAdminConfig(process.env));
const say = (line: string) => process.stdout.write(`${line}\n`);
const db = createDb<AdminDatabase>({ url: config.mysqlUrl, database: config.database });
const nats = await connectNats(config.natsUrl, "bazaar-admin-rebuild", config.natsStreamReplicas);
try {
  await migrateToLatest(db as never, migrations);
  const { state } = await nats.jsm.streams.info(streamName);
  const lastSeq = state.last_seq;
  say(`rebuilding the admin projections from ${state.messages} events (stream sequence ${state.first_seq}–${lastSeq})`);
  await clearProjections(db, projectionsConsumer.name);

  const started = Date.now();
  let replayed = 0;
  let applied = 0;
  let lastReport = started;
  if (state.messages > 0) {
    // An ordered consumer: ephemeral, in sequence, gone when closed.
    const consumer = await nats.js.consumers.get(streamName, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume();
    for await (const message of messages) {
      try {
        if (await applyOnce(db, projectionsConsumer.name, fromBinary(EventSchema, message.data), applyToProjections))
          applied += 1;
      } catch (error) {
        say(`event at sequence ${message.seq} could not be applied and was skipped: ${(error as Error).message}`);
      }
      replayed += 1;
      if (Date.now() - lastReport > 1_000) {
        say(`  ${replayed} / ${state.messages} events`);
        lastReport = Date.now();
      }
      if (message.seq >= lastSeq) break;
    }
    await messages.close();
  }
  say(
    `done: ${replayed} events replayed, ${applied} applied here (the rest by the running service) in ${Date.now() - started} ms`,
  );
} finally {
  await nats.nc.close();
  await db.destroy();
}
