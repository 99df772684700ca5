// One shop's sales report, from the shop sales projection: every UTC day of the range (zero days
// included), the top 10 products, shop orders by status and the cancellation rate. Revenue is
// shop order subtotals, tax and shipping excluded.
import type { Kysely } from "kysely";
import type { AdminDatabase } from "../db/database.ts";
import { shopDailySales, shopOrdersByStatus, shopTopProducts } from "../db/shop-sales.repository.ts";
import { longestReportDays } from "./sales-report.ts";
import type { ShopOrderStatusName } from "./shop-sales.ts";

/** The range when the request leaves it open: the last 30 days, today included. */
export const defaultReportDays = 30;

export class ShopReportRangeError extends Error {
  override name = "ShopReportRangeError";
}

export interface ShopReportRange {
  fromDate: string;
  toDate: string;
  /** Start of the first day. */
  from: Date;
  /** Start of the day after the last: the range is [from, to). */
  to: Date;
  days: string[];
}

const dayMs = 86_400_000;
const dayOf = (time: Date) => time.toISOString().slice(0, 10);

/** "YYYY-MM-DD" as the start of that UTC day, or undefined when it is no calendar day. */
function startOfDay(day: string): Date | undefined {
  const [year, month, date] = day.split("-").map(Number);
  const start = new Date(Date.UTC(year!, month! - 1, date!));
  return Number.isNaN(start.getTime()) || dayOf(start) !== day ? undefined : start;
}

/**
 * The days a report covers: from_date to to_date, both included, UTC; to_date defaults to the
 * day of `now`, from_date to 29 days before to_date. Errors name the field at fault.
 */
export function shopReportRange(fromDate: string, toDate: string, now: Date): ShopReportRange {
  const last = toDate ? startOfDay(toDate) : startOfDay(dayOf(now));
  if (!last) throw new ShopReportRangeError(`to_date: ${toDate} is not a day`);
  const first = fromDate ? startOfDay(fromDate) : new Date(last.getTime() - (defaultReportDays - 1) * dayMs);
  if (!first) throw new ShopReportRangeError(`from_date: ${fromDate} is not a day`);
  if (first > last) throw new ShopReportRangeError("to_date: must not be before from_date");
  const count = Math.round((last.getTime() - first.getTime()) / dayMs) + 1;
  if (count > longestReportDays)
    throw new ShopReportRangeError(`to_date: a report covers at most ${longestReportDays} days`);
  return {
    fromDate: dayOf(first),
    toDate: dayOf(last),
    from: first,
    to: new Date(last.getTime() + dayMs),
    days: Array.from({ length: count }, (_, i) => dayOf(new Date(first.getTime() + i * dayMs))),
  };
}

/** What the projection answers for a shop and range. */
export interface ShopSalesFigures {
  /** Days with sales only, any order. */
  daily: Array<{ day: string; revenueMinor: bigint; units: bigint; orders: number }>;
  byStatus: Array<{ status: ShopOrderStatusName; shopOrders: number }>;
  top: Array<{ productId: string; name: string; quantity: bigint; revenueMinor: bigint }>;
}

export interface ShopSalesReport {
  range: ShopReportRange;
  days: Array<{ day: string; revenueMinor: bigint; units: bigint; orders: number }>;
  topProducts: ShopSalesFigures["top"];
  byStatus: ShopSalesFigures["byStatus"];
  totalRevenueMinor: bigint;
  totalUnits: bigint;
  totalOrders: number;
  placedShopOrders: number;
  cancelledShopOrders: number;
  /** cancelled / placed; 0 when nothing was placed. */
  cancellationRate: number;
}

/** The report from the projection's figures: every day of the range, totals and the rate. */
export function shopSalesReportOf(range: ShopReportRange, figures: ShopSalesFigures): ShopSalesReport {
  const salesOn = new Map(figures.daily.map((d) => [d.day, d]));
  const days = range.days.map((day) => salesOn.get(day) ?? { day, revenueMinor: 0n, units: 0n, orders: 0 });
  const placed = figures.byStatus.reduce((sum, s) => sum + s.shopOrders, 0);
  const cancelled = figures.byStatus.find((s) => s.status === "CANCELLED")?.shopOrders ?? 0;
  return {
    range,
    days,
    topProducts: figures.top,
    byStatus: [...figures.byStatus].sort((a, b) => (a.status < b.status ? -1 : a.status > b.status ? 1 : 0)),
    totalRevenueMinor: days.reduce((sum, d) => sum + d.revenueMinor, 0n),
    totalUnits: days.reduce((sum, d) => sum + d.units, 0n),
    totalOrders: days.reduce((sum, d) => sum + d.orders, 0),
    placedShopOrders: placed,
    cancelledShopOrders: cancelled,
    cancellationRate: placed === 0 ? 0 : cancelled / placed,
  };
}

export async function shopSalesReport(
  db: Kysely<AdminDatabase>,
  shopId: string,
  range: ShopReportRange,
): Promise<ShopSalesReport> {
  const [daily, byStatus, top] = await Promise.all([
    shopDailySales(db, shopId, range.from, range.to),
    shopOrdersByStatus(db, shopId, range.from, range.to),
    shopTopProducts(db, shopId, range.from, range.to, 10),
  ]);
  return shopSalesReportOf(range, { daily, byStatus, top });
}
