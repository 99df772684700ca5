// The shop sales projection: the only place with its SQL. A shop order's status is the greater
// of its own (status_rank) and its whole order's move (shop_sales_order_moves), both only ever
// raised, so events may arrive in any order and twice.
import { sql, type Kysely, type Transaction } from "kysely";
import { deferStatement } from "../../kit/db.ts";
import { salesRanks, type ShopSale, statusOfRank, type ShopOrderStatusName } from "../domain/shop-sales.ts";
import type { AdminDatabase } from "./database.ts";
import { topProductOf } from "./projections.repository.ts";

type Db = Kysely<AdminDatabase> | Transaction<AdminDatabase>;

/**
 * Records a shop order, or raises what is known of it: its status and units only grow (an
 * OrderPlaced after a ShopOrderStatusChanged brings the units; a late CONFIRMED never undoes a
 * CANCELLED). Lines are recorded once.
 */
export async function recordShopSale(
  trx: Transaction<AdminDatabase>,
  sale: Omit<ShopSale, "status"> & { statusRank: number },
): Promise<void> {
  await deferStatement(
    trx,
    trx
      .insertInto("shop_sales_orders")
      .values({
        shop_order_id: sale.shopOrderId,
        order_id: sale.orderId,
        shop_id: sale.shopId,
        seller_id: sale.sellerId,
        placed_time: sale.placedTime,
        subtotal_minor: sale.subtotalMinor,
        units: sale.units,
        status_rank: sale.statusRank,
      })
      .onDuplicateKeyUpdate({
        units: sql<number>`GREATEST(units, VALUES(units))`,
        status_rank: sql<number>`GREATEST(status_rank, VALUES(status_rank))`,
      }),
  );
  if (sale.lines.length === 0) return;
  await deferStatement(
    trx,
    trx
      .insertInto("shop_sales_lines")
      .ignore()
      .values(
        sale.lines.map((line) => ({
          shop_order_id: sale.shopOrderId,
          product_id: line.productId,
          name: line.name,
          quantity: line.quantity,
          revenue_minor: line.revenueMinor,
        })),
      ),
  );
}

/** Raises how far a whole order's move took its shop orders, known or not yet. */
export async function recordOrderMove(trx: Transaction<AdminDatabase>, orderId: string, rank: number): Promise<void> {
  await deferStatement(
    trx,
    trx
      .insertInto("shop_sales_order_moves")
      .values({ order_id: orderId, status_rank: rank })
      .onDuplicateKeyUpdate({ status_rank: sql<number>`GREATEST(status_rank, VALUES(status_rank))` }),
  );
}

/** A shop's shop orders placed in [from, to), each with the status it stands in now. */
function shopSalesIn(db: Db, shopId: string, from: Date, to: Date) {
  return db
    .selectFrom("shop_sales_orders as s")
    .leftJoin("shop_sales_order_moves as m", "m.order_id", "s.order_id")
    .where("s.shop_id", "=", shopId)
    .where("s.placed_time", ">=", from)
    .where("s.placed_time", "<", to);
}

const rankNow = sql<number>`GREATEST(s.status_rank, COALESCE(m.status_rank, 0))`;
const selling = sql<boolean>`${rankNow} BETWEEN ${salesRanks.lowest} AND ${salesRanks.highest}`;

export async function shopDailySales(db: Db, shopId: string, from: Date, to: Date) {
  const rows = await shopSalesIn(db, shopId, from, to)
    .where(selling)
    .select([
      sql<string>`DATE_FORMAT(s.placed_time, '%Y-%m-%d')`.as("day"),
      sql<string>`SUM(s.subtotal_minor)`.as("revenue"),
      sql<string>`SUM(s.units)`.as("units"),
      sql<string>`COUNT(*)`.as("orders"),
    ])
    .groupBy("day")
    .orderBy("day")
    .execute();
  return rows.map((row) => ({
    day: row.day,
    revenueMinor: BigInt(row.revenue),
    units: BigInt(row.units),
    orders: Number(row.orders),
  }));
}

export async function shopOrdersByStatus(
  db: Db,
  shopId: string,
  from: Date,
  to: Date,
): Promise<Array<{ status: ShopOrderStatusName; shopOrders: number }>> {
  const rows = await shopSalesIn(db, shopId, from, to)
    .select([rankNow.as("rank"), sql<string>`COUNT(*)`.as("shop_orders")])
    .groupBy("rank")
    .execute();
  return rows.map((row) => ({ status: statusOfRank(Number(row.rank)), shopOrders: Number(row.shop_orders) }));
}

export async function shopTopProducts(db: Db, shopId: string, from: Date, to: Date, limit: number) {
  const rows = await shopSalesIn(db, shopId, from, to)
    .innerJoin("shop_sales_lines as l", "l.shop_order_id", "s.shop_order_id")
    .where(selling)
    .select([
      "l.product_id",
      sql<string>`MAX(l.name)`.as("name"),
      sql<string>`SUM(l.quantity)`.as("quantity"),
      sql<string>`SUM(l.revenue_minor)`.as("revenue"),
    ])
    .groupBy("l.product_id")
    .orderBy("revenue", "desc")
    .orderBy("l.product_id")
    .limit(limit)
    .execute();
  return rows.map(topProductOf);
}
