// Settling orders after checkout began: confirming, abandoning with compensation, cancelling,
// fulfilment moves, and the recovery of orders a crash left half done. Every step here is
// idempotent and every status move conditional, so the checkout call, a cancellation and the
// recovery loop may race over one order and still end in one consistent state.
import { Code, ConnectError } from "@connectrpc/connect";
import { inTransaction } from "../../kit/db.ts";
import { findOrder, markSettled, recordRefund, recordRemainingRefund } from "../db/order.repository.ts";
import {
  cancellableStatuses,
  IllegalTransitionError,
  isFulfilmentStep,
  OrderNotFoundError,
  type Order,
  type OrderFacts,
  type OrderStatus,
  paidStatuses,
} from "./order.ts";
import { returnPayment } from "./payments.ts";
import type { OrderDeps } from "./ports.ts";
import { changeStatus, type StatusChange } from "./status-changes.ts";

/** The identity checkout's own steps act under, in events. */
export const checkoutActor = "service:order";

/**
 * True for errors after which a step may or may not have happened. CANCELED among them: the
 * saga's own calls carry no caller's signal, so a cancelled one was reset by its peer (a server
 * shutting down resets what it still serves), possibly after doing the work.
 */
export function isOutcomeUnknown(error: unknown): boolean {
  const code = ConnectError.from(error).code;
  return code === Code.Unavailable || code === Code.DeadlineExceeded || code === Code.Canceled;
}

/** Runs an idempotent step again while its outcome is unknown, a few times, then gives up. */
export async function repeatUntilKnown<T>(step: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!isOutcomeUnknown(error) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 150 * 2 ** attempt));
    }
  }
}

/** PENDING → CONFIRMED once stock is committed; an order cancelled meanwhile gets everything back. */
export async function confirmOrder(
  deps: OrderDeps,
  order: OrderFacts,
  note: string,
  payment?: StatusChange["payment"],
): Promise<void> {
  const confirmed = await changeStatus(deps, order, {
    from: ["PENDING"],
    to: "CONFIRMED",
    note,
    actorId: checkoutActor,
    payment,
    settle: "done",
  });
  if (!confirmed.moved && endedUnfulfilled(confirmed.current)) await giveBackOrLeaveDue(deps, order.id);
}

/** Cancelled or failed: whatever the order took must go back. */
export function endedUnfulfilled(status: OrderStatus | undefined): boolean {
  return status === "CANCELLED" || status === "PAYMENT_FAILED";
}

/**
 * PENDING → CANCELLED or PAYMENT_FAILED, then stock and payment back. An order cancelled by
 * someone else meanwhile still gets its compensation: giving back twice changes nothing.
 */
export async function abandonOrder(
  deps: OrderDeps,
  order: OrderFacts,
  to: "CANCELLED" | "PAYMENT_FAILED",
  note: string,
  payment?: StatusChange["payment"],
): Promise<void> {
  const moved = await changeStatus(deps, order, {
    from: ["PENDING"],
    to,
    note,
    actorId: checkoutActor,
    payment,
    settle: "due",
  });
  // Confirmed by a racing step after all: then nothing is given back.
  if (moved.moved || endedUnfulfilled(moved.current)) await giveBackOrLeaveDue(deps, order.id);
}

/**
 * Returns a cancelled or failed order's stock and payment and marks it settled. When a step
 * cannot be done now (a service down, a payment still processing) the order stays due and the
 * recovery loop repeats this.
 */
export async function giveBack(deps: OrderDeps, orderId: string): Promise<void> {
  const order = (await findOrder(deps.db, orderId))!;
  // Units a cancelled shop order gave back already are not given back twice (the inventory
  // service subtracts partial returns).
  await repeatUntilKnown(() => deps.stock.giveBack(orderId));
  if (order.payment.method !== "CARD") return markSettled(deps.db, orderId);
  if (paidStatuses.includes(order.payment.status)) {
    // Paid: refund what the shop orders' refunds left, recorded once under the order's id.
    const rest = await inTransaction(deps.db, (trx) => recordRemainingRefund(trx, orderId));
    if (rest > 0n) await returnPayment(deps.payments, { orderId, refundKey: orderId, amountMinor: rest });
    return markSettled(deps.db, orderId, "REFUNDED");
  }
  // Not known to be taken (authorized, waiting, or a crash before checkout heard back): void
  // whatever the payment service holds — or refund it, had a capture slipped through.
  const returned = await returnPayment(deps.payments, { orderId, refundKey: orderId });
  if (returned.refundedMinor > 0n) {
    await recordRefund(deps.db, { orderId, refundKey: orderId, amountMinor: returned.refundedMinor });
  }
  await markSettled(
    deps.db,
    orderId,
    returned.voided ? "VOIDED" : returned.refundedMinor > 0n ? "REFUNDED" : undefined,
  );
}

/**
 * giveBack for a caller whose own answer stands either way (the cancellation, the failed
 * checkout): what cannot be given back now stays due, and the recovery loop repeats it.
 */
async function giveBackOrLeaveDue(deps: OrderDeps, orderId: string): Promise<void> {
  try {
    await giveBack(deps, orderId);
  } catch {
    // Left due: the order's settle_after is set, so the recovery loop takes it over.
  }
}

export interface Actor {
  id: string;
  /** Buyers may only touch their own orders; admins (through the internal service) any. */
  isBuyer: boolean;
}

/** Cancels an order from PENDING, CONFIRMED or PROCESSING and gives its stock and payment back. */
export async function cancelOrder(deps: OrderDeps, orderId: string, actor: Actor, reason: string): Promise<Order> {
  const order = await findOrder(deps.db, orderId);
  // Another buyer's order is reported exactly like a missing one.
  if (!order || (actor.isBuyer && order.userId !== actor.id))
    throw new OrderNotFoundError(`order ${orderId} not found`);
  const note = reason || (actor.isBuyer ? "cancelled by the buyer" : "cancelled by an admin");
  const moved = await changeStatus(deps, order, {
    from: cancellableStatuses,
    to: "CANCELLED",
    note,
    actorId: actor.id,
    settle: "due",
  });
  if (!moved.moved) throw new IllegalTransitionError(orderId, moved.current!, "CANCELLED");
  await giveBackOrLeaveDue(deps, orderId);
  return (await findOrder(deps.db, orderId))!;
}

/** An admin's move of an order: a fulfilment step, or a cancellation. */
export async function moveOrder(
  deps: OrderDeps,
  orderId: string,
  to: OrderStatus,
  note: string,
  actorId: string,
): Promise<Order> {
  if (to === "CANCELLED") return cancelOrder(deps, orderId, { id: actorId, isBuyer: false }, note);
  const order = await findOrder(deps.db, orderId);
  if (!order) throw new OrderNotFoundError(`order ${orderId} not found`);
  if (!isFulfilmentStep(order.status, to)) throw new IllegalTransitionError(orderId, order.status, to);
  const moved = await changeStatus(deps, order, { from: [order.status], to, note, actorId, settle: "done" });
  // Someone else moved it between the read and the lock.
  if (!moved.moved) throw new IllegalTransitionError(orderId, moved.current!, to);
  return (await findOrder(deps.db, orderId))!;
}
