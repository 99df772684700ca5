// The edge's event feeds against a real nats-server: the catalog's events evict cached answers,
// deactivations reach the deny list, and while the broker is away the cache stops trusting the
// longer time to live, then trusts it again once the broker is back.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSchema } from "../gen/bazaar/events/v1/events_pb.ts";
import { freePort } from "../deploy/local/ports.ts";
import { type RunningServer, startNats } from "../deploy/local/infra.ts";
import { DenyList } from "../services/kit/auth.ts";
import { subjectOf } from "../services/kit/events.ts";
import { uuidv7 } from "../services/kit/ids.ts";
import { createLogger } from "../services/kit/log.ts";
import { connectNats } from "../services/kit/nats.ts";
import { eventually } from "../services/kit/testing/eventually.ts";
import { startEdgeFeeds } from "./event-feeds.ts";
import { PublicCache } from "./public-cache.ts";

let dataDir: string;
let port: number;
let nats: RunningServer;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "bazaar-edge-feeds-"));
  port = await freePort();
  nats = await startNats({ dataDir, port });
});

afterAll(async () => {
  await nats?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function publish(
  payload: NonNullable<MessageInitShape<typeof EventSchema>["payload"]>,
  source: string,
): Promise<void> {
  const { nc, js } = await connectNats(nats.url, "edge-feeds-test");
  try {
    const event = create(EventSchema, { id: uuidv7(), occurTime: timestampNow(), source, payload });
    await js.publish(subjectOf(source, payload.case!), toBinary(EventSchema, event));
  } finally {
    await nc.close();
  }
}

const answer = (text: string) => ({ contentType: "application/json", body: Buffer.from(text) });

describe("the edge's event feeds", () => {
  it("when a product changes, its cached answer goes; a deactivation reaches the deny list; a broker outage falls back to the short time to live until it is back", async () => {
    const cache = new PublicCache({ ttlMs: 1_000, followedTtlMs: 60_000 });
    const denyList = new DenyList();
    const feeds = startEdgeFeeds({
      natsUrl: nats.url,
      streamReplicas: 1,
      cache,
      denyList,
      deactivationLookbackMs: 60_000,
      log: createLogger("edge-feeds-test", "silent"),
    });
    try {
      await eventually(
        async () => cache.followed,
        (followed) => followed,
        10_000,
      );
      const productId = uuidv7();
      cache.set("get", answer("old"), { generation: cache.generation, productIds: [productId] });
      cache.set("other", answer("kept"), { generation: cache.generation, productIds: [uuidv7()] });
      await publish({ case: "productUpdated", value: { productId, name: "new" } }, "product");
      await eventually(
        async () => cache.get("get"),
        (entry) => entry === undefined,
        2_000,
      );
      expect(cache.get("other")?.body.toString()).toBe("kept");

      const userId = uuidv7();
      const caller = { id: userId, role: "customer" as const, issuedAt: Date.now() / 1000 - 10 };
      expect(denyList.refuses(caller)).toBe(false);
      await publish({ case: "userActiveChanged", value: { userId, active: false } }, "auth");
      await eventually(
        async () => denyList.refuses(caller),
        (refused) => refused,
        2_000,
      );

      await nats.stop();
      await eventually(
        async () => cache.followed,
        (followed) => !followed,
        10_000,
      );
      cache.set("during", answer("short"), { generation: cache.generation }, 0);
      expect(cache.get("during", 1_000), "kept only the short time to live").toBeUndefined();

      nats = await startNats({ dataDir, port });
      await eventually(
        async () => cache.followed,
        (followed) => followed,
        15_000,
      );
      const after = uuidv7();
      cache.set("after", answer("cached"), { generation: cache.generation, productIds: [after] });
      await publish({ case: "stockChanged", value: { reason: "adjust", levels: [{ productId: after }] } }, "product");
      await eventually(
        async () => cache.get("after"),
        (entry) => entry === undefined,
        2_000,
      );
    } finally {
      await feeds.stop();
    }
  }, 60_000);
});
