// The recovery loop: orders whose settling is overdue — PENDING after a crash or an outage
// between checkout steps, or cancelled with their stock or payment not yet given back — are
// claimed for a while and finished or compensated (settle.ts); so are shop orders a seller
// cancelled whose stock or refund is still outstanding (cancel-shop-order.ts). The reservation TTL in the
// product service is the last backstop behind this.
import type { Logger } from "../../kit/log.ts";
import { claimOverdueOrders, claimOverdueShopOrders } from "../db/order.repository.ts";
import { findOrder } from "../db/order.repository.ts";
import { settleShopOrder } from "./cancel-shop-order.ts";
import { followPaymentOfOrder } from "./card-payment.ts";
import type { OrderDeps } from "./ports.ts";
import {
  abandonOrder,
  confirmOrder,
  endedUnfulfilled,
  giveBack,
  isOutcomeUnknown,
  repeatUntilKnown,
} from "./settle.ts";

/** A claimed order is left alone by other replicas this long; a failed recovery retries after it. */
const claimLeaseMs = 30_000;

export async function recoverOverdueOrders(
  deps: OrderDeps,
  log: Pick<Logger, "info" | "warn">,
  batch = 20,
): Promise<number> {
  const claimed = await claimOverdueOrders(deps.db, new Date(), claimLeaseMs, batch);
  for (const orderId of claimed) {
    try {
      await recoverOrder(deps, orderId);
      log.info({ orderId }, "overdue order settled");
    } catch (error) {
      log.warn({ err: error, orderId }, "overdue order not settled yet; retrying after its lease");
    }
  }
  // Cancelled shop orders whose stock or refund a crash or an outage left outstanding.
  const shopOrders = await claimOverdueShopOrders(deps.db, new Date(), claimLeaseMs, batch);
  for (const shopOrderId of shopOrders) {
    try {
      await settleShopOrder(deps, shopOrderId);
      log.info({ shopOrderId }, "overdue shop order cancellation settled");
    } catch (error) {
      log.warn({ err: error, shopOrderId }, "overdue shop order not settled yet; retrying after its lease");
    }
  }
  return claimed.length + shopOrders.length;
}

/**
 * Finishes or compensates an order whose settling is overdue. A cash-on-delivery order left
 * PENDING is finished: sell the stock (a repeat of the earlier reservation is a no-op), confirm.
 * A card order follows its payment as the payment service knows it now: paid → finished,
 * declined → failed, still waiting → cancelled (its wait is over), never started → cancelled.
 * Orders already cancelled or failed get their compensation finished; an order checkout
 * confirmed after it was claimed is left as it is.
 */
export async function recoverOrder(deps: OrderDeps, orderId: string): Promise<void> {
  const order = await findOrder(deps.db, orderId);
  if (!order) return;
  if (order.status !== "PENDING") {
    // Cancelled or failed: finish giving back. Confirmed (checkout finished after this claim,
    // as it may when a step was slow): the stock is sold and stays sold.
    if (endedUnfulfilled(order.status)) await giveBack(deps, orderId);
    return;
  }
  if (order.payment.method === "CARD") {
    const waited = order.payment.status === "REQUIRES_ACTION" || order.payment.status === "PROCESSING";
    await followPaymentOfOrder(deps, orderId, { waitIsOver: waited });
    const after = await findOrder(deps.db, orderId);
    // No payment was ever started (a crash before it): nothing was charged.
    if (after?.status === "PENDING" && !after.payment.paymentId) {
      await abandonOrder(deps, order, "CANCELLED", "checkout did not complete; nothing was charged");
    }
    return;
  }
  try {
    const items = order.lines.map((line) => ({ productId: line.productId, quantity: line.quantity }));
    await repeatUntilKnown(() => deps.stock.reserve(orderId, items, { sellNow: true }));
  } catch (error) {
    if (isOutcomeUnknown(error)) throw error;
    return abandonOrder(deps, order, "CANCELLED", "the stock could no longer be held");
  }
  await confirmOrder(deps, order, "completed after an interruption");
}
