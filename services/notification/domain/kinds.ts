// What a notification can be about, on which channels it goes, and which e-mails may not be
// switched off: transactional mails about money or security are the customer's record.
import type { MailTemplate } from "../email/outbox.ts";

export const kinds = [
  "ORDER_CONFIRMED",
  "ORDER_STATUS_CHANGED",
  "ORDER_SHIPPED",
  "ORDER_CANCELLED",
  "PAYMENT_FAILED",
  "REFUND",
  "SELLER_NEW_ORDER",
  "LOW_STOCK",
  "NEW_SIGN_UP",
  "PASSWORD_RESET",
  "EMAIL_VERIFICATION",
  "ADMIN_ALERT",
] as const;
export type Kind = (typeof kinds)[number];

export const channels = ["IN_APP", "EMAIL"] as const;
export type Channel = (typeof channels)[number];

/** Account mails are e-mail only: they carry a secret link that has no place in an inbox. */
const emailOnly = new Set<Kind>(["PASSWORD_RESET", "EMAIL_VERIFICATION"]);

/** E-mails the user cannot switch off. */
const requiredEmail = new Set<Kind>([
  "ORDER_CONFIRMED",
  "PAYMENT_FAILED",
  "REFUND",
  "PASSWORD_RESET",
  "EMAIL_VERIFICATION",
]);

/** The kinds that are also mailed, and with which template. */
export const mailTemplateOf: Partial<Record<Kind, MailTemplate>> = {
  ORDER_CONFIRMED: "order-confirmation",
  ORDER_SHIPPED: "order-shipped",
  PAYMENT_FAILED: "payment-failed",
  SELLER_NEW_ORDER: "seller-new-order",
  REFUND: "refund-issued",
  PASSWORD_RESET: "password-reset",
  EMAIL_VERIFICATION: "email-verification",
  ADMIN_ALERT: "admin-alert",
};

export function isRequired(kind: Kind, channel: Channel): boolean {
  return channel === "EMAIL" && requiredEmail.has(kind);
}

/** Every kind × channel a user has a preference for. */
export function preferenceSlots(): Array<{ kind: Kind; channel: Channel }> {
  return kinds.flatMap((kind) =>
    channels.filter((channel) => channel === "EMAIL" || !emailOnly.has(kind)).map((channel) => ({ kind, channel })),
  );
}

export function hasSlot(kind: Kind, channel: Channel): boolean {
  return channel === "EMAIL" || !emailOnly.has(kind);
}
