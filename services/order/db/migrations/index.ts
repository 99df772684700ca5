// Every migration of the order database, in order. Add new ones at the end.
import type { Migration } from "kysely/migration";
import * as createEventTables from "../../../kit/migrations/2026_11_23_000000_create_event_tables.ts";
import * as createDeadLetters from "../../../kit/migrations/2026_11_24_000000_create_dead_letters.ts";
import * as createJobLeases from "../../../kit/migrations/2026_11_25_000000_create_job_leases.ts";
import * as createOrders from "./2026_11_23_100000_create_orders.ts";
import * as addSettlingAndFeed from "./2026_11_23_120000_add_settling_and_feed.ts";
import * as createShopOrders from "./2026_12_04_100000_create_shop_orders.ts";
import * as addShopOrderFeed from "./2026_12_04_110000_add_shop_order_feed.ts";
import * as addShopFeed from "./2026_12_04_120000_add_shop_feed.ts";
import * as addShopOrderRangeIndex from "./2026_12_04_131700_add_shop_order_range_index.ts";
import * as addShopOrderCancelRefunds from "./2026_12_04_131800_add_shop_order_cancel_refunds.ts";
import * as addPaymentServiceFields from "./2026_12_04_150000_add_payment_service_fields.ts";
import * as addLineImage from "./2026_12_04_220000_add_line_image.ts";
import * as addStockTaken from "./2026_12_05_120000_add_stock_taken.ts";

export const migrations: Record<string, Migration> = {
  "2026_11_23_000000_create_event_tables": createEventTables,
  "2026_11_23_100000_create_orders": createOrders,
  "2026_11_23_120000_add_settling_and_feed": addSettlingAndFeed,
  "2026_11_24_000000_create_dead_letters": createDeadLetters,
  "2026_11_25_000000_create_job_leases": createJobLeases,
  "2026_12_04_100000_create_shop_orders": createShopOrders,
  "2026_12_04_110000_add_shop_order_feed": addShopOrderFeed,
  "2026_12_04_120000_add_shop_feed": addShopFeed,
  "2026_12_04_131700_add_shop_order_range_index": addShopOrderRangeIndex,
  "2026_12_04_131800_add_shop_order_cancel_refunds": addShopOrderCancelRefunds,
  "2026_12_04_150000_add_payment_service_fields": addPaymentServiceFields,
  "2026_12_04_220000_add_line_image": addLineImage,
  "2026_12_05_120000_add_stock_taken": addStockTaken,
};
