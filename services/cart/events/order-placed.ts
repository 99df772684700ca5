// Empties carts of what was bought: OrderPlaced takes each purchased quantity off its line, so
// items added while the checkout ran stay in the cart.
import type { Transaction } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { lockCart, subtractFromLine, touchCart } from "../db/cart.repository.ts";
import type { CartDatabase } from "../db/database.ts";

export const orderPlacedConsumer = { name: "cart-order-placed", filterSubject: "bazaar.order.order_placed" } as const;

export async function removePurchasedItems(event: Event, trx: Transaction<CartDatabase>): Promise<void> {
  if (event.payload.case !== "orderPlaced") return;
  const { userId, items } = event.payload.value;
  await lockCart(trx, userId);
  for (const item of items) await subtractFromLine(trx, userId, item.productId, item.quantity);
  await touchCart(trx, userId);
}
