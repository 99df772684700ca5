// The products a StockChanged moved. Events since one StockChanged per move carry them in
// `levels`; older ones, still in the stream after an upgrade, carry their one product in the
// deprecated top-level fields.
import { create } from "@bufbuild/protobuf";
import { StockLevelSchema, type StockChanged, type StockLevel } from "../../gen/bazaar/events/v1/events_pb.ts";

export function stockLevelsOf(change: StockChanged): StockLevel[] {
  if (change.levels.length > 0 || !change.productId) return change.levels;
  const { productId, stockOnHand, stockHeld, stockAvailable } = change;
  return [create(StockLevelSchema, { productId, stockOnHand, stockHeld, stockAvailable })];
}
