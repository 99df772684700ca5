// What each catalog event means for the edge's cache of public answers (public-cache.ts): a
// product's change evicts that product's answers and the catalog-wide ones (lists, searches,
// shops, categories); a change to a shop or the category tree may show in any answer.
import type { Event } from "../gen/bazaar/events/v1/events_pb.ts";
import { stockLevelsOf } from "../services/kit/stock-levels.ts";
import type { PublicCache } from "./public-cache.ts";

/** The events this applies: every event of the product service (bazaar.product.>). */
export const catalogSubjects = "bazaar.product.>";

export function applyCatalogEvent(cache: PublicCache, event: Event): void {
  const { payload } = event;
  switch (payload.case) {
    case "productCreated":
    case "productUpdated":
    case "productDeleted":
      cache.evictProducts([payload.value.productId]);
      return;
    case "stockChanged":
      cache.evictProducts(stockLevelsOf(payload.value).map((level) => level.productId));
      return;
    case "shopCreated":
    case "categoryCreated":
      // Lists gain an entry; no product's own answer changes.
      cache.evictProducts([]);
      return;
    case "shopUpdated":
    case "shopSuspensionChanged":
    case "categoryChanged":
      cache.clear();
      return;
    default:
      // Pictures still processing are nobody's business but their seller's (imageUploaded);
      // the gallery change that shows them comes as productUpdated or shopUpdated.
      return;
  }
}
