// Who may call each RPC of the admin service: admins, and nobody else, except for a shop's
// sales report, which its seller reads too.
import { AdminService } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { accessRules, type AccessRules, type Caller } from "../kit/auth.ts";

export const adminAccessRules = [
  accessRules(AdminService, {
    ...(Object.fromEntries(AdminService.methods.map((m) => [m.localName, "admin"])) as AccessRules<
      typeof AdminService
    >),
    // Sellers and admins get past the rule; the handler then lets a seller read only their own
    // shops (mayReadShopSales).
    getShopSalesReport: "seller",
  }),
];

/**
 * Whether the caller may read the sales report of a shop owned by `shopSellerId`: admins any,
 * a seller their own. Another seller's shop is PERMISSION_DENIED (SHOP_NOT_OWNED), as the order
 * service answers for another seller's shop in ListShopOrders: shops are public, so saying the
 * shop is not theirs reveals nothing; an unknown shop is NOT_FOUND.
 */
export function mayReadShopSales(caller: Caller, shopSellerId: string): boolean {
  return caller.role === "admin" || (caller.role === "seller" && caller.id === shopSellerId);
}
