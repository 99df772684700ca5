// Keeps the cart's product snapshots fresh from product events: a price change shows in every
// cart, a deleted product or one of a suspended shop shows as unavailable, stock follows
// StockChanged.
import type { Transaction } from "kysely";
import { toJsonString } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ImageSchema } from "../../../gen/bazaar/common/v1/common_pb.ts";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { stockLevelsOf } from "../../kit/stock-levels.ts";
import { applyStockLevels, applyToSnapshot, forgetShopSnapshots, takeShopOffSale } from "../db/cart.repository.ts";
import type { CartDatabase } from "../db/database.ts";

export const productSnapshotsConsumer = { name: "cart-product-snapshots", filterSubject: "bazaar.product.>" } as const;

export async function applyProductEvent(event: Event, trx: Transaction<CartDatabase>): Promise<void> {
  const at = event.occurTime ? timestampDate(event.occurTime) : new Date();
  const payload = event.payload;
  switch (payload.case) {
    case "productUpdated":
      await applyToSnapshot(
        trx,
        payload.value.productId,
        {
          name: payload.value.name,
          unitPriceMinor: payload.value.newPrice?.amountMinor,
          imageUrl: payload.value.imageUrl,
          imageJson: payload.value.image ? toJsonString(ImageSchema, payload.value.image) : "",
          forSale: payload.value.active,
        },
        at,
      );
      return;
    case "productDeleted":
      await applyToSnapshot(trx, payload.value.productId, { forSale: false }, at);
      return;
    case "stockChanged":
      await applyStockLevels(trx, stockLevelsOf(payload.value), at);
      return;
    case "shopSuspensionChanged":
      if (payload.value.suspended) await takeShopOffSale(trx, payload.value.shopId, at);
      else await forgetShopSnapshots(trx, payload.value.shopId);
      return;
    default:
      // Other product events (shops opened, categories, new products) change nothing in carts.
      return;
  }
}
