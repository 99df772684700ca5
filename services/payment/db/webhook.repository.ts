// The webhook_events table: one row per provider event ever accepted. Its primary key
// (provider, event_id) is what makes a replay a no-op: the row is inserted in the transaction
// that applies the event, so of concurrent deliveries of one event exactly one commits.
import { sql, type Kysely, type Transaction } from "kysely";
import type { PaymentDatabase, WebhookOutcome } from "./database.ts";

type Db = Kysely<PaymentDatabase> | Transaction<PaymentDatabase>;

export interface WebhookEventRow {
  provider: string;
  eventId: string;
  eventType: string;
  providerPaymentId: string;
  paymentId: string;
}

/** Records an event; false when it was recorded before (a replay). */
export async function insertWebhookEvent(
  trx: Transaction<PaymentDatabase>,
  event: WebhookEventRow,
  outcome: WebhookOutcome,
): Promise<boolean> {
  try {
    await trx
      .insertInto("webhook_events")
      .values({
        provider: event.provider,
        event_id: event.eventId,
        outcome,
        event_type: event.eventType,
        provider_payment_id: event.providerPaymentId,
        payment_id: event.paymentId,
        apply_time: outcome === "APPLIED" ? sql<Date>`UTC_TIMESTAMP(6)` : null,
      })
      .execute();
    return true;
  } catch (error) {
    if ((error as { errno?: number }).errno === 1062) return false;
    throw error;
  }
}

/** Moves a KEPT event to `to`; false when another replica did first. */
export async function settleKeptWebhookEvent(
  trx: Db,
  provider: string,
  eventId: string,
  to: "APPLIED" | "EXPIRED",
): Promise<boolean> {
  const result = await trx
    .updateTable("webhook_events")
    .set({ outcome: to, ...(to === "APPLIED" ? { apply_time: sql<Date>`UTC_TIMESTAMP(6)` } : {}) })
    .where("provider", "=", provider)
    .where("event_id", "=", eventId)
    .where("outcome", "=", "KEPT")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface KeptWebhookEvent extends WebhookEventRow {
  ageSeconds: number;
}

/** KEPT events, oldest first. */
export async function keptWebhookEvents(db: Db, limit: number): Promise<KeptWebhookEvent[]> {
  const rows = await db
    .selectFrom("webhook_events")
    .select([
      "provider",
      "event_id",
      "event_type",
      "provider_payment_id",
      "payment_id",
      sql<number>`TIMESTAMPDIFF(SECOND, receive_time, UTC_TIMESTAMP(6))`.as("age_seconds"),
    ])
    .where("outcome", "=", "KEPT")
    .orderBy("receive_time")
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    provider: row.provider,
    eventId: row.event_id,
    eventType: row.event_type,
    providerPaymentId: row.provider_payment_id,
    paymentId: row.payment_id,
    ageSeconds: Number(row.age_seconds),
  }));
}

/** The outcome recorded for an event, if any (tests, diagnostics). */
export async function webhookEventOutcome(
  db: Db,
  provider: string,
  eventId: string,
): Promise<WebhookOutcome | undefined> {
  const row = await db
    .selectFrom("webhook_events")
    .select("outcome")
    .where("provider", "=", provider)
    .where("event_id", "=", eventId)
    .executeTakeFirst();
  return row?.outcome;
}
