// The six mails as text and HTML. Pure functions: data in, {subject, text, html} out. Every value
// from data is HTML-escaped in the HTML part; money is shown in the buyer's currency format.
import type { MailTemplate } from "./outbox.ts";

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** Money as the services carry it: integer minor units (as string or number) and ISO currency. */
export interface MailMoney {
  currencyCode: string;
  amountMinor: string | number;
}

/** A value printed as money: a MailMoney, or text already formatted by the caller. */
export type MoneyValue = MailMoney | string;

export interface MailLine {
  name: string;
  quantity?: number;
  unitPrice?: MoneyValue;
  lineTotal?: MoneyValue;
}

export interface MailData {
  displayName?: string;
  title?: string;
  body?: string;
  link?: string;
  expireTime?: string;
  orderId?: string;
  shopOrderId?: string;
  items?: Array<MailLine | string>;
  subtotal?: MoneyValue;
  shipping?: MoneyValue;
  tax?: MoneyValue;
  /** Tax and shipping together, when the sender knows only their sum (total − subtotal). */
  taxAndShipping?: MoneyValue;
  total?: MoneyValue;
  carrier?: string;
  trackingNumber?: string;
  trackingUrl?: string;
  reason?: string;
  /** A refund: what this one gave back, and all of the order's refunds so far. */
  refunded?: MoneyValue;
  totalRefunded?: MoneyValue;
  locale?: string;
}

// Building an Intl formatter costs most of a millisecond (locale data), formatting with one a few
// microseconds: they are kept per locale and options. Bounded, since a locale comes with the data.
const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();

function formatterFor<F extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, build: () => F): F {
  let formatter = formatters.get(key) as F | undefined;
  if (!formatter) {
    if (formatters.size >= 256) formatters.clear();
    formatter = build();
    formatters.set(key, formatter);
  }
  return formatter;
}

export function formatMoney(value: MoneyValue | undefined, locale = "en-US"): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  if (!/^[A-Za-z]{3}$/.test(value.currencyCode)) {
    // Not a currency Intl knows how to write (empty in a malformed event): the figure in minor
    // units with whatever code came, rather than no mail at all.
    return `${value.amountMinor} ${value.currencyCode}`.trim();
  }
  const format = formatterFor(
    `money|${locale}|${value.currencyCode}`,
    () => new Intl.NumberFormat(locale, { style: "currency", currency: value.currencyCode }),
  );
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  // Minor units to major without floating point for the integer part (amounts beyond 2^53 minor).
  const minor = BigInt(value.amountMinor);
  const scale = 10n ** BigInt(digits);
  const negative = minor < 0n;
  const abs = negative ? -minor : minor;
  const major = `${negative ? "-" : ""}${abs / scale}${digits > 0 ? `.${(abs % scale).toString().padStart(digits, "0")}` : ""}`;
  // Intl accepts decimal strings exactly (ES2023 "string numeric literal" formatting).
  return format.format(major as unknown as number);
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function formatTime(iso: string | undefined, locale: string): string {
  if (!iso) return "";
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return "";
  return `${formatterFor(`time|${locale}`, () => new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" })).format(time)} UTC`;
}

/** A mail built from blocks, so text and HTML say the same things. */
type Block =
  | { kind: "p"; text: string }
  | { kind: "link"; label: string; href: string }
  | { kind: "table"; rows: string[][]; totals: string[][] };

function compose(subject: string, greeting: string, blocks: Block[]): RenderedMail {
  const text: string[] = [greeting, ""];
  const html: string[] = [`<p>${escapeHtml(greeting)}</p>`];
  for (const block of blocks) {
    if (block.kind === "p") {
      text.push(block.text, "");
      html.push(`<p>${escapeHtml(block.text)}</p>`);
    } else if (block.kind === "link") {
      text.push(`${block.label}: ${block.href}`, "");
      html.push(`<p><a href="${escapeHtml(block.href)}">${escapeHtml(block.label)}</a></p>`);
    } else {
      for (const row of [...block.rows, ...block.totals]) text.push(row.filter(Boolean).join("  "));
      text.push("");
      const cells = (row: string[]) => row.map((c) => `<td>${escapeHtml(c)}</td>`).join("");
      html.push(
        `<table>${block.rows.map((r) => `<tr>${cells(r)}</tr>`).join("")}${block.totals
          .map((r) => `<tr class="total">${cells(r)}</tr>`)
          .join("")}</table>`,
      );
    }
  }
  text.push("— Bazaar");
  return { subject, text: `${text.join("\n")}\n`, html: `<!doctype html><html><body>${html.join("")}</body></html>` };
}

/** One row per line: name, "quantity × unit price", line total. */
function lineRow(item: MailLine | string, locale: string): string[] {
  if (typeof item === "string") return [item, "", ""];
  const unit = formatMoney(item.unitPrice, locale);
  const quantity = item.quantity === undefined ? "" : `${item.quantity} ×`;
  return [item.name, [quantity, unit].filter(Boolean).join(" "), formatMoney(item.lineTotal ?? item.unitPrice, locale)];
}

function orderTable(d: MailData, locale: string): Block[] {
  const rows = (d.items ?? []).map((item) => lineRow(item, locale));
  const totals: string[][] = [];
  for (const [label, value] of [
    ["Subtotal", d.subtotal],
    ["Shipping", d.shipping],
    ["Tax", d.tax],
    ["Tax and shipping", d.taxAndShipping],
    ["Total", d.total],
  ] as const) {
    if (value !== undefined && value !== "") totals.push([label, "", formatMoney(value, locale)]);
  }
  return rows.length + totals.length > 0 ? [{ kind: "table", rows, totals }] : [];
}

/**
 * How mails and the inbox name an order or shop order: "#" and the id's last 8 characters, as
 * the storefront shows it. Not the first 8: uuidv7 ids begin with their time, so orders placed
 * in the same minute share them.
 */
export function orderReference(id: string | undefined): string {
  return id ? `#${id.slice(-8)}` : "";
}

export function renderMail(template: MailTemplate, data: object): RenderedMail {
  const d = data as MailData;
  const locale = d.locale || "en-US";
  const greeting = `Hello ${d.displayName || "there"},`;
  const orderLink: Block[] = d.link ? [{ kind: "link", label: "View your order", href: d.link }] : [];
  switch (template) {
    case "order-confirmation":
      return compose(`Your Bazaar order ${orderReference(d.orderId)} is confirmed`, greeting, [
        { kind: "p", text: `Thank you for your order ${d.orderId ?? ""}. We will tell you when it ships.` },
        ...orderTable(d, locale),
        ...orderLink,
      ]);
    case "order-shipped": {
      const tracking = [d.carrier, d.trackingNumber].filter(Boolean).join(" ");
      return compose(`Your Bazaar order ${orderReference(d.orderId)} has shipped`, greeting, [
        { kind: "p", text: `Part of your order ${d.orderId ?? ""} is on its way.` },
        ...(tracking ? [{ kind: "p" as const, text: `Tracking number: ${tracking}` }] : []),
        ...(d.trackingUrl ? [{ kind: "link" as const, label: "Track your parcel", href: d.trackingUrl }] : []),
        ...orderLink,
      ]);
    }
    case "payment-failed":
      return compose(`Payment for your Bazaar order ${orderReference(d.orderId)} failed`, greeting, [
        { kind: "p", text: `We could not take the payment for your order ${d.orderId ?? ""}.` },
        ...(d.reason ? [{ kind: "p" as const, text: `Reason: ${d.reason}` }] : []),
        ...orderTable(d, locale),
        ...orderLink,
      ]);
    case "password-reset":
      return compose("Reset your Bazaar password", greeting, [
        {
          kind: "p",
          text: "Someone asked to reset the password of your Bazaar account. If it was you, use this link:",
        },
        { kind: "link", label: "Choose a new password", href: d.link ?? "" },
        { kind: "p", text: `The link works once and expires ${formatTime(d.expireTime, locale) || "soon"}.` },
        { kind: "p", text: "If you did not ask for this, ignore this mail: your password stays as it is." },
      ]);
    case "email-verification":
      return compose("Confirm your e-mail address for Bazaar", greeting, [
        { kind: "p", text: "Please confirm that this is your e-mail address:" },
        { kind: "link", label: "Confirm my e-mail address", href: d.link ?? "" },
        { kind: "p", text: `The link expires ${formatTime(d.expireTime, locale) || "soon"}.` },
      ]);
    case "refund-issued": {
      const refunded = formatMoney(d.refunded, locale);
      const total = formatMoney(d.totalRefunded, locale);
      return compose(`Refund of ${refunded} for your Bazaar order ${orderReference(d.orderId)}`, greeting, [
        { kind: "p", text: `We refunded ${refunded} of your order ${d.orderId ?? ""} to the card you paid with.` },
        ...(total && total !== refunded
          ? [{ kind: "p" as const, text: `Refunded for this order so far: ${total}.` }]
          : []),
        { kind: "p", text: "Your bank may take a few days to show it." },
        ...orderLink,
      ]);
    }
    case "seller-new-order":
      return compose(`New order ${orderReference(d.shopOrderId)} for your shop`, greeting, [
        { kind: "p", text: `Your shop received the order ${d.shopOrderId ?? ""}.` },
        ...orderTable(d, locale),
        ...(d.link ? [{ kind: "link" as const, label: "Open the order", href: d.link }] : []),
      ]);
    case "admin-alert":
      // Title and body as the inbox shows them: the consumer, the event, the error.
      return compose(`Bazaar alert: ${d.title ?? "something needs a look"}`, greeting, [
        { kind: "p", text: d.body ?? "" },
        { kind: "p", text: "Redrive the dead letter once its cause is fixed." },
        ...(d.link ? [{ kind: "link" as const, label: "Open the dead letters", href: d.link }] : []),
      ]);
    default:
      throw new Error(`no mail template ${String(template)}`);
  }
}
