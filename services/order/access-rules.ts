// Who may call each RPC of the order service.
import { OrderAdminService, OrderService, ShopOrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { accessRules } from "../kit/auth.ts";

export const orderAccessRules = [
  accessRules(OrderService, {
    placeOrder: "user",
    listOrders: "user",
    getOrder: "user",
    cancelOrder: "user",
    watchOrders: "user",
  }),
  // "user", not "seller": the handler scopes what a caller sees, so a customer or another seller
  // gets NOT_FOUND (or an empty list), as the contract promises, rather than a hint that it exists.
  accessRules(ShopOrderService, {
    listShopOrders: "user",
    getShopOrder: "user",
    acceptShopOrder: "user",
    shipShopOrder: "user",
    deliverShopOrder: "user",
    cancelShopOrder: "user",
    watchShopOrders: "user",
  }),
  accessRules(OrderAdminService, {
    listAllOrders: "service",
    updateOrderStatus: "service",
    eraseBuyerData: "service",
  }),
];
