// Reading the event stream from tests: which subjects were published about one subject id.
import { fromBinary } from "@bufbuild/protobuf";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsConnectOptions } from "../../services/kit/nats.ts";
import { expect } from "vitest";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { streamName } from "../../services/kit/events.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";

/** Subjects of the events about `subjectId` under `filter` (read with a throwaway consumer). */
export async function eventsAbout(natsUrl: string, subjectId: string, filter: string): Promise<string[]> {
  return (await messagesAbout(natsUrl, subjectId, filter)).map((m) => m.subject);
}

/** The messages about `subjectId` under `filter`: subject, traceparent header and the event's own fields. */
export async function messagesAbout(natsUrl: string, subjectId: string, filter: string) {
  const nc = await connect(natsConnectOptions(natsUrl));
  try {
    const consumer = await jetstream(nc).consumers.get(streamName, { filter_subjects: filter });
    const found: Array<{ subject: string; traceHeader: string | undefined; traceParent: string; actorId: string }> = [];
    let remaining = (await consumer.info()).num_pending;
    while (remaining > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(remaining, 256), expires: 2_000 });
      for await (const message of batch) {
        remaining -= 1;
        const event = fromBinary(EventSchema, message.data);
        if (event.subjectId === subjectId)
          found.push({
            subject: message.subject,
            traceHeader: message.headers?.get("traceparent"),
            traceParent: event.traceParent,
            actorId: event.actorId,
          });
      }
    }
    return found;
  } finally {
    await nc.close();
  }
}

/** Waits (up to 5 s: the relay publishes right after commit) until every expected subject is there. */
export async function expectEvents(
  natsUrl: string,
  subjectId: string,
  filter: string,
  expected: string[],
): Promise<void> {
  const subjects = await eventually(
    () => eventsAbout(natsUrl, subjectId, filter),
    (found) => expected.every((e) => found.includes(e)),
  );
  expect(subjects).toEqual(expect.arrayContaining(expected));
}
