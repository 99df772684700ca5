// The event stream read whole from tests and the chaos run (no test runner needed).
import { fromBinary } from "@bufbuild/protobuf";
import { jetstream, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Event, EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { streamName } from "../../services/kit/events.ts";

/** Hands every event the stream holds under `filter` to `visit`, read with a throwaway consumer. */
export async function readStream(
  nc: NatsConnection,
  filter: string,
  visit: (event: Event, message: JsMsg) => void,
): Promise<void> {
  const consumer = await jetstream(nc).consumers.get(streamName, { filter_subjects: filter });
  let remaining = (await consumer.info()).num_pending;
  while (remaining > 0) {
    const batch = await consumer.fetch({ max_messages: Math.min(remaining, 256), expires: 2_000 });
    for await (const message of batch) {
      remaining -= 1;
      visit(fromBinary(EventSchema, message.data), message);
    }
  }
}
