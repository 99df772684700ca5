// The sales report, from the admin service's own projections: revenue per UTC day (zero days
// included), orders by current status, the 10 products with most revenue, sign-ups per day.
import type { Kysely } from "kysely";
import type { AdminDatabase } from "../db/database.ts";
import { newUsersByDay, ordersByStatus, revenueByDay, topProducts } from "../db/projections.repository.ts";

/** Orders that count as sales: confirmed and everything after, short of cancellation. */
export const revenueStatuses = ["CONFIRMED", "PROCESSING", "SHIPPED", "DELIVERED"] as const;

/** The longest range one report covers. */
export const longestReportDays = 366;

export class ReportRangeError extends Error {
  override name = "ReportRangeError";
}

export interface SalesReport {
  revenueByDay: Array<{ day: string; revenueMinor: bigint; orders: number }>;
  ordersByStatus: Array<{ status: string; orders: number }>;
  topProducts: Array<{ productId: string; name: string; quantity: bigint; revenueMinor: bigint }>;
  newUsersByDay: Array<{ day: string; users: number }>;
  totalRevenueMinor: bigint;
}

export async function salesReport(db: Kysely<AdminDatabase>, from: Date, to: Date): Promise<SalesReport> {
  const days = utcDaysBetween(from, to);
  if (days.length > longestReportDays)
    throw new ReportRangeError(`to_time: a report covers at most ${longestReportDays} days`);
  const [revenue, statuses, top, users] = await Promise.all([
    revenueByDay(db, from, to, revenueStatuses),
    ordersByStatus(db, from, to),
    topProducts(db, from, to, revenueStatuses, 10),
    newUsersByDay(db, from, to),
  ]);
  const revenueOn = new Map(revenue.map((r) => [r.day, r]));
  const usersOn = new Map(users.map((u) => [u.day, u.users]));
  return {
    revenueByDay: days.map((day) => revenueOn.get(day) ?? { day, revenueMinor: 0n, orders: 0 }),
    ordersByStatus: statuses,
    topProducts: top,
    newUsersByDay: days.map((day) => ({ day, users: usersOn.get(day) ?? 0 })),
    totalRevenueMinor: revenue.reduce((sum, r) => sum + r.revenueMinor, 0n),
  };
}

/** "YYYY-MM-DD" of every UTC day that [from, to) touches. */
export function utcDaysBetween(from: Date, to: Date): string[] {
  const days: string[] = [];
  const last = new Date(to.getTime() - 1).toISOString().slice(0, 10);
  for (let day = new Date(from.toISOString().slice(0, 10)); ; day = new Date(day.getTime() + 86_400_000)) {
    const label = day.toISOString().slice(0, 10);
    days.push(label);
    if (label >= last || days.length > longestReportDays) return days;
  }
}
