// Delivers one notification to one user, as their preferences say: into the inbox (IN_APP) and,
// for kinds that are mailed, into the e-mail outbox (EMAIL), in the caller's transaction — the
// consumer's, which also records the event as processed, so an event never notifies twice.
import type { Transaction } from "kysely";
import { afterCommit } from "../../kit/db.ts";
import { enqueueMailAtCommit } from "../email/outbox.ts";
import type { NotificationDatabase } from "../db/database.ts";
import {
  insertNotification,
  preferencesAndRecipient,
  preferencesAndRecipients,
  type RecipientSettings,
} from "../db/notification.repository.ts";
import type { FeedSignals } from "../../kit/feed-signals.ts";
import { hasSlot, isRequired, mailTemplateOf, type Channel, type Kind } from "./kinds.ts";

export interface Delivery {
  userId: string;
  kind: Kind;
  title: string;
  body: string;
  link?: string;
  subjectUserId?: string;
  /** One mail per key (the event id and the recipient). */
  idempotencyKey: string;
  /** What the mail template shows. */
  mailData?: object;
}

/** Settings read ahead for a transaction's deliveries (knowRecipients). */
const readAhead = new WeakMap<object, Map<string, RecipientSettings>>();

/**
 * Reads the settings of everyone an event is about to notify in one statement, where each
 * delivery would read its own: an order's buyer and its sellers, say. For this transaction only,
 * so a preference changed meanwhile counts from the next event on.
 */
export async function knowRecipients(
  trx: Transaction<NotificationDatabase>,
  userIds: readonly string[],
): Promise<void> {
  const known = readAhead.get(trx) ?? new Map<string, RecipientSettings>();
  const missing = userIds.filter((id) => !known.has(id));
  if (missing.length === 0) return;
  for (const [id, settings] of await preferencesAndRecipients(trx, missing)) known.set(id, settings);
  readAhead.set(trx, known);
}

export async function deliver(
  trx: Transaction<NotificationDatabase>,
  signals: FeedSignals,
  d: Delivery,
): Promise<void> {
  const { preferences, recipient } =
    readAhead.get(trx)?.get(d.userId) ?? (await preferencesAndRecipient(trx, d.userId));
  const wants = (channel: Channel) =>
    hasSlot(d.kind, channel) &&
    (isRequired(d.kind, channel) ||
      (preferences.find((p) => p.kind === d.kind && p.channel === channel)?.enabled ?? true));
  if (wants("IN_APP")) {
    await insertNotification(trx, d);
    afterCommit(trx, () => signals.announce(d.userId));
  }
  const template = mailTemplateOf[d.kind];
  if (template && wants("EMAIL") && recipient?.active) {
    await enqueueMailAtCommit(trx, {
      idempotencyKey: d.idempotencyKey,
      to: recipient.email,
      template,
      data: { displayName: recipient.display_name, title: d.title, body: d.body, link: d.link ?? "", ...d.mailData },
    });
  }
}
