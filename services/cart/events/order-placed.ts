// Empties carts of what was bought: OrderPlaced takes each purchased quantity off its line, so
// items added while the checkout ran stay in the cart — and a line added after the order was
// placed (the cart cleared and filled again before a late event) is not touched at all.
import type { Transaction } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { timeOfUuidv7 } from "../../kit/ids.ts";
import { lockAndTouchCart, subtractFromLines } from "../db/cart.repository.ts";
import type { CartDatabase } from "../db/database.ts";

export const orderPlacedConsumer = { name: "cart-order-placed", filterSubject: "bazaar.order.order_placed" } as const;

export async function removePurchasedItems(event: Event, trx: Transaction<CartDatabase>): Promise<void> {
  if (event.payload.case !== "orderPlaced") return;
  const { orderId, userId, items } = event.payload.value;
  // The order id is a UUIDv7: its time is when checkout, having read this cart, created the order.
  const placedAt = timeOfUuidv7(orderId);
  await lockAndTouchCart(trx, userId);
  await subtractFromLines(trx, userId, items, placedAt);
}
