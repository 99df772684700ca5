// Order events → the buyer's and the sellers' notifications. Which events notify whom:
// OrderPlaced → buyer ORDER_CONFIRMED and each shop's seller SELLER_NEW_ORDER; a shop order
// SHIPPED → buyer ORDER_SHIPPED with tracking; the order PROCESSING or DELIVERED → buyer
// ORDER_STATUS_CHANGED; OrderCancelled → buyer ORDER_CANCELLED; PaymentFailed → buyer. Every
// order event also keeps whose order it is, for the refunds (payment-events.ts).
// (An order's SHIPPED and CANCELLED statuses are told by the events above, not twice.)
import type { Transaction } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { OrderStatus, ShopOrderStatus } from "../../../gen/bazaar/order/v1/order_pb.ts";
import type { NotificationDatabase } from "../db/database.ts";
import { rememberOrderBuyer } from "../db/notification.repository.ts";
import { deliver, knowRecipients } from "../domain/deliver.ts";
import { formatMoney, orderReference } from "../email/templates.ts";
import { mailLine, mailMoney, orderSummary } from "./order-mail.ts";
import type { FeedSignals } from "../../kit/feed-signals.ts";

export const orderEventsConsumer = { name: "notification-order-events", filterSubject: "bazaar.order.>" };

export function notifyOrderEvents(signals: FeedSignals) {
  return async (event: Event, trx: Transaction<NotificationDatabase>): Promise<void> => {
    const key = (userId: string) => `${event.id}:${userId}`;
    const { payload } = event;
    // Whose order it is, from whichever of its events comes first: an order cancelled before it
    // was ever confirmed (no OrderPlaced) can still be refunded (payment-events.ts).
    const about = buyerNamedBy(payload);
    if (about) await rememberOrderBuyer(trx, about.orderId, about.userId);
    switch (payload.case) {
      case "orderPlaced": {
        const o = payload.value;
        const link = `/orders/${o.orderId}`;
        await knowRecipients(trx, [o.userId, ...o.shopOrders.map((shopOrder) => shopOrder.sellerId)]);
        await deliver(trx, signals, {
          userId: o.userId,
          kind: "ORDER_CONFIRMED",
          title: `Order ${orderReference(o.orderId)} confirmed`,
          body: `Your order ${orderReference(o.orderId)} of ${money(o.total)} is confirmed.`,
          link,
          idempotencyKey: key(o.userId),
          mailData: { orderId: o.orderId, ...orderSummary(o.items, o.total) },
        });
        for (const shopOrder of o.shopOrders) {
          await deliver(trx, signals, {
            userId: shopOrder.sellerId,
            kind: "SELLER_NEW_ORDER",
            title: `New order ${orderReference(shopOrder.shopOrderId)}`,
            body: `A new order ${orderReference(shopOrder.shopOrderId)} of ${money(shopOrder.subtotal)} for your shop.`,
            link: `/seller/orders/${shopOrder.shopOrderId}`,
            idempotencyKey: `${event.id}:${shopOrder.shopOrderId}`,
            mailData: {
              shopOrderId: shopOrder.shopOrderId,
              shopId: shopOrder.shopId,
              items: o.items.filter((i) => i.shopId === shopOrder.shopId).map(mailLine),
              subtotal: mailMoney(shopOrder.subtotal),
            },
          });
        }
        return;
      }
      case "shopOrderStatusChanged": {
        const s = payload.value;
        if (s.newStatus !== ShopOrderStatus.SHIPPED) return;
        const tracking = [s.carrier, s.trackingNumber].filter(Boolean).join(" ");
        await deliver(trx, signals, {
          userId: s.userId,
          kind: "ORDER_SHIPPED",
          title: `Order ${orderReference(s.orderId)} shipped`,
          body: `Part of your order ${orderReference(s.orderId)} is on its way${tracking ? ` (${tracking})` : ""}.`,
          link: s.trackingUrl || `/orders/${s.orderId}`,
          idempotencyKey: key(s.userId),
          mailData: {
            orderId: s.orderId,
            // The inbox entry opens the tracking page; the mail links it and the order apart.
            link: `/orders/${s.orderId}`,
            carrier: s.carrier,
            trackingNumber: s.trackingNumber,
            trackingUrl: s.trackingUrl,
          },
        });
        return;
      }
      case "orderStatusChanged": {
        const o = payload.value;
        if (o.newStatus !== OrderStatus.PROCESSING && o.newStatus !== OrderStatus.DELIVERED) return;
        const status = o.newStatus === OrderStatus.PROCESSING ? "being prepared" : "delivered";
        await deliver(trx, signals, {
          userId: o.userId,
          kind: "ORDER_STATUS_CHANGED",
          title: `Order ${orderReference(o.orderId)} ${status}`,
          body: `Your order ${orderReference(o.orderId)} is ${status}.`,
          link: `/orders/${o.orderId}`,
          idempotencyKey: key(o.userId),
        });
        return;
      }
      case "orderCancelled": {
        const o = payload.value;
        await deliver(trx, signals, {
          userId: o.userId,
          kind: "ORDER_CANCELLED",
          title: `Order ${orderReference(o.orderId)} cancelled`,
          body: `Your order ${orderReference(o.orderId)} was cancelled${o.reason ? `: ${o.reason}` : "."}`,
          link: `/orders/${o.orderId}`,
          idempotencyKey: key(o.userId),
        });
        return;
      }
      case "paymentFailed": {
        const p = payload.value;
        if (!p.userId) return;
        await deliver(trx, signals, {
          userId: p.userId,
          kind: "PAYMENT_FAILED",
          title: `Payment for order ${orderReference(p.orderId)} failed`,
          body: `The payment of your order ${orderReference(p.orderId)} failed${p.reason ? `: ${p.reason}` : "."}`,
          link: `/orders/${p.orderId}`,
          idempotencyKey: key(p.userId),
          mailData: { orderId: p.orderId, reason: p.reason },
        });
        return;
      }
      default:
        return;
    }
  };
}

/** Money in inbox text, formatted as the mails format it. */
const money = (m: Parameters<typeof mailMoney>[0]) => formatMoney(mailMoney(m));

/** The order and its buyer, for the order events that name both. */
function buyerNamedBy(payload: Event["payload"]): { orderId: string; userId: string } | undefined {
  switch (payload.case) {
    case "orderPlaced":
    case "orderStatusChanged":
    case "orderCancelled":
    case "paymentFailed":
    case "shopOrderStatusChanged":
      return payload.value.userId ? { orderId: payload.value.orderId, userId: payload.value.userId } : undefined;
    default:
      return undefined;
  }
}
