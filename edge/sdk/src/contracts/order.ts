// Messages and enums of bazaar.order.v1 (OrderService, ShopOrderService): `@bazaar/sdk/order`.
// OrderAdminService, in the same file, is internal.
export * from "../../../../gen/bazaar/order/v1/order_pb.ts";
