// The recovery loop: orders whose settling is overdue — PENDING after a crash or an outage
// between checkout steps, or cancelled with their stock or payment not yet given back — are
// claimed for a while and finished or compensated (settle.ts); so are shop orders a seller
// cancelled whose stock or refund is still outstanding (cancel-shop-order.ts). The reservation TTL in the
// product service is the last backstop behind this.
import type { Logger } from "../../kit/log.ts";
import { claimOverdueOrders, claimOverdueShopOrders } from "../db/order.repository.ts";
import { settleShopOrder } from "./cancel-shop-order.ts";
import type { OrderDeps } from "./ports.ts";
import { recoverOrder } from "./settle.ts";

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
