// The admin service's projections of the event stream: every event becomes an audit entry;
// order and sign-up events feed the sales figures. Applied once per event (the consumer
// remembers ids), in any order: a status never overwrites a newer one.
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Transaction } from "kysely";
import type { DescEnum } from "@bufbuild/protobuf";
import { RoleSchema } from "../../../gen/bazaar/common/v1/common_pb.ts";
import { EventSchema, type Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { OrderStatusSchema, ShopOrderStatusSchema } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { timeOfUuidv7 } from "../../kit/ids.ts";
import type { AdminDatabase } from "../db/database.ts";
import { insertAuditEvent, recordNewUser, recordOrderLines, recordOrderStatus } from "../db/projections.repository.ts";

/** The durable consumer that builds every projection, over the whole stream. */
export const projectionsConsumer = { name: "admin-projections", filterSubject: "bazaar.>" };

export async function applyToProjections(event: Event, trx: Transaction<AdminDatabase>): Promise<void> {
  const occurTime = event.occurTime ? timestampDate(event.occurTime) : timeOfUuidv7(event.id);
  await insertAuditEvent(trx, {
    id: event.id,
    event_type: eventTypeOf(event),
    source: event.source,
    actor_id: event.actorId,
    subject_id: event.subjectId,
    occur_time: occurTime,
    summary: summaryOf(event).slice(0, 300),
    payload_json: JSON.stringify(
      event.payload.case ? (toJson(EventSchema, event) as Record<string, unknown>)[event.payload.case] : {},
    ),
  });

  const { payload } = event;
  switch (payload.case) {
    case "userRegistered":
      await recordNewUser(trx, payload.value.userId, occurTime);
      break;
    case "orderPlaced": {
      const { orderId, userId, total, items } = payload.value;
      await recordOrderStatus(trx, {
        orderId,
        userId,
        placedTime: timeOfUuidv7(orderId),
        status: "CONFIRMED",
        statusTime: occurTime,
        totalMinor: total?.amountMinor ?? 0n,
        currencyCode: total?.currencyCode ?? "",
      });
      const lines = items.map((i) => ({
        productId: i.productId,
        name: i.name,
        quantity: i.quantity,
        revenueMinor: i.lineTotal?.amountMinor ?? 0n,
      }));
      await recordOrderLines(trx, orderId, lines);
      break;
    }
    case "orderStatusChanged": {
      const { orderId, userId, newStatus, total } = payload.value;
      await recordOrderStatus(trx, {
        orderId,
        userId,
        placedTime: timeOfUuidv7(orderId),
        status: nameOf(OrderStatusSchema, newStatus),
        statusTime: occurTime,
        totalMinor: total?.amountMinor ?? 0n,
        currencyCode: total?.currencyCode ?? "",
      });
      break;
    }
  }
}

/** An enum value's name without its prefix, e.g. CONFIRMED. */
function nameOf(schema: DescEnum, value: number): string {
  return schema.value[value]?.localName ?? String(value);
}

/** "orderPlaced" → "order_placed", as in the subject. */
export function eventTypeOf(event: Event): string {
  return (event.payload.case ?? "unknown").replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** One line for humans. */
export function summaryOf(event: Event): string {
  const { payload } = event;
  switch (payload.case) {
    case "userRegistered":
      return `user ${payload.value.email} registered as ${nameOf(RoleSchema, payload.value.role)}`;
    case "userRoleChanged":
      return `user ${payload.value.userId} changed role from ${nameOf(RoleSchema, payload.value.oldRole)} to ${nameOf(RoleSchema, payload.value.newRole)}`;
    case "userActiveChanged":
      return `user ${payload.value.userId} ${payload.value.active ? "activated" : "deactivated"}`;
    case "shopCreated":
      return `shop "${payload.value.name}" opened`;
    case "categoryCreated":
      return `category "${payload.value.name}" added`;
    case "productCreated":
      return `product "${payload.value.name}" created`;
    case "productUpdated":
      return `product ${payload.value.productId} updated`;
    case "productDeleted":
      return `product ${payload.value.productId} deleted`;
    case "stockChanged":
      return `stock of ${payload.value.productId}: ${payload.value.stockOnHand} on hand, ${payload.value.stockAvailable} available (${payload.value.reason})`;
    case "shopSuspensionChanged":
      return payload.value.suspended
        ? `shop ${payload.value.shopId} suspended: ${payload.value.reason}`
        : `shop ${payload.value.shopId} reactivated`;
    case "orderPlaced":
      return `order ${payload.value.orderId} placed: ${payload.value.items.length} ${payload.value.items.length === 1 ? "product" : "products"}, total ${payload.value.total?.amountMinor ?? 0n} ${payload.value.total?.currencyCode ?? ""}`;
    case "orderStatusChanged":
      return `order ${payload.value.orderId} ${nameOf(OrderStatusSchema, payload.value.oldStatus)} → ${nameOf(OrderStatusSchema, payload.value.newStatus)}${payload.value.note ? `: ${payload.value.note}` : ""}`;
    case "shopOrderStatusChanged":
      return `shop order ${payload.value.shopOrderId} of order ${payload.value.orderId} ${nameOf(ShopOrderStatusSchema, payload.value.oldStatus)} → ${nameOf(ShopOrderStatusSchema, payload.value.newStatus)}${payload.value.trackingNumber ? ` (${payload.value.carrier} ${payload.value.trackingNumber})` : ""}`;
    case "orderCancelled":
      return `order ${payload.value.orderId} cancelled${payload.value.reason ? `: ${payload.value.reason}` : ""}`;
    case "paymentFailed":
      return `payment of order ${payload.value.orderId} failed: ${payload.value.reason}`;
    case "adminActionPerformed":
      return `admin ${payload.value.action} on ${payload.value.targetType} ${payload.value.targetId}`;
    default:
      return "unknown event";
  }
}
