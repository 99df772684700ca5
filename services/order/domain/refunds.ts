// What cancelling part of an order gives back, exact in minor units. Pure rules: the caller
// reads the facts under the order's lock and records the outcome in the same transaction.

/**
 * Splits `amount` over `weights` exactly: each share is amount × weight / Σ weights rounded
 * down, and the few minor units left over (fewer than there are weights) go one each to the
 * shares with the largest remainders, ties to the earlier one. The shares always add up to
 * `amount`; with no weight at all everything goes to the first.
 */
export function apportion(amount: bigint, weights: readonly bigint[]): bigint[] {
  if (weights.length === 0) return [];
  const total = weights.reduce((sum, weight) => sum + weight, 0n);
  if (total === 0n) return weights.map((_, index) => (index === 0 ? amount : 0n));
  const shares = weights.map((weight) => (amount * weight) / total);
  let left = amount - shares.reduce((sum, share) => sum + share, 0n);
  const byRemainder = weights
    .map((weight, index) => ({ index, remainder: (amount * weight) % total }))
    .sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const { index } of byRemainder) {
    if (left === 0n) break;
    shares[index]! += 1n;
    left -= 1n;
  }
  return shares;
}

export interface RefundFacts {
  /** What the buyer paid: the order total for an authorized card payment, 0 otherwise. */
  paidMinor: bigint;
  /** What earlier refunds of the order already gave back. */
  refundedMinor: bigint;
  taxMinor: bigint;
  /** Every shop order of the order, in shop id order (the order tax is split over). */
  shopOrders: ReadonlyArray<{ id: string; subtotalMinor: bigint }>;
}

/**
 * The refund for cancelling one shop order: its subtotal plus its share of the order's tax
 * (apportion over all shop orders' subtotals, so the shares do not depend on which shop cancels
 * first). When it is the order's last shop order still live, the refund is everything paid and
 * not yet refunded — its subtotal and tax share plus the shipping cost, which no shop order
 * uses any more — so the refunds of an order whose shop orders are all cancelled add up to its
 * total exactly. Never more than what is left of the payment; 0 when nothing was paid (cash on
 * delivery).
 */
export function shopOrderRefund(facts: RefundFacts, shopOrderId: string, lastLive: boolean): bigint {
  const left = facts.paidMinor - facts.refundedMinor;
  if (left <= 0n) return 0n;
  if (lastLive) return left;
  const index = facts.shopOrders.findIndex((shopOrder) => shopOrder.id === shopOrderId);
  const taxShares = apportion(
    facts.taxMinor,
    facts.shopOrders.map((shopOrder) => shopOrder.subtotalMinor),
  );
  const due = facts.shopOrders[index]!.subtotalMinor + taxShares[index]!;
  // (Math.min takes no bigints.)
  if (due > left) return left;
  return due;
}
