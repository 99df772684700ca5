// ShopOrderService: a seller's view and fulfilment of the orders of their shops (admins: every shop's).
// Who reaches what is decided by access-rules.ts: a shop's orders are listed and watched by its
// owner, as the catalog knows it; a shop order is reached by the seller who owned its shop at
// checkout (its seller_id). Anyone else's shop order is reported like a missing one.
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type ShopOrderService, ShopOrderStatusSchema } from "../../gen/bazaar/order/v1/order_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { forwardFrom } from "../kit/clients.ts";
import { idKeysetPage } from "../kit/pages.ts";
import { reasonedError } from "../kit/error-info.ts";
import { mayReadShopOrdersOf, shopOrderScope } from "./access-rules.ts";
import { findShopOrder, listShopOrders, shopFeedPositionBefore } from "./db/order.repository.ts";
import { type FeedDeps, followShopOrderChanges } from "./domain/order-feed.ts";
import { cancelShopOrder } from "./domain/cancel-shop-order.ts";
import {
  type FulfilmentActor,
  type FulfilmentMove,
  moveShopOrder,
  protoShopOrderStatus,
} from "./domain/fulfil-shop-order.ts";
import {
  IllegalShopOrderTransitionError,
  type ShopOrder,
  ShopOrderNotFoundError,
  type ShopOrderStatus,
} from "./domain/order.ts";
import type { OrderDeps } from "./domain/ports.ts";
import { shopOrderToProto } from "./order-service.ts";
import type { ShopOwners } from "../kit/shop-owners.ts";

const statusFromProto = new Map(
  Object.entries(protoShopOrderStatus).map(([name, value]) => [value, name as ShopOrderStatus]),
);

/** Admins see every shop order; anyone else only those sold in their own shops. */
function sellerScope(ctx: HandlerContext): string | undefined {
  return shopOrderScope(callerOf(ctx));
}

/** How long a lookup of a shop's owner may take, also within a stream that has no deadline. */
const shopLookupTimeoutMs = 5_000;

/**
 * Refuses, before anything is read, a caller who may not list or watch the shop's orders: an
 * unknown shop is not_found, another seller's shop permission_denied (SHOP_NOT_OWNED).
 */
async function requireShopReader(shops: ShopOwners, ctx: HandlerContext, shopId: string): Promise<void> {
  const owner = await shops.ownerOf(shopId, forwardFrom(ctx, { timeoutMs: shopLookupTimeoutMs }));
  if (owner === undefined) throw new ConnectError(`shop ${shopId} not found`, Code.NotFound);
  if (!mayReadShopOrdersOf(callerOf(ctx), owner))
    throw reasonedError("SHOP_NOT_OWNED", `shop ${shopId} is another seller's`, { shop_id: shopId });
}

/** A shop order status as the contract names it (`SHOP_ORDER_STATUS_SHIPPED`). */
function statusName(status: ShopOrderStatus): string {
  return ShopOrderStatusSchema.value[protoShopOrderStatus[status]]!.name;
}

/** A move of a shop order by the caller (fulfilment or cancellation), its domain errors mapped once. */
async function moveBy(
  ctx: HandlerContext,
  move: (actor: FulfilmentActor) => Promise<ShopOrder>,
): Promise<{ shopOrder: ReturnType<typeof shopOrderToProto> }> {
  const caller = callerOf(ctx);
  let shopOrder: ShopOrder;
  try {
    shopOrder = await move({ id: caller.id, isAdmin: caller.role === "admin" });
  } catch (error) {
    if (error instanceof ShopOrderNotFoundError) throw new ConnectError(error.message, Code.NotFound);
    if (error instanceof IllegalShopOrderTransitionError) {
      throw reasonedError("ILLEGAL_STATUS_TRANSITION", error.message, {
        order_id: error.orderId,
        shop_order_id: error.shopOrderId,
        from: statusName(error.from),
        to: statusName(error.to),
      });
    }
    throw error;
  }
  return { shopOrder: shopOrderToProto(shopOrder) };
}

/**
 * A range bound as a Date that filters by the create_time clients see. The database keeps
 * microseconds but answers carry milliseconds; a row shows as floor_ms(t), and floor_ms(t) >= b
 * exactly when t >= ceil_ms(b) (likewise for <). So both bounds are rounded up to the millisecond.
 */
function visibleTimeBound(bound: Timestamp): Date {
  return new Date(Number(bound.seconds) * 1000 + Math.ceil(bound.nanos / 1_000_000));
}

/** How far back WatchShopOrders replays by time, as the contract promises. */
const longestReplayMs = 7 * 24 * 3_600_000;

export function createShopOrderService(
  deps: Pick<OrderDeps, "db" | "outbox" | "currencyCode" | "stock" | "payments"> & {
    feed: FeedDeps;
    shops: ShopOwners;
  },
): ServiceImpl<typeof ShopOrderService> {
  const fulfil = (ctx: HandlerContext, shopOrderId: string, move: FulfilmentMove) =>
    moveBy(ctx, (actor) => moveShopOrder(deps, shopOrderId, actor, move));
  return {
    async listShopOrders(request, ctx) {
      await requireShopReader(deps.shops, ctx, request.shopId);
      // Read before the page: a change committed meanwhile is in the page, in the watch, or both.
      const position = await shopFeedPositionBefore(deps.db, request.shopId);
      // The range is a filter on every page, so the keyset pages stay inside it.
      const { rows, nextPageToken } = await idKeysetPage(
        request,
        (keyset) =>
          listShopOrders(deps.db, {
            shopId: request.shopId,
            sellerId: sellerScope(ctx),
            status: statusFromProto.get(request.status),
            createdFrom: request.createdAfter && visibleTimeBound(request.createdAfter),
            createdBefore: request.createdBefore && visibleTimeBound(request.createdBefore),
            ...keyset,
          }),
        (shopOrder) => shopOrder.id,
      );
      return {
        shopOrders: rows.map(shopOrderToProto),
        nextPageToken,
        resumeToken: encodeResumeToken(request.shopId, position),
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

    async acceptShopOrder(request, ctx) {
      return fulfil(ctx, request.id, { to: "PROCESSING", note: request.note });
    },

    async shipShopOrder(request, ctx) {
      const shipment = {
        carrier: request.carrier,
        trackingNumber: request.trackingNumber,
        trackingUrl: request.trackingUrl,
      };
      return fulfil(ctx, request.id, { to: "SHIPPED", note: request.note, shipment });
    },

    async deliverShopOrder(request, ctx) {
      return fulfil(ctx, request.id, { to: "DELIVERED", note: request.note });
    },

    async cancelShopOrder(request, ctx) {
      return moveBy(ctx, (actor) => cancelShopOrder(deps, request.id, actor, request.reason));
    },

    async *watchShopOrders(request, ctx) {
      const shop = { shopId: request.shopId, sellerId: sellerScope(ctx) };
      // The request is checked before the shop's owner is asked for; nothing is read before both.
      const resumeAfter = request.resumeToken ? decodeResumeToken(request.resumeToken, request.shopId) : undefined;
      const since = request.sinceTime && !request.resumeToken ? timestampDate(request.sinceTime) : undefined;
      if (since && Date.now() - since.getTime() > longestReplayMs)
        throw new ConnectError("since_time: at most 7 days back", Code.InvalidArgument);
      await requireShopReader(deps.shops, ctx, request.shopId);
      const after = resumeAfter ?? (await shopFeedPositionBefore(deps.db, request.shopId, since));
      for await (const update of followShopOrderChanges(deps.feed, shop, after, ctx.signal)) {
        yield {
          shopOrder: shopOrderToProto(update.shopOrder),
          resumeToken: encodeResumeToken(request.shopId, update.seq),
        };
      }
    },
  };
}

// The token names the shop: a position in one shop's feed means nothing in another's.
function encodeResumeToken(shopId: string, seq: number): string {
  return Buffer.from(`shop-feed:${shopId}:${seq}`).toString("base64url");
}

function decodeResumeToken(token: string, shopId: string): number {
  const match = /^shop-feed:([0-9a-f-]{36}):(\d{1,15})$/.exec(Buffer.from(token, "base64url").toString());
  if (!match || match[1] !== shopId)
    throw new ConnectError("resume_token: not a token from WatchShopOrders of this shop", Code.InvalidArgument);
  return Number(match[2]);
}
