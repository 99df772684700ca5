// The order service's database, typed once.
import type { ColumnType, Generated, Selectable } from "kysely";
import type { EventTables } from "../../kit/events.ts";
import type { OrderStatus, PaymentMethod, PaymentStatus, ShopOrderStatus, StockTaken } from "../domain/order.ts";

// BIGINT money arrives as an exact string and is written from a bigint.
type Minor = ColumnType<string, bigint, bigint>;

export interface OrdersTable {
  id: string;
  user_id: string;
  status: OrderStatus;
  currency_code: string;
  subtotal_minor: Minor;
  tax_minor: Minor;
  shipping_minor: Minor;
  total_minor: Minor;
  // JSON: MariaDB hands it back as text, MySQL 8 parsed.
  shipping_address: ColumnType<unknown, string, string>;
  payment_method: PaymentMethod;
  payment_status: PaymentStatus;
  payment_reference: Generated<string>;
  payment_failure_reason: Generated<string>;
  payment_id: Generated<string>;
  payment_redirect_url: Generated<string>;
  payment_client_secret: Generated<string>;
  idempotency_key: string;
  request_fingerprint: string;
  create_time: Generated<Date>;
  update_time: Generated<Date>;
  settle_after: Date | null;
  /** How checkout took the stock (see Order.stockTaken); HELD for orders placed before it. */
  stock_taken: Generated<StockTaken>;
}

export interface OrderLinesTable {
  order_id: string;
  product_id: string;
  shop_id: string;
  name: string;
  unit_price_minor: Minor;
  quantity: number;
  line_total_minor: Minor;
  /** The product's main image at checkout, bazaar.common.v1.Image as proto JSON; "" if none. */
  image: Generated<string>;
}

export interface OrderStatusHistoryTable {
  id: Generated<string>;
  order_id: string;
  user_id: string;
  user_seq: ColumnType<string, number, number>;
  status: OrderStatus;
  note: Generated<string>;
  time: Generated<Date>;
}

export interface OrderFeedTable {
  user_id: string;
  last_seq: ColumnType<string, number, number>;
}

export interface ShopOrdersTable {
  id: string;
  order_id: string;
  shop_id: string;
  seller_id: string;
  subtotal_minor: Minor;
  status: ShopOrderStatus;
  carrier: Generated<string>;
  tracking_number: Generated<string>;
  tracking_url: Generated<string>;
  create_time: Generated<Date>;
  update_time: Generated<Date>;
  /** Set while a cancelled shop order's stock or refund is still to be given back. */
  settle_after: Generated<Date | null>;
}

/** Every refund of an order, exact in minor units; one per refund key. */
export interface OrderRefundsTable {
  id: Generated<string>;
  order_id: string;
  /** The payment provider's idempotency key: the shop order's id, or the order's. */
  refund_key: string;
  shop_order_id: string | null;
  amount_minor: Minor;
  create_time: Generated<Date>;
}

export interface ShopOrderStatusHistoryTable {
  id: Generated<string>;
  shop_order_id: string;
  status: ShopOrderStatus;
  note: Generated<string>;
  time: Generated<Date>;
  /** The buyer and the position in their feed, when this entry is a change WatchOrders shows. */
  user_id: string | null;
  user_seq: ColumnType<string | null, number | null | undefined, number | null>;
  /** The shop and the position in its feed (WatchShopOrders): every entry has one. */
  shop_id: string;
  shop_seq: ColumnType<string, number, number>;
}

export interface ShopFeedTable {
  shop_id: string;
  last_seq: ColumnType<string, number, number>;
}

export interface OrderDatabase extends EventTables {
  order_feed: OrderFeedTable;
  shop_feed: ShopFeedTable;
  orders: OrdersTable;
  order_lines: OrderLinesTable;
  order_status_history: OrderStatusHistoryTable;
  shop_orders: ShopOrdersTable;
  shop_order_status_history: ShopOrderStatusHistoryTable;
  order_refunds: OrderRefundsTable;
}

export type OrderRow = Selectable<OrdersTable>;
export type OrderLineRow = Selectable<OrderLinesTable>;
export type ShopOrderRow = Selectable<ShopOrdersTable>;
export type OrderStatusHistoryRow = Selectable<OrderStatusHistoryTable>;
