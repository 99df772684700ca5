// Orders, lines and status history: the only place in the order service with SQL.
import { sql, type Kysely, type Transaction } from "kysely";
import type { Address, Order, OrderLine, OrderStatus, PaymentStatus } from "../domain/order.ts";
import type { OrderDatabase, OrderRow } from "./database.ts";

type Db = Kysely<OrderDatabase> | Transaction<OrderDatabase>;

export interface NewOrder {
  id: string;
  userId: string;
  currencyCode: string;
  lines: OrderLine[];
  subtotalMinor: bigint;
  taxMinor: bigint;
  shippingMinor: bigint;
  totalMinor: bigint;
  shippingAddress: Address;
  paymentMethod: Order["payment"]["method"];
  idempotencyKey: string;
  requestFingerprint: string;
}

/** Inserts a PENDING order; false when the user already used the idempotency key. */
export async function insertPendingOrder(trx: Transaction<OrderDatabase>, order: NewOrder): Promise<boolean> {
  const result = await trx
    .insertInto("orders")
    .ignore()
    .values({
      id: order.id,
      user_id: order.userId,
      status: "PENDING",
      currency_code: order.currencyCode,
      subtotal_minor: order.subtotalMinor,
      tax_minor: order.taxMinor,
      shipping_minor: order.shippingMinor,
      total_minor: order.totalMinor,
      shipping_address: JSON.stringify(order.shippingAddress),
      payment_method: order.paymentMethod,
      payment_status: order.paymentMethod === "CASH_ON_DELIVERY" ? "DUE_ON_DELIVERY" : "PENDING",
      idempotency_key: order.idempotencyKey,
      request_fingerprint: order.requestFingerprint,
    })
    .executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
  await trx
    .insertInto("order_lines")
    .values(
      order.lines.map((line) => ({
        order_id: order.id,
        product_id: line.productId,
        shop_id: line.shopId,
        name: line.name,
        unit_price_minor: line.unitPriceMinor,
        quantity: line.quantity,
        line_total_minor: line.lineTotalMinor,
      })),
    )
    .execute();
  await trx.insertInto("order_status_history").values({ order_id: order.id, status: "PENDING" }).execute();
  return true;
}

export async function findOrderIdByKey(db: Db, userId: string, key: string): Promise<{ id: string; fingerprint: string } | undefined> {
  const row = await db
    .selectFrom("orders")
    .select(["id", "request_fingerprint"])
    .where("user_id", "=", userId)
    .where("idempotency_key", "=", key)
    .executeTakeFirst();
  return row && { id: row.id, fingerprint: row.request_fingerprint };
}

/** Moves an order to a status, with its history entry and any payment facts. */
export async function recordStatus(
  trx: Transaction<OrderDatabase>,
  id: string,
  status: OrderStatus,
  note: string,
  payment?: { status: PaymentStatus; reference?: string; failureReason?: string },
): Promise<void> {
  await trx
    .updateTable("orders")
    .set({
      status,
      ...(payment && { payment_status: payment.status }),
      ...(payment?.reference !== undefined && { payment_reference: payment.reference }),
      ...(payment?.failureReason !== undefined && { payment_failure_reason: payment.failureReason }),
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", id)
    .execute();
  await trx.insertInto("order_status_history").values({ order_id: id, status, note }).execute();
}

export async function statusOf(trx: Transaction<OrderDatabase>, id: string): Promise<OrderStatus | undefined> {
  return (await trx.selectFrom("orders").select("status").where("id", "=", id).forUpdate().executeTakeFirst())?.status;
}

export async function findOrder(db: Db, id: string): Promise<Order | undefined> {
  const row = await db.selectFrom("orders").selectAll().where("id", "=", id).executeTakeFirst();
  return row && (await withDetails(db, [row]))[0];
}

export async function listOrdersOf(db: Db, userId: string, options: { status?: OrderStatus; beforeId?: string; limit: number }): Promise<Order[]> {
  let select = db.selectFrom("orders").selectAll().where("user_id", "=", userId);
  if (options.status) select = select.where("status", "=", options.status);
  if (options.beforeId) select = select.where("id", "<", options.beforeId);
  return withDetails(db, await select.orderBy("id", "desc").limit(options.limit).execute());
}

async function withDetails(db: Db, rows: OrderRow[]): Promise<Order[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const lines = await db.selectFrom("order_lines").selectAll().where("order_id", "in", ids).orderBy("product_id").execute();
  const history = await db.selectFrom("order_status_history").selectAll().where("order_id", "in", ids).orderBy("id").execute();
  return rows.map((row) => ({
    id: row.id,
    userId: row.user_id,
    status: row.status,
    currencyCode: row.currency_code,
    lines: lines
      .filter((line) => line.order_id === row.id)
      .map((line) => ({
        productId: line.product_id,
        shopId: line.shop_id,
        name: line.name,
        unitPriceMinor: BigInt(line.unit_price_minor),
        quantity: line.quantity,
        lineTotalMinor: BigInt(line.line_total_minor),
      })),
    subtotalMinor: BigInt(row.subtotal_minor),
    taxMinor: BigInt(row.tax_minor),
    shippingMinor: BigInt(row.shipping_minor),
    totalMinor: BigInt(row.total_minor),
    shippingAddress: (typeof row.shipping_address === "string" ? JSON.parse(row.shipping_address) : row.shipping_address) as Address,
    payment: { method: row.payment_method, status: row.payment_status, reference: row.payment_reference, failureReason: row.payment_failure_reason },
    history: history.filter((h) => h.order_id === row.id).map((h) => ({ status: h.status, time: h.time, note: h.note })),
    createTime: row.create_time,
    updateTime: row.update_time,
  }));
}
