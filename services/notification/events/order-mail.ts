// What the order mails show, from what OrderPlaced carries: money stays structured (minor units
// and currency) so the template formats it in the buyer's currency format, never pre-formatted.
import type { Money } from "../../../gen/bazaar/common/v1/common_pb.ts";
import type { OrderItem } from "../../../gen/bazaar/order/v1/order_pb.ts";
import type { MailLine, MailMoney } from "../email/templates.ts";

/** Money as the mail data holds it: bigint minor units become a string, as JSON has no bigint. */
export function mailMoney(m: Money | undefined): MailMoney | undefined {
  return m ? { currencyCode: m.currencyCode, amountMinor: m.amountMinor.toString() } : undefined;
}

export function mailLine(item: OrderItem): MailLine {
  return {
    name: item.name,
    quantity: item.quantity,
    unitPrice: mailMoney(item.unitPrice),
    lineTotal: mailMoney(item.lineTotal),
  };
}

/**
 * The order's lines and totals. OrderPlaced names the total but not its tax and shipping: the
 * subtotal is the sum of the lines, and the rest of the total is shown as one "tax and shipping"
 * row (left out when there is none, or when the lines are in another currency than the total).
 */
export function orderSummary(items: readonly OrderItem[], total: Money | undefined) {
  const lines = items.map(mailLine);
  if (!total) return { items: lines };
  const sameCurrency = items.every((i) => i.lineTotal?.currencyCode === total.currencyCode);
  if (items.length === 0 || !sameCurrency) return { items: lines, total: mailMoney(total) };
  const subtotal = items.reduce((sum, i) => sum + (i.lineTotal?.amountMinor ?? 0n), 0n);
  const rest = total.amountMinor - subtotal;
  return {
    items: lines,
    subtotal: { currencyCode: total.currencyCode, amountMinor: subtotal.toString() },
    ...(rest > 0n ? { taxAndShipping: { currencyCode: total.currencyCode, amountMinor: rest.toString() } } : {}),
    total: mailMoney(total),
  };
}
