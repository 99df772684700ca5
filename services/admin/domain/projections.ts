// The admin service's projections of the event stream: every event becomes an audit entry;
// order and sign-up events feed the sales figures, order events each shop's sales. Applied once per event (the consumer
// remembers ids), in any order: a status never overwrites a newer one. An erased user's personal
// data never enters the audit trail, whether the event comes before or after the erasure and
// whether it is applied live or by a rebuild.
import { clone, fromBinary, fromJson, toBinary, toJson, type JsonObject } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Transaction } from "kysely";
import type { DescEnum } from "@bufbuild/protobuf";
import { RoleSchema } from "../../../gen/bazaar/common/v1/common_pb.ts";
import { EventSchema, type Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { OrderStatusSchema, ShopOrderStatusSchema } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { timeOfUuidv7 } from "../../kit/ids.ts";
import type { AdminDatabase } from "../db/database.ts";
import {
  isErased,
  lockAuditEntriesAbout,
  lockDeadLettersMentioning,
  recordErasure,
  replaceDeadLetterPayload,
  rewriteAuditEntry,
} from "../db/erasures.repository.ts";
import {
  insertAuditEvent,
  recordNewUser,
  recordOrderLines,
  recordOrderStatus,
  type AuditRow,
} from "../db/projections.repository.ts";
import { stockLevelsOf } from "../../kit/stock-levels.ts";
import { applyToShopSales } from "./shop-sales-projection.ts";

/** The durable consumer that builds every projection, over the whole stream. */
export const projectionsConsumer = { name: "admin-projections", filterSubject: "bazaar.>" };

export async function applyToProjections(received: Event, trx: Transaction<AdminDatabase>): Promise<void> {
  const owner = personalDataOwnerOf(received);
  const event = owner && (await isErased(trx, owner)) ? withoutPersonalData(received) : received;
  const occurTime = event.occurTime ? timestampDate(event.occurTime) : timeOfUuidv7(event.id);
  await insertAuditEvent(trx, {
    id: event.id,
    event_type: eventTypeOf(event),
    source: event.source,
    actor_id: event.actorId,
    subject_id: event.subjectId,
    occur_time: occurTime,
    ...auditTextOf(event),
  });

  const { payload } = event;
  switch (payload.case) {
    case "userRegistered":
      await recordNewUser(trx, payload.value.userId, occurTime);
      break;
    case "userErased":
      await recordErasure(trx, payload.value.userId);
      await forgetPersonalDataOf(trx, payload.value.userId);
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
  await applyToShopSales(event, trx);
}

/**
 * The user whose personal data the event carries, if any. Only UserRegistered does (e-mail and
 * name); every other event names people by id, which an erasure keeps so figures add up.
 */
function personalDataOwnerOf(event: Event): string | undefined {
  return event.payload.case === "userRegistered" ? event.payload.value.userId : undefined;
}

/** Event types whose payload carries personal data, i.e. those personalDataOwnerOf knows. */
const personalEventTypes = ["user_registered"] as const;

/** The event with its personal data blanked. */
export function withoutPersonalData(event: Event): Event {
  const redacted = clone(EventSchema, event);
  if (redacted.payload.case === "userRegistered") {
    redacted.payload.value.email = "";
    redacted.payload.value.displayName = "";
  }
  return redacted;
}

/**
 * Rewrites the audit entries that carry the user's personal data, from the entry itself: its
 * payload is the event's own, so the redacted entry is exactly what applying the redacted event
 * would have written. A dead-lettered event of theirs is redacted too, so a redrive still
 * counts the sign-up without bringing the e-mail back. (Only this consumer takes UserRegistered,
 * so no other service's dead letters hold personal data.)
 */
export async function forgetPersonalDataOf(trx: Transaction<AdminDatabase>, userId: string): Promise<void> {
  for (const row of await lockAuditEntriesAbout(trx, userId, personalEventTypes)) {
    const event = withoutPersonalData(eventOfAuditRow(row));
    await rewriteAuditEntry(trx, row.id, auditTextOf(event));
  }
  for (const letter of await lockDeadLettersMentioning(trx, userId)) {
    const event = decodedOrUndefined(letter.payload);
    if (event && personalDataOwnerOf(event) === userId)
      await replaceDeadLetterPayload(trx, letter.id, toBinary(EventSchema, withoutPersonalData(event)));
  }
}

function decodedOrUndefined(payload: Uint8Array): Event | undefined {
  try {
    return fromBinary(EventSchema, payload);
  } catch {
    return undefined; // not an event at all: it cannot hold a field of theirs
  }
}

function eventOfAuditRow(row: AuditRow): Event {
  const payloadCase = row.event_type.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return fromJson(EventSchema, {
    id: row.id,
    source: row.source,
    actorId: row.actor_id,
    subjectId: row.subject_id,
    [payloadCase]: JSON.parse(row.payload_json) as JsonObject,
  });
}

function auditTextOf(event: Event): Pick<AuditRow, "summary" | "payload_json"> {
  return {
    summary: summaryOf(event).slice(0, 300),
    payload_json: JSON.stringify(
      event.payload.case ? (toJson(EventSchema, event) as Record<string, unknown>)[event.payload.case] : {},
    ),
  };
}

/** "1250 USD": minor units and currency, as the other summaries write money. */
function moneyText(money: { amountMinor: bigint; currencyCode: string } | undefined): string {
  return `${money?.amountMinor ?? 0n} ${money?.currencyCode ?? ""}`.trim();
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
      // An erased user's e-mail is blank: the id still says who it was.
      return `user ${payload.value.email || payload.value.userId} registered as ${nameOf(RoleSchema, payload.value.role)}`;
    case "userRoleChanged":
      return `user ${payload.value.userId} changed role from ${nameOf(RoleSchema, payload.value.oldRole)} to ${nameOf(RoleSchema, payload.value.newRole)}`;
    case "userActiveChanged":
      return `user ${payload.value.userId} ${payload.value.active ? "activated" : "deactivated"}`;
    case "userErased":
      return `user ${payload.value.userId} erased`;
    case "passwordResetRequested":
      return `user ${payload.value.userId} asked for a password-reset link`;
    case "passwordChanged":
      return `user ${payload.value.userId} reset their password`;
    case "emailVerified":
      return `user ${payload.value.userId} confirmed their e-mail`;
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
    case "stockChanged": {
      const levels = stockLevelsOf(payload.value).map(
        (level) => `${level.productId}: ${level.stockOnHand} on hand, ${level.stockAvailable} available`,
      );
      const reservation = payload.value.reservationId ? `, reservation ${payload.value.reservationId}` : "";
      return `stock of ${levels.join("; ")} (${payload.value.reason}${reservation})`;
    }
    case "shopSuspensionChanged":
      return payload.value.suspended
        ? `shop ${payload.value.shopId} suspended: ${payload.value.reason}`
        : `shop ${payload.value.shopId} reactivated`;
    case "orderPlaced":
      return `order ${payload.value.orderId} placed: ${payload.value.items.length} ${payload.value.items.length === 1 ? "product" : "products"}, total ${payload.value.total?.amountMinor ?? 0n} ${payload.value.total?.currencyCode ?? ""}`;
    case "orderStatusChanged":
      return `order ${payload.value.orderId} ${nameOf(OrderStatusSchema, payload.value.oldStatus)} → ${nameOf(OrderStatusSchema, payload.value.newStatus)}${payload.value.note ? `: ${payload.value.note}` : ""}`;
    case "shopOrderStatusChanged":
      return `shop order ${payload.value.shopOrderId} of order ${payload.value.orderId} ${nameOf(ShopOrderStatusSchema, payload.value.oldStatus)} → ${nameOf(ShopOrderStatusSchema, payload.value.newStatus)}${payload.value.trackingNumber ? ` (${payload.value.carrier} ${payload.value.trackingNumber})` : ""}${payload.value.refunded?.amountMinor ? `, refunded ${payload.value.refunded.amountMinor} ${payload.value.refunded.currencyCode}` : ""}${payload.value.note ? `: ${payload.value.note}` : ""}`;
    case "orderCancelled":
      return `order ${payload.value.orderId} cancelled${payload.value.reason ? `: ${payload.value.reason}` : ""}`;
    case "paymentFailed":
      return `payment of order ${payload.value.orderId} failed: ${payload.value.reason}`;
    case "paymentAuthorized":
      return `payment ${payload.value.paymentId} of order ${payload.value.orderId} authorized: ${moneyText(payload.value.amount)}`;
    case "paymentRequiresAction":
      return `payment ${payload.value.paymentId} of order ${payload.value.orderId} waits for the buyer`;
    case "paymentCaptured":
      return `payment ${payload.value.paymentId} of order ${payload.value.orderId} captured: ${moneyText(payload.value.amount)}`;
    case "paymentCanceled":
      return `payment ${payload.value.paymentId} of order ${payload.value.orderId} canceled`;
    case "paymentRefunded":
      return `payment ${payload.value.paymentId} of order ${payload.value.orderId}: ${moneyText(payload.value.amount)} refunded, ${moneyText(payload.value.totalRefunded)} in all`;
    case "adminActionPerformed":
      return `admin ${payload.value.action} on ${payload.value.targetType} ${payload.value.targetId}`;
    default:
      return "unknown event";
  }
}
