// An ephemeral, ordered read of the event stream for state a process keeps in memory (the deny
// list, the edge's cache): no durable consumer, no acks. It is attached before the caller goes
// on, and afterwards restarts whenever it breaks (broker restart, missed heartbeats under load)
// instead of taking the process down with an unhandled error. Each (re)attach starts again from
// `from` and tells `onAttach`, since events may have been missed while it was broken.
import { fromBinary } from "@bufbuild/protobuf";
import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Event, EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { streamName } from "./events.ts";
import type { Logger } from "./log.ts";

export interface EventFeedOptions {
  js: JetStreamClient;
  /** One subject filter (the broker in use predates multi-filter consumers, NATS 2.10). */
  filterSubject: string;
  /**
   * Replay the events of the last `lookbackMs` at each attach, only new ones ("new"), or those
   * from the stream sequence `startSeq()` answers at that attach (a reader that stores its place).
   */
  from: { lookbackMs: number } | "new" | { startSeq(): number };
  apply(event: Event, seq: number): void;
  /** Told after each attach and when the feed broke. */
  onAttached?(attached: boolean): void;
  /**
   * The connection the feed reads through. While it is down no event can arrive, however long
   * the outage: `onAttached` is told false at a disconnect and true at the reconnect (the ordered
   * consumer resumes after the last event it had, missing none).
   */
  connection?: NatsConnection;
  /** What the feed is for, in its log lines: "deactivation feed". */
  name: string;
  log: Logger;
}

export async function followEventFeed(options: EventFeedOptions): Promise<{ stop(): Promise<void> }> {
  const { js, from, log, name } = options;
  let stopped = false;
  const attach = async () => {
    const consumer = await js.consumers.get(
      streamName,
      from === "new"
        ? { filter_subjects: options.filterSubject, deliver_policy: DeliverPolicy.New }
        : "startSeq" in from
          ? {
              filter_subjects: options.filterSubject,
              deliver_policy: DeliverPolicy.StartSequence,
              opt_start_seq: from.startSeq(),
            }
          : {
              filter_subjects: options.filterSubject,
              deliver_policy: DeliverPolicy.StartTime,
              opt_start_time: new Date(Date.now() - from.lookbackMs).toISOString(),
            },
    );
    const messages = await consumer.consume();
    options.onAttached?.(true);
    return messages;
  };
  const apply = async (messages: Awaited<ReturnType<typeof attach>>) => {
    for await (const message of messages) {
      let event: Event;
      try {
        event = fromBinary(EventSchema, message.data);
      } catch (error) {
        log.error(
          { err: error, seq: message.seq, subject: message.subject },
          `undecodable event skipped by the ${name}`,
        );
        continue;
      }
      options.apply(event, message.seq);
    }
  };

  let messages: Awaited<ReturnType<typeof attach>> | undefined = await attach();
  const { connection, onAttached } = options;
  if (connection && onAttached) {
    void (async () => {
      for await (const status of connection.status()) {
        if (status.type === "disconnect") onAttached(false);
        else if (status.type === "reconnect") onAttached(true);
      }
    })();
  }
  const done = (async () => {
    while (!stopped) {
      try {
        messages ??= await attach();
        await apply(messages);
      } catch (error) {
        if (!stopped) log.warn({ err: error }, `${name} interrupted; restarting`);
      }
      messages = undefined;
      if (stopped) break;
      options.onAttached?.(false);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await messages?.close();
      await done;
    },
  };
}
