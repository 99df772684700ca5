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
export type PaymentStatus = "PENDING" | "AUTHORIZED" | "DECLINED" | "FAILED" | "DUE_ON_DELIVERY" | "REFUNDED";

export interface OrderLine {
  productId: string;
  shopId: string;
  name: string;
  unitPriceMinor: bigint;
  quantity: number;
  lineTotalMinor: bigint;
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
  payment: { method: PaymentMethod; status: PaymentStatus; reference: string; failureReason: string };
  history: StatusChange[];
  createTime: Date;
  updateTime: Date;
}

/** What an order's events tell of it: who bought what, for how much. */
export type OrderFacts = Pick<Order, "id" | "userId" | "lines" | "totalMinor">;

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
