// Every status change of an order, in one transaction with its history entry and its events:
// OrderPlaced for the confirmation, OrderStatusChanged for every other move, and PaymentFailed or
// OrderCancelled beside it by where it goes.
import { OrderStatus as ProtoOrderStatus } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { inTransaction } from "../../kit/db.ts";
import { appendEvent, type NewEvent } from "../../kit/events.ts";
import { transitionOrder, type PaymentFacts, type TransitionOutcome } from "../db/order.repository.ts";
import type { NewShopOrder, OrderFacts, OrderStatus } from "./order.ts";
import type { OrderDeps } from "./ports.ts";

/** Order statuses as the contract spells them, for events and responses. */
export const protoStatus: Record<OrderStatus, ProtoOrderStatus> = {
  PENDING: ProtoOrderStatus.PENDING,
  CONFIRMED: ProtoOrderStatus.CONFIRMED,
  PROCESSING: ProtoOrderStatus.PROCESSING,
  SHIPPED: ProtoOrderStatus.SHIPPED,
  DELIVERED: ProtoOrderStatus.DELIVERED,
  CANCELLED: ProtoOrderStatus.CANCELLED,
  PAYMENT_FAILED: ProtoOrderStatus.PAYMENT_FAILED,
};

export interface StatusChange {
  from: readonly OrderStatus[];
  to: OrderStatus;
  note: string;
  /** Who made the change: the buyer's id, an admin's, or "service:order" for checkout's own steps. */
  actorId: string;
  payment?: PaymentFacts;
  /** "due": compensation follows and the recovery loop finishes it if this process cannot; "done": settled. */
  settle: "due" | "done";
}

export async function changeStatus(
  deps: Pick<OrderDeps, "db" | "outbox" | "currencyCode">,
  order: OrderFacts,
  change: StatusChange,
): Promise<TransitionOutcome> {
  const outcome = await inTransaction(deps.db, async (trx) => {
    const moved = await transitionOrder(trx, order.id, change.from, change.to, change.note, {
      payment: change.payment,
      settle: change.settle,
    });
    if (!moved.moved) return moved;
    // Read in the transaction: the shop orders are checkout's, whatever OrderFacts the caller held.
    for (const payload of eventsOf(deps.currencyCode, order, moved.from, change, moved.shopOrders)) {
      await appendEvent(trx, { source: "order", actorId: change.actorId, subjectId: order.id, payload });
    }
    return moved;
  });
  if (outcome.moved) deps.outbox.wake();
  return outcome;
}

function eventsOf(
  currencyCode: string,
  order: OrderFacts,
  from: OrderStatus,
  change: StatusChange,
  shopOrders: ReadonlyArray<Pick<NewShopOrder, "id" | "shopId" | "sellerId" | "subtotalMinor">>,
): Array<NewEvent["payload"]> {
  const money = (amountMinor: bigint) => ({ currencyCode, amountMinor });
  const ids = { orderId: order.id, userId: order.userId };
  if (change.to === "CONFIRMED") {
    // OrderPlaced is the move to CONFIRMED, told once: an OrderStatusChanged beside it was one
    // more event per checkout for every consumer to receive, store and ignore.
    const items = order.lines.map((line) => ({
      productId: line.productId,
      shopId: line.shopId,
      name: line.name,
      quantity: line.quantity,
      unitPrice: money(line.unitPriceMinor),
      lineTotal: money(line.lineTotalMinor),
    }));
    const placed = shopOrders.map((shopOrder) => ({
      shopOrderId: shopOrder.id,
      shopId: shopOrder.shopId,
      sellerId: shopOrder.sellerId,
      subtotal: money(shopOrder.subtotalMinor),
    }));
    return [{ case: "orderPlaced", value: { ...ids, items, total: money(order.totalMinor), shopOrders: placed } }];
  }
  const events: Array<NewEvent["payload"]> = [
    {
      case: "orderStatusChanged",
      value: {
        ...ids,
        oldStatus: protoStatus[from],
        newStatus: protoStatus[change.to],
        note: change.note,
        total: money(order.totalMinor),
        shopIds: [...new Set(order.lines.map((line) => line.shopId))].sort(),
      },
    },
  ];
  if (change.to === "PAYMENT_FAILED") events.push({ case: "paymentFailed", value: { ...ids, reason: change.note } });
  if (change.to === "CANCELLED") events.push({ case: "orderCancelled", value: { ...ids, reason: change.note } });
  return events;
}
