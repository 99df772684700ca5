// OrderService and OrderAdminService: proto ↔ domain, domain errors → ConnectError.
import { fromJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { ImageSchema } from "../../gen/bazaar/common/v1/common_pb.ts";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client, type ServiceImpl } from "@connectrpc/connect";
import type { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import {
  type OrderAdminService,
  type OrderService,
  PaymentMethod as ProtoPaymentMethod,
  PaymentStatus as ProtoPaymentStatus,
  type OrderSchema,
  type ShopOrderSchema,
  OrderStatusSchema,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import type { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { reasonedError } from "../kit/error-info.ts";
import { idKeysetPage } from "../kit/pages.ts";
import { postalAddressFromProto } from "../kit/postal-address.ts";
import { feedPositionBefore, findOrder, listOrders, type OrderFilter } from "./db/order.repository.ts";
import {
  EmptyCartError,
  IdempotencyKeyReusedError,
  IllegalTransitionError,
  OrderNotFoundError,
  UnavailableProductsError,
  type Order,
  type OrderStatus,
  type PaymentStatus,
  type ShopOrder,
} from "./domain/order.ts";
import { eraseBuyerData } from "./domain/erase-buyer.ts";
import { protoShopOrderStatus } from "./domain/fulfil-shop-order.ts";
import { followOrderChanges, type FeedDeps } from "./domain/order-feed.ts";
import { placeOrder } from "./domain/place-order.ts";
import type { OrderDeps } from "./domain/ports.ts";
import { cancelOrder, moveOrder } from "./domain/settle.ts";
import { protoStatus } from "./domain/status-changes.ts";
import { shopperPortsFor } from "./mesh-ports.ts";

export interface OrderServiceDeps extends OrderDeps {
  cart: Client<typeof CartService>;
  products: Client<typeof ProductService>;
  feed: FeedDeps;
  /** Checkout only with a verified e-mail (the access token's email_verified claim). */
  requireVerifiedEmail?: boolean;
}

const statusFromProto = new Map(Object.entries(protoStatus).map(([k, v]) => [v, k as OrderStatus]));
const paymentStatusToProto: Record<PaymentStatus, ProtoPaymentStatus> = {
  PENDING: ProtoPaymentStatus.PENDING,
  AUTHORIZED: ProtoPaymentStatus.AUTHORIZED,
  DECLINED: ProtoPaymentStatus.DECLINED,
  FAILED: ProtoPaymentStatus.FAILED,
  DUE_ON_DELIVERY: ProtoPaymentStatus.DUE_ON_DELIVERY,
  REFUNDED: ProtoPaymentStatus.REFUNDED,
  REQUIRES_ACTION: ProtoPaymentStatus.REQUIRES_ACTION,
  PROCESSING: ProtoPaymentStatus.PROCESSING,
  CAPTURED: ProtoPaymentStatus.CAPTURED,
  VOIDED: ProtoPaymentStatus.VOIDED,
};
/** How far back WatchOrders replays by time, as the contract promises. */
const longestReplayMs = 7 * 24 * 3_600_000;

export function createOrderService(deps: OrderServiceDeps): ServiceImpl<typeof OrderService> {
  return {
    async placeOrder(request, ctx) {
      const { id: userId, emailVerified } = callerOf(ctx);
      // The claim, not a call to auth: checkout stays up when auth is slow. A token minted
      // before verification says false until the buyer refreshes it.
      if (deps.requireVerifiedEmail && emailVerified !== true)
        throw reasonedError("EMAIL_NOT_VERIFIED", "checkout needs a verified e-mail address", {});
      const order = await mapErrors(() =>
        placeOrder(deps, shopperPortsFor(deps, ctx), {
          userId,
          idempotencyKey: request.idempotencyKey,
          shippingAddress: postalAddressFromProto(request.shippingAddress!),
          paymentMethod: request.payment!.method === ProtoPaymentMethod.CARD ? "CARD" : "CASH_ON_DELIVERY",
          cardToken: request.payment!.cardToken,
          returnUrl: request.returnUrl,
        }),
      );
      return { order: orderToProto(order) };
    },

    async getOrder(request, ctx) {
      const order = await findOrder(deps.db, request.id);
      // Another user's order is reported exactly like a missing one.
      if (!order || order.userId !== callerOf(ctx).id)
        throw new ConnectError(`order ${request.id} not found`, Code.NotFound);
      return { order: orderToProto(order) };
    },

    async listOrders(request, ctx) {
      const userId = callerOf(ctx).id;
      // Read before the page: a change committed meanwhile is in the page, in the watch, or both.
      const position = await feedPositionBefore(deps.db, userId);
      const page = await orderPage(deps, { userId, status: statusFromProto.get(request.status) }, request);
      return { ...page, resumeToken: encodeResumeToken(position) };
    },

    async cancelOrder(request, ctx) {
      const order = await mapErrors(() =>
        cancelOrder(deps, request.id, { id: callerOf(ctx).id, isBuyer: true }, request.reason),
      );
      return { order: orderToProto(order) };
    },

    async *watchOrders(request, ctx) {
      const userId = callerOf(ctx).id;
      let after: number;
      if (request.resumeToken) {
        after = decodeResumeToken(request.resumeToken);
      } else if (request.sinceTime) {
        const since = timestampDate(request.sinceTime);
        if (Date.now() - since.getTime() > longestReplayMs)
          throw new ConnectError("since_time: at most 7 days back", Code.InvalidArgument);
        after = await feedPositionBefore(deps.db, userId, since);
      } else {
        after = await feedPositionBefore(deps.db, userId);
      }
      for await (const update of followOrderChanges(deps.feed, userId, after, ctx.signal)) {
        yield { order: orderToProto(update.order), resumeToken: encodeResumeToken(update.seq) };
      }
    },
  };
}

export function createOrderAdminService(deps: OrderDeps): ServiceImpl<typeof OrderAdminService> {
  return {
    async listAllOrders(request) {
      return orderPage(
        deps,
        {
          userId: request.userId || undefined,
          status: statusFromProto.get(request.status),
          createdFrom: request.createTimeFrom && timestampDate(request.createTimeFrom),
          createdBefore: request.createTimeTo && timestampDate(request.createTimeTo),
        },
        request,
      );
    },

    async updateOrderStatus(request, ctx) {
      const to = statusFromProto.get(request.status)!;
      const order = await mapErrors(() => moveOrder(deps, request.id, to, request.note, callerOf(ctx).id));
      return { order: orderToProto(order) };
    },

    async eraseBuyerData(request) {
      return { erasedOrderCount: await eraseBuyerData(deps.db, request.userId) };
    },
  };
}

async function orderPage(
  deps: Pick<OrderDeps, "db">,
  filter: Omit<OrderFilter, "limit" | "beforeId">,
  page: { pageSize: number; pageToken: string },
) {
  const { rows, nextPageToken } = await idKeysetPage(
    page,
    (keyset) => listOrders(deps.db, { ...filter, ...keyset }),
    (order) => order.id,
  );
  return { orders: rows.map(orderToProto), nextPageToken };
}

/** A status as the contract names it (`ORDER_STATUS_SHIPPED`), as clients see it in an order. */
function statusName(status: OrderStatus): string {
  return OrderStatusSchema.value[protoStatus[status]]!.name;
}

async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof EmptyCartError) throw reasonedError("CART_EMPTY", error.message, {});
    if (error instanceof UnavailableProductsError) {
      throw reasonedError("PRODUCT_UNAVAILABLE", error.message, {
        product_id: error.productIds[0]!,
        product_ids: error.productIds.join(","),
      });
    }
    if (error instanceof IllegalTransitionError) {
      throw reasonedError("ILLEGAL_STATUS_TRANSITION", error.message, {
        order_id: error.orderId,
        shop_order_id: "",
        from: statusName(error.from),
        to: statusName(error.to),
      });
    }
    if (error instanceof IdempotencyKeyReusedError) {
      throw reasonedError("IDEMPOTENCY_KEY_REUSED", `idempotency_key: ${error.message}`, {
        idempotency_key: error.idempotencyKey,
        order_id: error.orderId,
      });
    }
    if (error instanceof OrderNotFoundError) throw new ConnectError(error.message, Code.NotFound);
    // Anything else, such as OUT_OF_STOCK from product's ReserveStock, goes on with its details.
    throw error;
  }
}

function encodeResumeToken(seq: number): string {
  return Buffer.from(`feed:${seq}`).toString("base64url");
}

function decodeResumeToken(token: string): number {
  const match = /^feed:(\d{1,15})$/.exec(Buffer.from(token, "base64url").toString());
  if (!match) throw new ConnectError("resume_token: not a token from WatchOrders", Code.InvalidArgument);
  return Number(match[1]);
}

function orderToProto(order: Order): MessageInitShape<typeof OrderSchema> {
  const money = (amountMinor: bigint) => ({ currencyCode: order.currencyCode, amountMinor });
  return {
    id: order.id,
    userId: order.userId,
    items: itemsToProto(order.currencyCode, order.lines),
    subtotal: money(order.subtotalMinor),
    tax: money(order.taxMinor),
    shippingCost: money(order.shippingMinor),
    total: money(order.totalMinor),
    shippingAddress: order.shippingAddress,
    status: protoStatus[order.status],
    payment: {
      method: order.payment.method === "CARD" ? ProtoPaymentMethod.CARD : ProtoPaymentMethod.CASH_ON_DELIVERY,
      status: paymentStatusToProto[order.payment.status],
      reference: order.payment.reference,
      failureReason: order.payment.failureReason,
      paymentId: order.payment.paymentId,
      ...(order.payment.nextAction && { nextAction: order.payment.nextAction }),
    },
    statusHistory: order.history.map((change) => ({
      status: protoStatus[change.status],
      time: timestampFromDate(change.time),
      note: change.note,
    })),
    createTime: timestampFromDate(order.createTime),
    updateTime: timestampFromDate(order.updateTime),
    shopOrders: order.shopOrders.map(shopOrderToProto),
    refunded: money(order.refundedMinor),
  };
}

export function shopOrderToProto(shopOrder: ShopOrder): MessageInitShape<typeof ShopOrderSchema> {
  const money = (amountMinor: bigint) => ({ currencyCode: shopOrder.currencyCode, amountMinor });
  return {
    id: shopOrder.id,
    orderId: shopOrder.orderId,
    shopId: shopOrder.shopId,
    sellerId: shopOrder.sellerId,
    items: itemsToProto(shopOrder.currencyCode, shopOrder.lines),
    subtotal: money(shopOrder.subtotalMinor),
    status: protoShopOrderStatus[shopOrder.status],
    carrier: shopOrder.carrier,
    trackingNumber: shopOrder.trackingNumber,
    trackingUrl: shopOrder.trackingUrl,
    createTime: timestampFromDate(shopOrder.createTime),
    updateTime: timestampFromDate(shopOrder.updateTime),
    statusHistory: shopOrder.history.map((change) => ({
      status: protoShopOrderStatus[change.status],
      time: timestampFromDate(change.time),
      note: change.note,
    })),
    refunded: money(shopOrder.refundedMinor),
    shippingAddress: shopOrder.shippingAddress,
  };
}

function itemsToProto(currencyCode: string, lines: Order["lines"]) {
  return lines.map((line) => ({
    productId: line.productId,
    shopId: line.shopId,
    name: line.name,
    unitPrice: { currencyCode, amountMinor: line.unitPriceMinor },
    quantity: line.quantity,
    lineTotal: { currencyCode, amountMinor: line.lineTotalMinor },
    image: line.imageJson ? fromJsonString(ImageSchema, line.imageJson) : undefined,
  }));
}
