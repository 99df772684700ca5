// A shop's sales from the order events, as plain rules: where a shop order stands whatever order
// its events arrive in, what an event tells each shop order, and the report's arithmetic.
import type { OrderPlaced, OrderStatusChanged } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { OrderStatus, ShopOrderStatus } from "../../../gen/bazaar/order/v1/order_pb.ts";

export type ShopOrderStatusName = "PENDING" | "CONFIRMED" | "PROCESSING" | "SHIPPED" | "DELIVERED" | "CANCELLED";

/**
 * Statuses ranked by how far along they are. A shop order never moves back and never leaves
 * CANCELLED (the order service's followsOrderInto and shopOrderStepInto), so of two statuses
 * heard about it the greater is the later: the projection keeps the greatest (SQL GREATEST),
 * which makes it indifferent to the order events arrive in.
 */
export const statusRank: Readonly<Record<ShopOrderStatusName, number>> = {
  PENDING: 1,
  CONFIRMED: 2,
  PROCESSING: 3,
  SHIPPED: 4,
  DELIVERED: 5,
  CANCELLED: 9,
};

/** Ranks of the statuses that count as sales: placed and not cancelled. */
export const salesRanks = { lowest: statusRank.CONFIRMED, highest: statusRank.DELIVERED } as const;

const statusOfRankValue = new Map(
  Object.entries(statusRank).map(([name, rank]) => [rank, name as ShopOrderStatusName]),
);

export function statusOfRank(rank: number): ShopOrderStatusName {
  const status = statusOfRankValue.get(rank);
  if (!status) throw new Error(`no shop order status has rank ${rank}`);
  return status;
}

/** Where a shop order stands after hearing of both statuses, in either order. */
export function laterStatus(a: ShopOrderStatusName, b: ShopOrderStatusName): ShopOrderStatusName {
  return statusRank[a] >= statusRank[b] ? a : b;
}

const fromProtoShopOrderStatus: Partial<Record<ShopOrderStatus, ShopOrderStatusName>> = {
  [ShopOrderStatus.PENDING]: "PENDING",
  [ShopOrderStatus.CONFIRMED]: "CONFIRMED",
  [ShopOrderStatus.PROCESSING]: "PROCESSING",
  [ShopOrderStatus.SHIPPED]: "SHIPPED",
  [ShopOrderStatus.DELIVERED]: "DELIVERED",
  [ShopOrderStatus.CANCELLED]: "CANCELLED",
};

export function shopOrderStatusName(status: ShopOrderStatus): ShopOrderStatusName | undefined {
  return fromProtoShopOrderStatus[status];
}

export const toProtoShopOrderStatus: Readonly<Record<ShopOrderStatusName, ShopOrderStatus>> = {
  PENDING: ShopOrderStatus.PENDING,
  CONFIRMED: ShopOrderStatus.CONFIRMED,
  PROCESSING: ShopOrderStatus.PROCESSING,
  SHIPPED: ShopOrderStatus.SHIPPED,
  DELIVERED: ShopOrderStatus.DELIVERED,
  CANCELLED: ShopOrderStatus.CANCELLED,
};

/** A shop order as the projection keeps it. */
export interface ShopSale {
  shopOrderId: string;
  orderId: string;
  shopId: string;
  sellerId: string;
  placedTime: Date;
  subtotalMinor: bigint;
  units: number;
  status: ShopOrderStatusName;
  lines: Array<{ productId: string; name: string; quantity: number; revenueMinor: bigint }>;
}

/**
 * The shop orders an OrderPlaced tells of, each with its own lines (the items of its shop). An
 * order placed before OrderPlaced carried shop orders tells of none.
 */
export function placedShopSales(placed: OrderPlaced, placedTime: Date): ShopSale[] {
  return placed.shopOrders.map((shopOrder) => {
    const lines = placed.items
      .filter((item) => item.shopId === shopOrder.shopId)
      .map((item) => ({
        productId: item.productId,
        name: item.name,
        quantity: item.quantity,
        revenueMinor: item.lineTotal?.amountMinor ?? 0n,
      }));
    return {
      shopOrderId: shopOrder.shopOrderId,
      orderId: placed.orderId,
      shopId: shopOrder.shopId,
      sellerId: shopOrder.sellerId,
      placedTime,
      subtotalMinor: shopOrder.subtotal?.amountMinor ?? 0n,
      units: lines.reduce((sum, line) => sum + line.quantity, 0),
      status: "CONFIRMED",
      lines,
    };
  });
}

/**
 * The status a move of the whole order takes its shop orders to, or undefined when they do not
 * follow it. A cancelled or failed order cancels them all. Other moves are followed only when
 * the order itself was moved (an admin's UpdateOrderStatus, checkout): then the event names its
 * shops. A move derived from a shop's own fulfilment names none, since the other shop orders
 * stay where they are; the shop order that moved has its own ShopOrderStatusChanged.
 */
export function statusShopOrdersFollow(change: OrderStatusChanged): ShopOrderStatusName | undefined {
  if (change.newStatus === OrderStatus.CANCELLED || change.newStatus === OrderStatus.PAYMENT_FAILED) return "CANCELLED";
  if (change.shopIds.length === 0) return undefined;
  const followed: Partial<Record<OrderStatus, ShopOrderStatusName>> = {
    [OrderStatus.PENDING]: "PENDING",
    [OrderStatus.CONFIRMED]: "CONFIRMED",
    [OrderStatus.PROCESSING]: "PROCESSING",
    [OrderStatus.SHIPPED]: "SHIPPED",
    [OrderStatus.DELIVERED]: "DELIVERED",
  };
  return followed[change.newStatus];
}
