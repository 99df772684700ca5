// The audit trail and sales projections: the only place in the admin service with SQL.
import { sql, type Kysely, type Transaction } from "kysely";
import { deferStatement, gatherUntilCommit } from "../../kit/db.ts";
import type { AdminDatabase, AuditEventsTable } from "./database.ts";

type Db = Kysely<AdminDatabase> | Transaction<AdminDatabase>;

export type AuditRow = AuditEventsTable;

/**
 * Adds an entry to the audit trail, written with the transaction's other entries just before it
 * commits: a consumer's batch of events becomes one INSERT (an event redelivered after its entry
 * was written is ignored).
 */
export async function insertAuditEvent(trx: Transaction<AdminDatabase>, row: AuditRow): Promise<void> {
  await gatherUntilCommit(trx, writeAuditRows, row);
}

const writeAuditRows = async (trx: Transaction<AdminDatabase>, rows: AuditRow[]) => {
  await deferStatement(trx, trx.insertInto("audit_events").ignore().values(rows));
};

export interface AuditFilter {
  eventType?: string;
  actorId?: string;
  subjectId?: string;
  from?: Date;
  before?: Date;
  /** Keyset: only events older than this id (ids are time-ordered UUIDv7). */
  beforeId?: string;
  limit: number;
}

/** Audit events matching the filter, newest first. */
export async function listAuditEvents(db: Db, filter: AuditFilter): Promise<AuditRow[]> {
  let select = db.selectFrom("audit_events").selectAll();
  if (filter.eventType) select = select.where("event_type", "=", filter.eventType);
  if (filter.actorId) select = select.where("actor_id", "=", filter.actorId);
  if (filter.subjectId) select = select.where("subject_id", "=", filter.subjectId);
  if (filter.from) select = select.where("occur_time", ">=", filter.from);
  if (filter.before) select = select.where("occur_time", "<", filter.before);
  if (filter.beforeId) select = select.where("id", "<", filter.beforeId);
  return select.orderBy("id", "desc").limit(filter.limit).execute();
}

export interface OrderFact {
  orderId: string;
  userId: string;
  placedTime: Date;
  status: string;
  statusTime: Date;
  totalMinor: bigint;
  currencyCode: string;
}

/** Records an order's status unless a newer one is already known (events may arrive late). */
export async function recordOrderStatus(trx: Transaction<AdminDatabase>, fact: OrderFact): Promise<void> {
  await deferStatement(
    trx,
    trx
      .insertInto("sales_orders")
      .values({
        order_id: fact.orderId,
        user_id: fact.userId,
        placed_time: fact.placedTime,
        status: fact.status,
        status_time: fact.statusTime,
        total_minor: fact.totalMinor,
        currency_code: fact.currencyCode,
      })
      // Assignments run left to right: status is decided before status_time moves on.
      .onDuplicateKeyUpdate({
        status: sql<string>`IF(VALUES(status_time) >= status_time, VALUES(status), status)`,
        status_time: sql<Date>`GREATEST(status_time, VALUES(status_time))`,
      }),
  );
}

export async function recordOrderLines(
  trx: Transaction<AdminDatabase>,
  orderId: string,
  lines: Array<{ productId: string; name: string; quantity: number; revenueMinor: bigint }>,
): Promise<void> {
  if (lines.length === 0) return;
  await deferStatement(
    trx,
    trx
      .insertInto("sales_lines")
      .ignore()
      .values(
        lines.map((line) => ({
          order_id: orderId,
          product_id: line.productId,
          name: line.name,
          quantity: line.quantity,
          revenue_minor: line.revenueMinor,
        })),
      ),
  );
}

export async function recordNewUser(
  trx: Transaction<AdminDatabase>,
  userId: string,
  registerTime: Date,
): Promise<void> {
  await deferStatement(
    trx,
    trx.insertInto("sales_new_users").ignore().values({ user_id: userId, register_time: registerTime }),
  );
}

const day = sql<string>`DATE_FORMAT(placed_time, '%Y-%m-%d')`;

export async function revenueByDay(db: Db, from: Date, to: Date, revenueStatuses: readonly string[]) {
  const rows = await db
    .selectFrom("sales_orders")
    .select([day.as("day"), sql<string>`SUM(total_minor)`.as("revenue"), sql<string>`COUNT(*)`.as("orders")])
    .where("placed_time", ">=", from)
    .where("placed_time", "<", to)
    .where("status", "in", revenueStatuses)
    .groupBy("day")
    .orderBy("day")
    .execute();
  return rows.map((row) => ({ day: row.day, revenueMinor: BigInt(row.revenue), orders: Number(row.orders) }));
}

export async function ordersByStatus(db: Db, from: Date, to: Date) {
  const rows = await db
    .selectFrom("sales_orders")
    .select(["status", sql<string>`COUNT(*)`.as("orders")])
    .where("placed_time", ">=", from)
    .where("placed_time", "<", to)
    .groupBy("status")
    .orderBy("status")
    .execute();
  return rows.map((row) => ({ status: row.status, orders: Number(row.orders) }));
}

export async function topProducts(db: Db, from: Date, to: Date, revenueStatuses: readonly string[], limit: number) {
  const rows = await db
    .selectFrom("sales_lines as l")
    .innerJoin("sales_orders as o", "o.order_id", "l.order_id")
    .select([
      "l.product_id",
      sql<string>`MAX(l.name)`.as("name"),
      sql<string>`SUM(l.quantity)`.as("quantity"),
      sql<string>`SUM(l.revenue_minor)`.as("revenue"),
    ])
    .where("o.placed_time", ">=", from)
    .where("o.placed_time", "<", to)
    .where("o.status", "in", revenueStatuses)
    .groupBy("l.product_id")
    .orderBy("revenue", "desc")
    .orderBy("l.product_id")
    .limit(limit)
    .execute();
  return rows.map(topProductOf);
}

/** A product's line of a top-products query (the platform's or one shop's). */
export function topProductOf(row: { product_id: string; name: string; quantity: string; revenue: string }) {
  return {
    productId: row.product_id,
    name: row.name,
    quantity: BigInt(row.quantity),
    revenueMinor: BigInt(row.revenue),
  };
}

export async function newUsersByDay(db: Db, from: Date, to: Date) {
  const rows = await db
    .selectFrom("sales_new_users")
    .select([sql<string>`DATE_FORMAT(register_time, '%Y-%m-%d')`.as("day"), sql<string>`COUNT(*)`.as("users")])
    .where("register_time", ">=", from)
    .where("register_time", "<", to)
    .groupBy("day")
    .orderBy("day")
    .execute();
  return rows.map((row) => ({ day: row.day, users: Number(row.users) }));
}

/** Empties every projection and what the consumer remembers having applied, for a rebuild. */
export async function clearProjections(db: Kysely<AdminDatabase>, consumer: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const table of [
      "audit_events",
      "sales_orders",
      "sales_lines",
      "sales_new_users",
      "shop_sales_orders",
      "shop_sales_lines",
      "shop_sales_order_moves",
    ] as const)
      await trx.deleteFrom(table).execute();
    await trx.deleteFrom("processed_events").where("consumer", "=", consumer).execute();
  });
}
