// STAND-IN for helper E's e-mail outbox (services/notification/email/ is E's): the seam's
// signature only, so the notification core can call it in its transactions. E's branch replaces
// this file with the real outbox (table email_outbox, delivery jobs, templates).
import type { Transaction } from "kysely";

export type MailTemplate =
  | "order-confirmation"
  | "order-shipped"
  | "payment-failed"
  | "password-reset"
  | "email-verification"
  | "seller-new-order";

export interface OutgoingMail {
  idempotencyKey: string;
  to: string;
  template: MailTemplate;
  data: object;
}

/** Records a mail to send in the caller's transaction; false when the key was enqueued before. */
export async function enqueueMail(_trx: Transaction<any>, _mail: OutgoingMail): Promise<boolean> {
  return true;
}
