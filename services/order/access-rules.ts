// Who may call each RPC of the order service, and which shops and shop orders a caller reaches.
import { OrderAdminService, OrderService, ShopOrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { accessRules, type Caller } from "../kit/auth.ts";

export const orderAccessRules = [
  accessRules(OrderService, {
    placeOrder: "user",
    listOrders: "user",
    getOrder: "user",
    cancelOrder: "user",
    watchOrders: "user",
  }),
  // Sellers and admins only: a customer, even the buyer of the order, is refused before any
  // lookup. Which shops and shop orders a seller reaches is decided below.
  accessRules(ShopOrderService, {
    listShopOrders: "seller",
    getShopOrder: "seller",
    acceptShopOrder: "seller",
    shipShopOrder: "seller",
    deliverShopOrder: "seller",
    cancelShopOrder: "seller",
    watchShopOrders: "seller",
  }),
  accessRules(OrderAdminService, {
    listAllOrders: "service",
    updateOrderStatus: "service",
    eraseBuyerData: "service",
  }),
];

/**
 * The seller whose shop orders a caller reaches, or undefined for an admin, who reaches all. A
 * shop order is its seller's when the seller owned the shop at checkout (its seller_id); anyone
 * else's is answered like a missing one.
 */
export function shopOrderScope(caller: Caller): string | undefined {
  return caller.role === "admin" ? undefined : caller.id;
}

/**
 * Whether a caller may list and watch the orders of a shop owned by `shopOwnerId`: its owner
 * or an admin. Shops are public, so refusing another seller's shop openly reveals nothing.
 */
export function mayReadShopOrdersOf(caller: Caller, shopOwnerId: string): boolean {
  return caller.role === "admin" || caller.id === shopOwnerId;
}
