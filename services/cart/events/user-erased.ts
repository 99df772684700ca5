// Deletes an erased user's cart (UserErased, emitted by auth when an admin erases the user): what
// someone meant to buy is theirs, and no figure depends on it. Applying it twice finds nothing.
import type { Transaction } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { deleteCart } from "../db/cart.repository.ts";
import type { CartDatabase } from "../db/database.ts";

export const userErasedConsumer = { name: "cart-user-erased", filterSubject: "bazaar.auth.user_erased" } as const;

export async function deleteErasedUsersCart(event: Event, trx: Transaction<CartDatabase>): Promise<void> {
  if (event.payload.case !== "userErased") return;
  await deleteCart(trx, event.payload.value.userId);
}
