// The seam the notification core calls: record a mail in the caller's transaction, so the mail
// exists exactly when the notification that caused it does. Delivery happens later (delivery.ts).
import type { Transaction } from "kysely";
import { insertMail, insertMailAtCommit } from "../db/email-outbox.repository.ts";
import type { EmailTables } from "./database.ts";

export type MailTemplate =
  | "order-confirmation"
  | "order-shipped"
  | "payment-failed"
  | "password-reset"
  | "email-verification"
  | "seller-new-order"
  | "refund-issued"
  | "admin-alert";

export const mailTemplates: readonly MailTemplate[] = [
  "order-confirmation",
  "order-shipped",
  "payment-failed",
  "password-reset",
  "email-verification",
  "seller-new-order",
  "refund-issued",
  "admin-alert",
];

export interface OutgoingMail {
  idempotencyKey: string;
  to: string;
  template: MailTemplate;
  data: object;
}

/** Records a mail to send in the caller's transaction; false when the key was enqueued before. */
export async function enqueueMail(trx: Transaction<any>, mail: OutgoingMail): Promise<boolean> {
  return insertMail(trx as Transaction<EmailTables>, mail);
}

/**
 * Records a mail to send, written with the transaction's other mails as it commits; one whose
 * key was enqueued before is left out. For a consumer's handler, whose event is applied once.
 */
export async function enqueueMailAtCommit(trx: Transaction<any>, mail: OutgoingMail): Promise<void> {
  await insertMailAtCommit(trx as Transaction<EmailTables>, mail);
}
