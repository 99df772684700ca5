// Who may call each RPC of the order service.
import { OrderAdminService, OrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { accessRules } from "../kit/auth.ts";

export const orderAccessRules = [
  accessRules(OrderService, {
    placeOrder: "user",
    listOrders: "user",
    getOrder: "user",
    cancelOrder: "user",
    watchOrders: "user",
  }),
  accessRules(OrderAdminService, { listAllOrders: "service", updateOrderStatus: "service" }),
];
