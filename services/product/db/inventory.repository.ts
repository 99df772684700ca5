// Reservations and the stock columns they move: SQL of the inventory side of the product service.
import { sql, type RawBuilder, type Transaction } from "kysely";
import { deferStatement } from "../../kit/db.ts";
import type { ProductDatabase, ReservationStatus } from "./database.ts";

type Trx = Transaction<ProductDatabase>;

export interface ReservationRecord {
  id: string;
  status: ReservationStatus;
  expireTime: Date;
  /** What the reservation still holds or sold: its items less what partial returns gave back. */
  items: Array<{ productId: string; quantity: number }>;
}

/**
 * Claims a reservation id. The primary key serializes concurrent calls with one id: the second
 * waits for the first to commit, then finds its row. Returns false when the id was claimed before.
 */
export async function claimReservation(
  trx: Trx,
  id: string,
  status: ReservationStatus,
  expireTime: Date,
): Promise<boolean> {
  const result = await trx
    .insertInto("reservations")
    .ignore()
    .values({ id, status, expire_time: expireTime })
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/**
 * Reads a reservation with its items. "update" locks it for a change; "share" only waits for
 * writers — many callers repeating one id can share-lock together, where exclusive locks
 * taken after a duplicate-key wait would deadlock them against each other.
 */
export async function findReservation(
  trx: Trx,
  id: string,
  lock: "update" | "share",
): Promise<ReservationRecord | undefined> {
  const select = trx.selectFrom("reservations").selectAll().where("id", "=", id);
  const row = await (lock === "update"
    ? select.forUpdate()
    : select.modifyEnd(sql`LOCK IN SHARE MODE`)
  ).executeTakeFirst();
  if (!row) return undefined;
  // What each item still holds or sold: its quantity less the partial returns of it.
  const items = await trx
    .selectFrom("reservation_items as i")
    .select((eb) => [
      "i.product_id",
      eb(
        "i.quantity",
        "-",
        eb.fn.coalesce(
          eb
            .selectFrom("reservation_returns as r")
            .select((r) => r.fn.sum<number>("r.quantity").as("returned"))
            .whereRef("r.reservation_id", "=", "i.reservation_id")
            .whereRef("r.product_id", "=", "i.product_id"),
          eb.lit(0),
        ),
      ).as("quantity"),
    ])
    .where("i.reservation_id", "=", id)
    .orderBy("i.product_id")
    .execute();
  return {
    id,
    status: row.status,
    expireTime: row.expire_time,
    items: items.map((i) => ({ productId: i.product_id, quantity: Number(i.quantity) })).filter((i) => i.quantity > 0),
  };
}

/** What an earlier partial return with this id gave back; undefined when there was none. */
export async function findReturn(
  trx: Trx,
  reservationId: string,
  returnId: string,
): Promise<Array<{ productId: string; quantity: number }> | undefined> {
  const rows = await trx
    .selectFrom("reservation_returns")
    .select(["product_id", "quantity"])
    .where("reservation_id", "=", reservationId)
    .where("return_id", "=", returnId)
    .orderBy("product_id")
    .execute();
  return rows.length === 0 ? undefined : rows.map((r) => ({ productId: r.product_id, quantity: r.quantity }));
}

/** Records a partial return, a row per requested product (0 for what was no longer out). */
export async function insertReturn(
  trx: Trx,
  reservationId: string,
  returnId: string,
  items: Array<{ productId: string; quantity: number }>,
): Promise<void> {
  await trx
    .insertInto("reservation_returns")
    .values(
      items.map((item) => ({
        reservation_id: reservationId,
        return_id: returnId,
        product_id: item.productId,
        quantity: item.quantity,
      })),
    )
    .execute();
}

/** Holds stock if enough is available; false when it is not (or the product is not for sale). */
export function holdStock(trx: Trx, productId: string, quantity: number): Promise<boolean> {
  return takeAvailable(trx, productId, quantity, { stock_held: sql<number>`stock_held + ${quantity}` });
}

export async function availableOf(trx: Trx, productIds: string[]): Promise<Map<string, number>> {
  if (productIds.length === 0) return new Map();
  const rows = await trx
    .selectFrom("products")
    .select(["id", sql<number>`IF(active = 1 AND delete_time IS NULL, stock_on_hand - stock_held, 0)`.as("available")])
    .where("id", "in", productIds)
    .execute();
  return new Map(rows.map((row) => [row.id, Number(row.available)]));
}

/** Gives held stock back (release, expiry). */
export async function unholdStock(trx: Trx, productId: string, quantity: number): Promise<void> {
  await trx
    .updateTable("products")
    .set({ stock_held: sql<number>`stock_held - ${quantity}` })
    .where("id", "=", productId)
    .execute();
}

/** Sells available units straight away (a hold and its commit in one); false when too few are available. */
export function sellAvailableStock(trx: Trx, productId: string, quantity: number): Promise<boolean> {
  return takeAvailable(trx, productId, quantity, { stock_on_hand: sql<number>`stock_on_hand - ${quantity}` });
}

/** Applies `change` to a product for sale that has `quantity` units available; false when it has not. */
async function takeAvailable(
  trx: Trx,
  productId: string,
  quantity: number,
  change: { stock_held: RawBuilder<number> } | { stock_on_hand: RawBuilder<number> },
): Promise<boolean> {
  const result = await trx
    .updateTable("products")
    .set(change)
    .where("id", "=", productId)
    .where("active", "=", 1)
    .where("delete_time", "is", null)
    .where(sql<boolean>`stock_on_hand - stock_held >= ${quantity}`)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Turns held stock into sold stock (commit). */
export async function sellHeldStock(trx: Trx, productId: string, quantity: number): Promise<void> {
  await trx
    .updateTable("products")
    .set({ stock_held: sql<number>`stock_held - ${quantity}`, stock_on_hand: sql<number>`stock_on_hand - ${quantity}` })
    .where("id", "=", productId)
    .execute();
}

/** Puts sold stock back on hand (a cancelled order's units). */
export async function restockSoldStock(trx: Trx, productId: string, quantity: number): Promise<void> {
  await trx
    .updateTable("products")
    .set({ stock_on_hand: sql<number>`stock_on_hand + ${quantity}` })
    .where("id", "=", productId)
    .execute();
}

export async function insertReservationItems(
  trx: Trx,
  id: string,
  items: Array<{ productId: string; quantity: number }>,
): Promise<void> {
  await deferStatement(
    trx,
    trx
      .insertInto("reservation_items")
      .values(items.map((item) => ({ reservation_id: id, product_id: item.productId, quantity: item.quantity }))),
  );
}

export async function setReservationStatus(trx: Trx, id: string, status: ReservationStatus): Promise<void> {
  await trx
    .updateTable("reservations")
    .set({ status, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .execute();
}

/** Where each product's stock stands, in the order of `productIds`. */
export async function stockOfProducts(
  trx: Trx,
  productIds: string[],
): Promise<Array<{ id: string; stockOnHand: number; stockHeld: number }>> {
  const rows = await trx
    .selectFrom("products")
    .select(["id", "stock_on_hand", "stock_held"])
    .where("id", "in", productIds)
    .execute();
  const byId = new Map(
    rows.map((row) => [row.id, { id: row.id, stockOnHand: row.stock_on_hand, stockHeld: row.stock_held }]),
  );
  return productIds.map((id) => byId.get(id)!);
}

/** Held reservations past their expiry, locked; rows another replica is sweeping are skipped. */
export async function lockExpiredReservations(trx: Trx, now: Date, limit: number): Promise<string[]> {
  const rows = await trx
    .selectFrom("reservations")
    .select("id")
    .where("status", "=", "HELD")
    .where("expire_time", "<=", now)
    .orderBy("expire_time")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  return rows.map((row) => row.id);
}
