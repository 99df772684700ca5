// The seam the notification core calls: record a mail in the caller's transaction, so the mail
// exists exactly when the notification that caused it does. Delivery happens later (delivery.ts).
import type { Transaction } from "kysely";
import { uuidv7 } from "../../kit/ids.ts";
import type { EmailTables } from "./database.ts";

export type MailTemplate =
  | "order-confirmation"
  | "order-shipped"
  | "payment-failed"
  | "password-reset"
  | "email-verification"
  | "seller-new-order";

export const mailTemplates: readonly MailTemplate[] = [
  "order-confirmation",
  "order-shipped",
  "payment-failed",
  "password-reset",
  "email-verification",
  "seller-new-order",
];

export interface OutgoingMail {
  idempotencyKey: string;
  to: string;
  template: MailTemplate;
  data: object;
}

/** Records a mail to send in the caller's transaction; false when the key was enqueued before. */
export async function enqueueMail(trx: Transaction<any>, mail: OutgoingMail): Promise<boolean> {
  const db = trx as unknown as Transaction<EmailTables>;
  const inserted = await db
    .insertInto("email_outbox")
    .ignore()
    .values({
      id: uuidv7(),
      idempotency_key: mail.idempotencyKey,
      to_address: mail.to,
      template: mail.template,
      data: JSON.stringify(mail.data),
    })
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
}
