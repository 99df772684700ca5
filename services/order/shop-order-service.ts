// ShopOrderService: a seller's view of the orders of their shops (admins see every shop's).
// Which shop orders are a seller's is decided here, once: those whose seller_id, taken from the
// catalog at checkout, is the caller. Anyone else's is reported like a missing one.
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { ShopOrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { idPageToken, pageSizeOf } from "../kit/pages.ts";
import { findShopOrder, listShopOrders } from "./db/order.repository.ts";
import type { ShopOrderStatus } from "./domain/order.ts";
import type { OrderDeps } from "./domain/ports.ts";
import { shopOrderStatusToProto, shopOrderToProto } from "./order-service.ts";

const statusFromProto = new Map(
  Object.entries(shopOrderStatusToProto).map(([name, value]) => [value, name as ShopOrderStatus]),
);

/** Admins see every shop order; anyone else only those sold in their own shops. */
function sellerScope(ctx: HandlerContext): string | undefined {
  const caller = callerOf(ctx);
  return caller.role === "admin" ? undefined : caller.id;
}

export function createShopOrderService(deps: Pick<OrderDeps, "db">): ServiceImpl<typeof ShopOrderService> {
  return {
    async listShopOrders(request, ctx) {
      const limit = pageSizeOf(request.pageSize);
      const beforeId = request.pageToken ? idPageToken.decode(request.pageToken).id : undefined;
      const shopOrders = await listShopOrders(deps.db, {
        shopId: request.shopId,
        sellerId: sellerScope(ctx),
        status: statusFromProto.get(request.status),
        beforeId,
        limit: limit + 1,
      });
      const shown = shopOrders.slice(0, limit);
      return {
        shopOrders: shown.map(shopOrderToProto),
        nextPageToken: shopOrders.length > limit ? idPageToken.encode({ id: shown.at(-1)!.id }) : "",
      };
    },

    async getShopOrder(request, ctx) {
      const shopOrder = await findShopOrder(deps.db, request.id);
      const seller = sellerScope(ctx);
      // Another seller's shop order, or a customer asking, is reported exactly like a missing one.
      if (!shopOrder || (seller !== undefined && shopOrder.sellerId !== seller))
        throw new ConnectError(`shop order ${request.id} not found`, Code.NotFound);
      return { shopOrder: shopOrderToProto(shopOrder) };
    },
  };
}
