// Reading the event stream from tests: which subjects were published about one subject id.
import { connect } from "@nats-io/transport-node";
import { natsConnectOptions } from "../../services/kit/nats.ts";
import { expect } from "vitest";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { readStream } from "./event-stream.ts";

/** Subjects of the events about `subjectId` under `filter` (read with a throwaway consumer). */
export async function eventsAbout(natsUrl: string, subjectId: string, filter: string): Promise<string[]> {
  return (await messagesAbout(natsUrl, subjectId, filter)).map((m) => m.subject);
}

/** The messages about `subjectId` under `filter`: subject, traceparent header and the event's own fields. */
export async function messagesAbout(natsUrl: string, subjectId: string, filter: string) {
  const nc = await connect(natsConnectOptions(natsUrl));
  try {
    const found: Array<{ subject: string; traceHeader: string | undefined; traceParent: string; actorId: string }> = [];
    await readStream(nc, filter, (event, message) => {
      if (event.subjectId === subjectId)
        found.push({
          subject: message.subject,
          traceHeader: message.headers?.get("traceparent"),
          traceParent: event.traceParent,
          actorId: event.actorId,
        });
    });
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
