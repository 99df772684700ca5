// Orders as the order service's domain sees them: types, totals and the status machine.
import type { PostalAddress } from "../../kit/postal-address.ts";

export type OrderStatus =
  | "PENDING"
  | "CONFIRMED"
  | "PROCESSING"
  | "SHIPPED"
  | "DELIVERED"
  | "CANCELLED"
  | "PAYMENT_FAILED";
export type PaymentMethod = "CASH_ON_DELIVERY" | "CARD";
/**
 * Where an order's payment stands. A card payment goes PENDING → (REQUIRES_ACTION or
 * PROCESSING while the buyer or the provider decides) → AUTHORIZED → CAPTURED when the order is
 * confirmed, or DECLINED/FAILED; after a cancellation a capture ends REFUNDED and an
 * authorization VOIDED.
 */
export type PaymentStatus =
  | "PENDING"
  | "REQUIRES_ACTION"
  | "PROCESSING"
  | "AUTHORIZED"
  | "CAPTURED"
  | "DECLINED"
  | "FAILED"
  | "DUE_ON_DELIVERY"
  | "REFUNDED"
  | "VOIDED";

/** Payment statuses of an order whose card payment was taken. */
export const paidStatuses: readonly PaymentStatus[] = ["CAPTURED", "REFUNDED"];

export interface OrderLine {
  productId: string;
  shopId: string;
  name: string;
  unitPriceMinor: bigint;
  quantity: number;
  lineTotalMinor: bigint;
  /** The product's main image at checkout, as the contracts' JSON; empty when it had none. */
  imageJson: string;
}

/** Where one shop's part of an order is; PENDING only while its order is. */
export type ShopOrderStatus = "PENDING" | "CONFIRMED" | "PROCESSING" | "SHIPPED" | "DELIVERED" | "CANCELLED";

/** The part of an order one shop fulfils. */
export interface ShopOrder {
  id: string;
  orderId: string;
  shopId: string;
  /** The shop's owner at checkout; empty for orders placed before shop orders existed. */
  sellerId: string;
  /** Its order's currency. */
  currencyCode: string;
  lines: OrderLine[];
  subtotalMinor: bigint;
  status: ShopOrderStatus;
  carrier: string;
  trackingNumber: string;
  trackingUrl: string;
  history: Array<{ status: ShopOrderStatus; time: Date; note: string }>;
  /** What its cancellation by the seller refunded (0 otherwise). */
  refundedMinor: bigint;
  /** Where it goes; read for the shop's view only (an order carries its address once). */
  shippingAddress?: PostalAddress;
  createTime: Date;
  updateTime: Date;
}

/** A shop order as checkout creates it. */
export interface NewShopOrder {
  id: string;
  shopId: string;
  sellerId: string;
  subtotalMinor: bigint;
}

/**
 * One shop order per shop of the lines, in shop id order. Each subtotal is the exact sum of its
 * lines, so the shop orders' subtotals add up to the order's subtotal.
 */
export function splitByShop(
  lines: ReadonlyArray<Pick<OrderLine, "shopId" | "lineTotalMinor">>,
  sellerOf: (shopId: string) => string,
  newId: () => string,
): NewShopOrder[] {
  const subtotals = new Map<string, bigint>();
  for (const line of lines) subtotals.set(line.shopId, (subtotals.get(line.shopId) ?? 0n) + line.lineTotalMinor);
  return [...subtotals.keys()]
    .sort()
    .map((shopId) => ({ id: newId(), shopId, sellerId: sellerOf(shopId), subtotalMinor: subtotals.get(shopId)! }));
}

/**
 * The rule for now: the order's status drives its shop orders. A failed payment cancels them;
 * every other status is mirrored. (With fulfilment per shop the rule turns around.)
 */
export function shopOrderStatusFor(status: OrderStatus): ShopOrderStatus {
  return status === "PAYMENT_FAILED" ? "CANCELLED" : status;
}

/** Shop order statuses in fulfilment order; CANCELLED stands apart. */
const shopOrderProgress: readonly ShopOrderStatus[] = ["PENDING", "CONFIRMED", "PROCESSING", "SHIPPED", "DELIVERED"];

/**
 * Whether a shop order in `current` follows its order into `to`: a shop order never moves
 * backwards (one already delivered stays delivered when an admin ships the whole order), and a
 * cancelled one stays cancelled.
 */
export function followsOrderInto(current: ShopOrderStatus, to: ShopOrderStatus): boolean {
  if (current === "CANCELLED") return false;
  if (to === "CANCELLED") return true;
  return shopOrderProgress.indexOf(current) < shopOrderProgress.indexOf(to);
}

/** The one move a shop's fulfilment may make into each status. */
export const shopOrderStepInto: Readonly<Partial<Record<ShopOrderStatus, ShopOrderStatus>>> = {
  PROCESSING: "CONFIRMED",
  SHIPPED: "PROCESSING",
  DELIVERED: "SHIPPED",
};

/**
 * The order's status once fulfilment has started, from its shop orders with cancelled ones left
 * aside: DELIVERED when all are delivered, SHIPPED when all are shipped or delivered, PROCESSING
 * when any is accepted or further, CONFIRMED otherwise; CANCELLED when none is left. A seller's
 * cancellation goes through this rule too: the last live shop order cancelled cancels the
 * order, and cancelling the only accepted one takes a PROCESSING order back to CONFIRMED.
 */
export function orderStatusFromShopOrders(statuses: readonly ShopOrderStatus[]): OrderStatus {
  const live = statuses.filter((status) => status !== "CANCELLED");
  if (live.length === 0) return "CANCELLED";
  if (live.includes("PENDING")) return "PENDING";
  if (live.every((status) => status === "DELIVERED")) return "DELIVERED";
  if (live.every((status) => status === "SHIPPED" || status === "DELIVERED")) return "SHIPPED";
  if (live.some((status) => status !== "CONFIRMED")) return "PROCESSING";
  return "CONFIRMED";
}

/** Where a shipped shop order went. */
export interface Shipment {
  carrier: string;
  trackingNumber: string;
  trackingUrl: string;
}

export class IllegalShopOrderTransitionError extends Error {
  override name = "IllegalShopOrderTransitionError";
  readonly shopOrderId: string;
  readonly orderId: string;
  readonly from: ShopOrderStatus;
  readonly to: ShopOrderStatus;
  constructor(shopOrderId: string, orderId: string, from: ShopOrderStatus, to: ShopOrderStatus) {
    super(`a shop order cannot move from ${from} to ${to}`);
    this.shopOrderId = shopOrderId;
    this.orderId = orderId;
    this.from = from;
    this.to = to;
  }
}

export class ShopOrderNotFoundError extends Error {
  override name = "ShopOrderNotFoundError";
}

export interface StatusChange {
  status: OrderStatus;
  time: Date;
  note: string;
  /** Position in the buyer's feed of status changes (WatchOrders). */
  seq: number;
}

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  currencyCode: string;
  lines: OrderLine[];
  subtotalMinor: bigint;
  taxMinor: bigint;
  shippingMinor: bigint;
  totalMinor: bigint;
  shippingAddress: PostalAddress;
  payment: {
    method: PaymentMethod;
    status: PaymentStatus;
    /** The provider's id of the card payment. */
    reference: string;
    failureReason: string;
    /** The payment service's id of the card payment; empty for cash on delivery. */
    paymentId: string;
    /** What the buyer must do while REQUIRES_ACTION. */
    nextAction?: { redirectUrl: string; clientSecret: string };
  };
  history: StatusChange[];
  /** One per shop, in shop id order. */
  shopOrders: ShopOrder[];
  /** Every refund of the order so far. */
  refundedMinor: bigint;
  /**
   * How checkout took the stock. SOLD: sold when reserved, in the same call (nothing left to
   * commit once paid; a failed or cancelled order gives the units back). HELD: held, committed
   * once the card was paid — orders placed before checkout sold at once.
   */
  stockTaken: StockTaken;
  createTime: Date;
  updateTime: Date;
}

export type StockTaken = "HELD" | "SOLD";

/** What an order's events tell of it: who bought what, for how much. */
export type OrderFacts = Pick<Order, "id" | "userId" | "lines" | "totalMinor" | "stockTaken">;

export interface PricingPolicy {
  /** Tax rate in basis points: 500 is 5 %. */
  taxRateBasisPoints: number;
  /** Flat shipping cost in minor units. */
  shippingMinor: bigint;
}

/** Totals in minor units; tax is rounded half up to the minor unit. */
export function totalsOf(lines: Array<{ unitPriceMinor: bigint; quantity: number }>, policy: PricingPolicy) {
  const subtotalMinor = lines.reduce((sum, line) => sum + line.unitPriceMinor * BigInt(line.quantity), 0n);
  const taxMinor = (subtotalMinor * BigInt(policy.taxRateBasisPoints) + 5_000n) / 10_000n;
  const shippingMinor = lines.length > 0 ? policy.shippingMinor : 0n;
  return { subtotalMinor, taxMinor, shippingMinor, totalMinor: subtotalMinor + taxMinor + shippingMinor };
}

/** Statuses an order may be cancelled from; cancelling returns its stock and refunds it. */
export const cancellableStatuses: readonly OrderStatus[] = ["PENDING", "CONFIRMED", "PROCESSING"];

/** Fulfilment moves an admin may make. Only checkout settles a PENDING order. */
const fulfilmentSteps: Partial<Record<OrderStatus, readonly OrderStatus[]>> = {
  CONFIRMED: ["PROCESSING", "SHIPPED"],
  PROCESSING: ["SHIPPED"],
  SHIPPED: ["DELIVERED"],
};

export function isFulfilmentStep(from: OrderStatus, to: OrderStatus): boolean {
  return fulfilmentSteps[from]?.includes(to) ?? false;
}

export class IllegalTransitionError extends Error {
  override name = "IllegalTransitionError";
  readonly orderId: string;
  readonly from: OrderStatus;
  readonly to: OrderStatus;
  constructor(orderId: string, from: OrderStatus, to: OrderStatus) {
    super(`an order cannot move from ${from} to ${to}`);
    this.orderId = orderId;
    this.from = from;
    this.to = to;
  }
}

export class EmptyCartError extends Error {
  override name = "EmptyCartError";
  constructor() {
    super("the cart is empty");
  }
}

export class UnavailableProductsError extends Error {
  override name = "UnavailableProductsError";
  readonly productIds: readonly string[];
  constructor(productIds: readonly string[]) {
    super(`no longer for sale: ${productIds.join(", ")}`);
    this.productIds = productIds;
  }
}

export class IdempotencyKeyReusedError extends Error {
  override name = "IdempotencyKeyReusedError";
  readonly idempotencyKey: string;
  /** The order the key made first. */
  readonly orderId: string;
  constructor(idempotencyKey: string, orderId: string) {
    super("idempotency_key was already used for a checkout with another address or payment");
    this.idempotencyKey = idempotencyKey;
    this.orderId = orderId;
  }
}

export class OrderNotFoundError extends Error {
  override name = "OrderNotFoundError";
}
