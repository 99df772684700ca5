// The admin service's database, typed once.
import type { ColumnType, Generated } from "kysely";
import type { EventTables } from "../../kit/events.ts";

// BIGINT arrives as an exact string and is written from a bigint.
type Minor = ColumnType<string, bigint, bigint>;

export interface AuditEventsTable {
  id: string;
  event_type: string;
  source: string;
  actor_id: string;
  subject_id: string;
  occur_time: Date;
  summary: string;
  payload_json: string;
}

export interface SalesOrdersTable {
  order_id: string;
  user_id: string;
  placed_time: Date;
  status: string;
  status_time: Date;
  total_minor: Minor;
  currency_code: string;
}

export interface SalesLinesTable {
  order_id: string;
  product_id: string;
  name: string;
  quantity: number;
  revenue_minor: Minor;
}

export interface SalesNewUsersTable {
  user_id: string;
  register_time: Date;
}

export interface ErasedUsersTable {
  user_id: string;
  request_time: Generated<Date>;
  complete_time: Date | null;
}

export interface ShopSalesOrdersTable {
  shop_order_id: string;
  order_id: string;
  shop_id: string;
  seller_id: string;
  placed_time: Date;
  subtotal_minor: Minor;
  units: number;
  status_rank: number;
}

export interface ShopSalesLinesTable {
  shop_order_id: string;
  product_id: string;
  name: string;
  quantity: number;
  revenue_minor: Minor;
}

export interface ShopSalesOrderMovesTable {
  order_id: string;
  status_rank: number;
}

export interface AuditedRefundsTable {
  refund_id: string;
  payment_id: string;
  audit_time: Generated<Date>;
}

export interface AdminDatabase extends EventTables {
  audited_refunds: AuditedRefundsTable;
  erased_users: ErasedUsersTable;
  audit_events: AuditEventsTable;
  sales_orders: SalesOrdersTable;
  sales_lines: SalesLinesTable;
  sales_new_users: SalesNewUsersTable;
  shop_sales_orders: ShopSalesOrdersTable;
  shop_sales_lines: ShopSalesLinesTable;
  shop_sales_order_moves: ShopSalesOrderMovesTable;
}
