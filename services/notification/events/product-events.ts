// Product events → the seller's low-stock notification. StockChanged names only the products, so
// ProductCreated keeps whose each is; a product notifies once when it falls below the threshold
// and again only after it was restocked above it.
import type { Transaction } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import type { NotificationDatabase } from "../db/database.ts";
import { findProductOwners, renameProduct, setLowStock, upsertProductOwner } from "../db/notification.repository.ts";
import { deliver } from "../domain/deliver.ts";
import type { FeedSignals } from "../../kit/feed-signals.ts";
import { stockLevelsOf } from "../../kit/stock-levels.ts";

export const productEventsConsumer = { name: "notification-product-events", filterSubject: "bazaar.product.>" };

export function followProductEvents(signals: FeedSignals, lowStockThreshold: number) {
  return async (event: Event, trx: Transaction<NotificationDatabase>): Promise<void> => {
    const { payload } = event;
    switch (payload.case) {
      case "productCreated": {
        const p = payload.value;
        await upsertProductOwner(trx, { productId: p.productId, shopId: p.shopId, sellerId: p.sellerId, name: p.name });
        return;
      }
      case "productUpdated":
        if (payload.value.name) await renameProduct(trx, payload.value.productId, payload.value.name);
        return;
      case "stockChanged": {
        const levels = stockLevelsOf(payload.value);
        const owners = await findProductOwners(
          trx,
          levels.map((level) => level.productId),
        );
        for (const { productId, stockAvailable } of levels) {
          const owner = owners.get(productId);
          if (!owner) continue;
          const low = stockAvailable < lowStockThreshold;
          if (low === owner.low_stock) continue;
          await setLowStock(trx, productId, low);
          if (!low) continue;
          await deliver(trx, signals, {
            userId: owner.seller_id,
            kind: "LOW_STOCK",
            title: "Low stock",
            body: `${owner.name} has ${stockAvailable} left.`,
            link: `/seller/products/${productId}`,
            idempotencyKey: `${event.id}:${productId}:${owner.seller_id}`,
          });
        }
        return;
      }
      default:
        return;
    }
  };
}
