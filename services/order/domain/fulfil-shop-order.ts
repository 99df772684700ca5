// A shop's fulfilment of its part of an order: accept, ship, deliver. One transaction holds the
// move, its history entry, the order's derived status (orderStatusFromShopOrders) and the events,
// so what the seller, the buyer and every consumer see never disagrees.
import { ShopOrderStatus as ProtoShopOrderStatus } from "../../../gen/bazaar/order/v1/order_pb.ts";
import type { Transaction } from "kysely";
import { inTransaction } from "../../kit/db.ts";
import { appendEvent } from "../../kit/events.ts";
import type { OrderDatabase } from "../db/database.ts";
import { findShopOrder, type LockedShopOrder, lockShopOrder, moveLockedShopOrder } from "../db/order.repository.ts";
import {
  IllegalShopOrderTransitionError,
  orderStatusFromShopOrders,
  type OrderStatus,
  type Shipment,
  type ShopOrder,
  ShopOrderNotFoundError,
  type ShopOrderStatus,
  shopOrderStepInto,
} from "./order.ts";
import type { OrderDeps } from "./ports.ts";
import { protoStatus } from "./status-changes.ts";

export const protoShopOrderStatus: Record<ShopOrderStatus, ProtoShopOrderStatus> = {
  PENDING: ProtoShopOrderStatus.PENDING,
  CONFIRMED: ProtoShopOrderStatus.CONFIRMED,
  PROCESSING: ProtoShopOrderStatus.PROCESSING,
  SHIPPED: ProtoShopOrderStatus.SHIPPED,
  DELIVERED: ProtoShopOrderStatus.DELIVERED,
  CANCELLED: ProtoShopOrderStatus.CANCELLED,
};

/** Who moves a shop order: its seller, or an admin (any shop's). */
export interface FulfilmentActor {
  id: string;
  isAdmin: boolean;
}

export interface FulfilmentMove {
  to: "PROCESSING" | "SHIPPED" | "DELIVERED";
  note: string;
  /** Required when shipping. */
  shipment?: Shipment;
}

/** Order statuses in which the shops' moves decide the order's status. */
export const derivedOrderStatuses: readonly OrderStatus[] = ["CONFIRMED", "PROCESSING", "SHIPPED"];

/** Locks a shop order the actor may move: their shop's, or any for an admin. */
export async function lockActorsShopOrder(
  trx: Transaction<OrderDatabase>,
  shopOrderId: string,
  actor: FulfilmentActor,
): Promise<LockedShopOrder> {
  const shopOrder = await lockShopOrder(trx, shopOrderId);
  // Another seller's shop order is reported exactly like a missing one.
  if (!shopOrder || (!actor.isAdmin && shopOrder.sellerId !== actor.id))
    throw new ShopOrderNotFoundError(`shop order ${shopOrderId} not found`);
  return shopOrder;
}

export async function moveShopOrder(
  deps: Pick<OrderDeps, "db" | "outbox" | "currencyCode">,
  shopOrderId: string,
  actor: FulfilmentActor,
  move: FulfilmentMove,
): Promise<ShopOrder> {
  await inTransaction(deps.db, async (trx) => {
    const shopOrder = await lockActorsShopOrder(trx, shopOrderId, actor);
    const from = shopOrder.status;
    // The order must be in fulfilment too: a shop order follows an order that an admin moved on.
    if (shopOrderStepInto[move.to] !== from || !derivedOrderStatuses.includes(shopOrder.orderStatus))
      throw new IllegalShopOrderTransitionError(shopOrder.id, shopOrder.orderId, from, move.to);
    const { orderTo } = await moveLockedShopOrder(
      trx,
      shopOrder,
      move.to,
      move.note,
      orderStatusFromShopOrders,
      move.shipment,
    );
    await appendShopOrderMoved(trx, deps.currencyCode, actor.id, shopOrder, {
      from,
      to: move.to,
      note: move.note,
      orderTo,
      shipment: move.shipment,
    });
  });
  deps.outbox.wake();
  return (await findShopOrder(deps.db, shopOrderId))!;
}

/**
 * The events of a shop order's move, in its transaction: ShopOrderStatusChanged always;
 * OrderStatusChanged when the order's derived status moved with it, and OrderCancelled when
 * that made the order CANCELLED (its last shop order was cancelled).
 */
export async function appendShopOrderMoved(
  trx: Transaction<OrderDatabase>,
  currencyCode: string,
  actorId: string,
  shopOrder: LockedShopOrder,
  move: {
    from: ShopOrderStatus;
    to: ShopOrderStatus;
    note: string;
    orderTo: OrderStatus;
    shipment?: Shipment;
    refundedMinor?: bigint;
  },
): Promise<void> {
  const money = (amountMinor: bigint) => ({ currencyCode, amountMinor });
  const event = { source: "order", actorId } as const;
  await appendEvent(trx, {
    ...event,
    subjectId: shopOrder.id,
    payload: {
      case: "shopOrderStatusChanged",
      value: {
        shopOrderId: shopOrder.id,
        orderId: shopOrder.orderId,
        shopId: shopOrder.shopId,
        sellerId: shopOrder.sellerId,
        userId: shopOrder.userId,
        oldStatus: protoShopOrderStatus[move.from],
        newStatus: protoShopOrderStatus[move.to],
        note: move.note,
        carrier: move.shipment?.carrier ?? "",
        trackingNumber: move.shipment?.trackingNumber ?? "",
        trackingUrl: move.shipment?.trackingUrl ?? "",
        subtotal: money(shopOrder.subtotalMinor),
        refunded: money(move.refundedMinor ?? 0n),
      },
    },
  });
  if (move.orderTo === shopOrder.orderStatus) return;
  const ids = { orderId: shopOrder.orderId, userId: shopOrder.userId };
  await appendEvent(trx, {
    ...event,
    subjectId: shopOrder.orderId,
    payload: {
      case: "orderStatusChanged",
      value: {
        ...ids,
        oldStatus: protoStatus[shopOrder.orderStatus],
        newStatus: protoStatus[move.orderTo],
        note: move.note,
        total: money(shopOrder.orderTotalMinor),
      },
    },
  });
  if (move.orderTo === "CANCELLED") {
    await appendEvent(trx, {
      ...event,
      subjectId: shopOrder.orderId,
      payload: { case: "orderCancelled", value: { ...ids, reason: move.note } },
    });
  }
}
