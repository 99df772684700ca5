// Hears OrderPlaced, OrderStatusChanged and ShopOrderStatusChanged on NATS and wakes the WatchOrders feeds of
// that buyer and the WatchShopOrders feeds of those shops in this process — whichever replica
// made the change. A plain subscription is enough: the feed reads
// the database, so a missed announcement only delays an update until the next poll.
import { fromBinary } from "@bufbuild/protobuf";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import type { RunningConsumer } from "../kit/consumer.ts";
import { subjectOf } from "../kit/events.ts";
import type { Logger } from "../kit/log.ts";
import type { FeedSignals } from "../kit/feed-signals.ts";
import { shopFeedKey } from "./domain/order-feed.ts";

export function listenForOrderChanges(nc: NatsConnection, signals: FeedSignals, log: Logger): RunningConsumer {
  const callback = (error: Error | null, message: Msg) => {
    if (error) return log.warn({ err: error }, "order change announcements interrupted");
    try {
      const event = fromBinary(EventSchema, message.data);
      const { payload } = event;
      // A shop's fulfilment move is the buyer's change too, even when the order's status stays.
      if (payload.case === "orderStatusChanged") {
        signals.announce(payload.value.userId);
        for (const shopId of payload.value.shopIds) signals.announce(shopFeedKey(shopId));
      }
      // The confirmation: OrderPlaced is the only event of that move.
      if (payload.case === "orderPlaced") {
        signals.announce(payload.value.userId);
        for (const { shopId } of payload.value.shopOrders) signals.announce(shopFeedKey(shopId));
      }
      if (payload.case === "shopOrderStatusChanged") {
        signals.announce(payload.value.userId);
        signals.announce(shopFeedKey(payload.value.shopId));
      }
    } catch (decodeError) {
      log.warn({ err: decodeError }, "undecodable order change announcement ignored");
    }
  };
  const subscriptions = [
    nc.subscribe(subjectOf("order", "orderPlaced"), { callback }),
    nc.subscribe(subjectOf("order", "orderStatusChanged"), { callback }),
    nc.subscribe(subjectOf("order", "shopOrderStatusChanged"), { callback }),
  ];
  return {
    async stop() {
      for (const subscription of subscriptions) subscription.unsubscribe();
    },
  };
}
