// The messaging baseline: JetStream publish-with-ack from the bench process with nats.js, to a
// file-backed stream of its own (as the event stream is), so the mesh's consumers never see it.
import { DiscardPolicy, StorageType } from "@nats-io/jetstream";
import { connectNats, type NatsHandles } from "../../../services/kit/nats.ts";
import { runClosedLoop } from "../load/closed-loop.ts";
import type { Scenario } from "../scenarios/scenario.ts";

export const jetStreamBaselineId = "baseline.jetstream.publish";

const stream = "BENCH_BASELINE";
/** About the size of an encoded Bazaar event. */
const payload = new Uint8Array(256).fill(120);

export interface JetStreamBaseline {
  scenario: Scenario;
  close(): Promise<void>;
}

export async function createJetStreamBaseline(natsUrl: string): Promise<JetStreamBaseline> {
  const nats: NatsHandles = await connectNats(natsUrl, "bazaar-bench");
  await nats.jsm.streams.add({
    name: stream,
    subjects: ["bench.baseline.>"],
    storage: StorageType.File,
    max_msgs: 100_000,
    discard: DiscardPolicy.Old,
  });
  return {
    scenario: {
      id: jetStreamBaselineId,
      kind: "baseline",
      title: "nats.js JetStream publish with ack",
      generator: "nats.js",
      protocol: "JetStream",
      sweep: true,
      measure: (run) =>
        runClosedLoop({
          ...run,
          async call() {
            await nats.js.publish("bench.baseline.event", payload);
            return undefined;
          },
        }),
    },
    async close() {
      await nats.jsm.streams.delete(stream).catch(() => false);
      await nats.nc.close();
    },
  };
}
