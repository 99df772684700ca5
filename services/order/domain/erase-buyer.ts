// Erasing a buyer's personal data from their orders (AdminService.EraseUser, through
// OrderAdminService.EraseBuyerData). The orders stay whole — lines, totals, statuses, history —
// so sales figures and the seller's records still add up; only the address that identified the
// person goes. The country stays: it says nothing about who they are and explains the tax.
import type { Kysely } from "kysely";
import type { PostalAddress } from "../../kit/postal-address.ts";
import type { OrderDatabase } from "../db/database.ts";
import { lockShippingAddressesOfBuyer, replaceShippingAddress } from "../db/order.repository.ts";

export function erasedAddress(address: PostalAddress): PostalAddress {
  return {
    recipientName: "",
    line1: "",
    line2: "",
    city: "",
    region: "",
    postalCode: "",
    countryCode: address.countryCode,
    phone: "",
  };
}

function isErased(address: PostalAddress): boolean {
  return JSON.stringify(address) === JSON.stringify(erasedAddress(address));
}

/** Blanks the address of every order of the buyer; returns how many still had one. */
export async function eraseBuyerData(db: Kysely<OrderDatabase>, userId: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const orders = await lockShippingAddressesOfBuyer(trx, userId);
    const left = orders.filter((order) => !isErased(order.shippingAddress));
    for (const order of left) await replaceShippingAddress(trx, order.id, erasedAddress(order.shippingAddress));
    return left.length;
  });
}
