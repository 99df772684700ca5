// What the order domain needs from outside: the buyer's cart and the catalog (read with the
// buyer's token), stock holds (under the service's own identity), payments, and the
// dependencies every order operation shares.
import type { Kysely } from "kysely";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { OrderDatabase } from "../db/database.ts";
import type { PricingPolicy } from "./order.ts";
import type { PaymentsPort } from "./payments.ts";

/** The buyer's cart and the catalog's current prices, read on the buyer's behalf. */
export interface ShopperPorts {
  cartLines(): Promise<Array<{ productId: string; quantity: number }>>;
  products(ids: string[]): Promise<
    Array<{
      productId: string;
      shopId: string;
      sellerId: string;
      name: string;
      unitPriceMinor: bigint;
      forSale: boolean;
      /** Its main image, as the contracts' JSON; empty when it has none. */
      imageJson: string;
    }>
  >;
}

/** Stock holds keyed by order id. Every step is idempotent, so an unknown outcome is repeated. */
export interface StockPort {
  /**
   * Holds the items for the order; with `sellNow` (what checkout asks) sells them at once, so no
   * commit follows. A repeat with `sellNow` commits an earlier hold.
   */
  reserve(
    orderId: string,
    items: Array<{ productId: string; quantity: number }>,
    options?: { sellNow?: boolean },
  ): Promise<void>;
  /** Sells what a hold holds: for orders placed when checkout only held (Order.stockTaken). */
  commit(orderId: string): Promise<void>;
  /**
   * Gives back whatever the order took and has not given back yet: held units released, sold
   * units back on hand.
   */
  giveBack(orderId: string): Promise<void>;
  /**
   * Gives back part of what the order took (a cancelled shop order's lines), idempotent per
   * returnId (the shop order's id); never more of a product than the order took.
   */
  giveBackItems(
    orderId: string,
    returnId: string,
    items: Array<{ productId: string; quantity: number }>,
  ): Promise<void>;
}

export interface OrderDeps {
  db: Kysely<OrderDatabase>;
  outbox: OutboxNotifier;
  payments: PaymentsPort;
  stock: StockPort;
  pricing: PricingPolicy;
  currencyCode: string;
  /** How long checkout has to settle an order before the recovery loop takes over. */
  recoverAfterMs: number;
  /** How long an order awaits its buyer's or provider's decision on a card payment. */
  paymentWaitMs: number;
  /** Card payments are taken as they are authorized (automatic capture); else captured after. */
  captureAtOnce: boolean;
}
