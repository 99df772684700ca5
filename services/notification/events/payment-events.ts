// Payment events → the buyer's refund notification. PaymentRefunded names the order, not the
// buyer: the order events (order-events.ts) keep whose order it is. Refunds come from a cancelled
// order, a seller's cancelled shop order or an admin, and each one is told once (per refund id).
import type { Transaction } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import type { NotificationDatabase } from "../db/database.ts";
import { buyerOfOrder } from "../db/notification.repository.ts";
import { deliver } from "../domain/deliver.ts";
import { formatMoney, orderReference } from "../email/templates.ts";
import type { FeedSignals } from "../../kit/feed-signals.ts";
import { mailMoney } from "./order-mail.ts";

export const paymentEventsConsumer = {
  name: "notification-payment-events",
  filterSubject: "bazaar.payment.payment_refunded",
};

export function notifyPaymentEvents(signals: FeedSignals) {
  return async (event: Event, trx: Transaction<NotificationDatabase>): Promise<void> => {
    if (event.payload.case !== "paymentRefunded") return;
    const refund = event.payload.value;
    const buyer = await buyerOfOrder(trx, refund.orderId);
    // Consumers run side by side: after an outage this one may be ahead of the order events'.
    // Failing hands the event back for redelivery, by when the order's events have been kept.
    if (!buyer) throw new Error(`the buyer of order ${refund.orderId} is not known yet`);
    const amount = mailMoney(refund.amount);
    await deliver(trx, signals, {
      userId: buyer,
      kind: "REFUND",
      title: `Refund for order ${orderReference(refund.orderId)}`,
      body: `${formatMoney(amount)} of your order ${orderReference(refund.orderId)} is refunded to your card.`,
      link: `/orders/${refund.orderId}`,
      idempotencyKey: `${refund.refundId}:${buyer}`,
      mailData: { orderId: refund.orderId, refunded: amount, totalRefunded: mailMoney(refund.totalRefunded) },
    });
  };
}
