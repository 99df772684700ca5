// A seller cancels their shop's part of an order: the shop order CANCELLED, its refund decided
// and recorded, its settlement marked due, the order's derived status and the events — all in
// one transaction. Giving the stock back and asking the payment provider for the refund follow
// it; both are idempotent (return id and refund key = the shop order's id), so the recovery
// loop finishes a settlement a crash interrupted and the buyer is refunded, and the stock
// returned, exactly once.
import { inTransaction } from "../../kit/db.ts";
import {
  findShopOrder,
  findShopOrderSettlement,
  markShopOrderSettleDue,
  markShopOrderSettled,
  moveLockedShopOrder,
  recordRefund,
  refundFactsOf,
} from "../db/order.repository.ts";
import {
  appendShopOrderMoved,
  derivedOrderStatuses,
  type FulfilmentActor,
  lockActorsShopOrder,
} from "./fulfil-shop-order.ts";
import {
  IllegalShopOrderTransitionError,
  orderStatusFromShopOrders,
  type ShopOrder,
  type ShopOrderStatus,
} from "./order.ts";
import type { OrderDeps } from "./ports.ts";
import { returnPayment } from "./payments.ts";
import { shopOrderRefund } from "./refunds.ts";
import { repeatUntilKnown } from "./settle.ts";

/** A seller may cancel what they have not handed to the carrier yet. */
export const shopOrderCancellableStatuses: readonly ShopOrderStatus[] = ["CONFIRMED", "PROCESSING"];

export async function cancelShopOrder(
  deps: Pick<OrderDeps, "db" | "outbox" | "currencyCode" | "stock" | "payments">,
  shopOrderId: string,
  actor: FulfilmentActor,
  reason: string,
): Promise<ShopOrder> {
  await inTransaction(deps.db, async (trx) => {
    const shopOrder = await lockActorsShopOrder(trx, shopOrderId, actor);
    const from = shopOrder.status;
    if (!shopOrderCancellableStatuses.includes(from) || !derivedOrderStatuses.includes(shopOrder.orderStatus))
      throw new IllegalShopOrderTransitionError(shopOrder.id, shopOrder.orderId, from, "CANCELLED");
    const facts = await refundFactsOf(trx, shopOrder.orderId);
    const { orderTo } = await moveLockedShopOrder(trx, shopOrder, "CANCELLED", reason, orderStatusFromShopOrders);
    // The order's last live shop order gives back everything left of the payment (shipping too).
    const refundedMinor = shopOrderRefund(facts, shopOrder.id, orderTo === "CANCELLED");
    if (refundedMinor > 0n) {
      await recordRefund(trx, {
        orderId: shopOrder.orderId,
        refundKey: shopOrder.id,
        shopOrderId: shopOrder.id,
        amountMinor: refundedMinor,
      });
    }
    await markShopOrderSettleDue(trx, shopOrder.id);
    await appendShopOrderMoved(trx, deps.currencyCode, actor.id, shopOrder, {
      from,
      to: "CANCELLED",
      note: reason,
      orderTo,
      refundedMinor,
    });
  });
  deps.outbox.wake();
  try {
    await settleShopOrder(deps, shopOrderId);
  } catch {
    // The cancellation stands; the recovery loop gives back what could not be given back now.
  }
  return (await findShopOrder(deps.db, shopOrderId))!;
}

/**
 * Gives back a cancelled shop order's stock and asks for its recorded refund, then marks it
 * settled. Every step may be repeated: after a crash the recovery loop calls this again.
 */
export async function settleShopOrder(
  deps: Pick<OrderDeps, "db" | "stock" | "payments">,
  shopOrderId: string,
): Promise<void> {
  const settlement = await findShopOrderSettlement(deps.db, shopOrderId);
  if (!settlement) return;
  const { orderId, items, refundMinor } = settlement;
  await repeatUntilKnown(() => deps.stock.giveBackItems(orderId, shopOrderId, items));
  if (refundMinor !== undefined)
    await returnPayment(deps.payments, { orderId, refundKey: shopOrderId, amountMinor: refundMinor });
  await inTransaction(deps.db, (trx) => markShopOrderSettled(trx, shopOrderId, orderId));
}
