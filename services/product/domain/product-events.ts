// ProductUpdated, written by every change buyers see in a product: its fields, or its gallery's
// main image (carts keep both).
import type { Transaction } from "kysely";
import type { NewEvent } from "../../kit/events.ts";
import type { ProductDatabase } from "../db/database.ts";
import { imagesOf } from "../db/media.repository.ts";
import { isShopSuspended } from "../db/shop.repository.ts";
import { imageToProto, mainImageUrl, type ImageUrls } from "../media/image-proto.ts";
import type { Product } from "./catalog.ts";

export async function productUpdatedEvent(
  trx: Transaction<ProductDatabase>,
  urls: ImageUrls,
  before: Product,
  after: Product,
  changedFields: string[],
  actorId: string,
): Promise<NewEvent> {
  const [main] = await imagesOf(trx, [after.id]);
  const image = main ? imageToProto(main, urls) : undefined;
  return {
    source: "product",
    actorId,
    subjectId: after.id,
    payload: {
      case: "productUpdated",
      value: {
        productId: after.id,
        name: after.name,
        oldPrice: { currencyCode: before.currencyCode, amountMinor: before.priceMinor },
        newPrice: { currencyCode: before.currencyCode, amountMinor: after.priceMinor },
        // Whether buyers can see it: a seller editing a product of a suspended shop must not
        // make carts show it for sale again.
        active: after.active && !(await isShopSuspended(trx, before.shopId)),
        changedFields,
        imageUrl: mainImageUrl(image) ?? after.imageUrls[0] ?? "",
        image,
      },
    },
  };
}
