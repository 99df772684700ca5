// Stock holds for checkout: reserve all items or none, then commit or release; holds that are
// never settled expire and give their stock back.
import type { Kysely, Transaction } from "kysely";
import { inTransaction } from "../../kit/db.ts";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { ProductDatabase } from "../db/database.ts";
import {
  availableOf,
  claimReservation,
  findReservation,
  findReturn,
  holdStock,
  insertReturn,
  insertReservationItems,
  lockExpiredReservations,
  restockSoldStock,
  sellAvailableStock,
  sellHeldStock,
  setReservationStatus,
  stockOfProducts,
  unholdStock,
  type ReservationRecord,
} from "../db/inventory.repository.ts";
import { appendStockChanged } from "./manage-catalog.ts";

export interface InventoryDeps {
  db: Kysely<ProductDatabase>;
  outbox: OutboxNotifier;
  reservationTtlMs: number;
}

export interface Shortage {
  productId: string;
  requested: number;
  available: number;
}

export class InsufficientStockError extends Error {
  override name = "InsufficientStockError";
  readonly shortages: Shortage[];
  constructor(shortages: Shortage[]) {
    super(
      `not enough stock for ${shortages.map((s) => `${s.productId} (requested ${s.requested}, available ${s.available})`).join(", ")}`,
    );
    this.shortages = shortages;
  }
}

export class ReservationClosedError extends Error {
  override name = "ReservationClosedError";
  readonly reservationId: string;
  /** Where the reservation ended: anything but HELD. */
  readonly status: ReservationRecord["status"];
  constructor(reservationId: string, status: ReservationRecord["status"]) {
    super(`reservation ${reservationId} was ${status.toLowerCase()}`);
    this.reservationId = reservationId;
    this.status = status;
  }
}

export class ReservationNotFoundError extends Error {
  override name = "ReservationNotFoundError";
}

const actor = "service:product";

/**
 * Holds the items under the reservation id, all or none. With `sellNow` they are sold at once and
 * the reservation is COMMITTED (no payment step in between, as for cash on delivery); a
 * reservation held earlier without it is committed by the repeat.
 */
export async function reserveStock(
  deps: InventoryDeps,
  reservationId: string,
  requested: Array<{ productId: string; quantity: number }>,
  options: { sellNow?: boolean } = {},
): Promise<{ expireTime: Date }> {
  // One line per product, locked in id order: two reservations over the same products always
  // take their row locks in the same order, so they queue instead of deadlocking.
  const items = mergeByProduct(requested);
  const sellNow = options.sellNow ?? false;
  const result = await inTransaction(deps.db, async (trx) => {
    const expireTime = new Date(Date.now() + deps.reservationTtlMs);
    if (!(await claimReservation(trx, reservationId, sellNow ? "COMMITTED" : "HELD", expireTime))) {
      // Repeated id: answer as the first call did, never hold twice.
      const existing = (await findReservation(trx, reservationId, sellNow ? "update" : "share"))!;
      if (sellNow && existing.status === "HELD") await sellHeld(trx, existing);
      else if (existing.status !== "HELD" && existing.status !== "COMMITTED")
        throw new ReservationClosedError(reservationId, existing.status);
      return { expireTime: existing.expireTime };
    }
    const short: typeof items = [];
    for (const item of items) {
      const taken = sellNow
        ? await sellAvailableStock(trx, item.productId, item.quantity)
        : await holdStock(trx, item.productId, item.quantity);
      if (!taken) short.push(item);
    }
    if (short.length > 0) {
      const available = await availableOf(
        trx,
        short.map((s) => s.productId),
      );
      // Throwing rolls back every hold and the claim: all or nothing.
      throw new InsufficientStockError(
        short.map((s) => ({
          productId: s.productId,
          requested: s.quantity,
          available: available.get(s.productId) ?? 0,
        })),
      );
    }
    await insertReservationItems(trx, reservationId, items);
    await appendStockMoved(trx, reservationId, items, sellNow ? "commit" : "reserve");
    return { expireTime };
  });
  deps.outbox.wake();
  return result;
}

export async function commitReservation(deps: InventoryDeps, reservationId: string): Promise<void> {
  await settle(deps, reservationId, async (trx, reservation) => {
    if (reservation.status === "COMMITTED") return;
    if (reservation.status !== "HELD") throw new ReservationClosedError(reservationId, reservation.status);
    await sellHeld(trx, reservation);
  });
}

/** Sells what a HELD reservation holds and marks it COMMITTED. */
async function sellHeld(trx: Transaction<ProductDatabase>, reservation: ReservationRecord): Promise<void> {
  for (const item of reservation.items) await sellHeldStock(trx, item.productId, item.quantity);
  await setReservationStatus(trx, reservation.id, "COMMITTED");
  await appendStockMoved(trx, reservation.id, reservation.items, "commit");
}

/** Releases held stock. Releasing an unknown id leaves a tombstone, so a late reserve holds nothing. */
export async function releaseReservation(deps: InventoryDeps, reservationId: string): Promise<void> {
  await inTransaction(deps.db, async (trx) => {
    if (await claimReservation(trx, reservationId, "RELEASED", new Date())) return;
    const reservation = (await findReservation(trx, reservationId, "update"))!;
    if (reservation.status === "RELEASED" || reservation.status === "EXPIRED") return;
    if (reservation.status === "COMMITTED") throw new ReservationClosedError(reservationId, "COMMITTED");
    await giveBack(trx, reservation, "RELEASED");
  });
  deps.outbox.wake();
}

/**
 * Gives back whatever a reservation took: held units are released, sold units go back on hand.
 * An unknown id leaves a tombstone like release does, so a late reserve holds nothing.
 */
export async function returnReservation(deps: InventoryDeps, reservationId: string): Promise<void> {
  await inTransaction(deps.db, async (trx) => {
    if (await claimReservation(trx, reservationId, "RELEASED", new Date())) return;
    const reservation = (await findReservation(trx, reservationId, "update"))!;
    if (reservation.status === "HELD") return giveBack(trx, reservation, "RELEASED");
    if (reservation.status !== "COMMITTED") return;
    for (const item of reservation.items) await restockSoldStock(trx, item.productId, item.quantity);
    await setReservationStatus(trx, reservationId, "RETURNED");
    await appendStockMoved(trx, reservationId, reservation.items, "return");
  });
  deps.outbox.wake();
}

/**
 * Gives back part of a reservation (a shop order cancelled after checkout): of each product at
 * most what the reservation still holds or sold, held units released, sold units back on hand.
 * The reservation's row lock serializes this with every other step on the reservation, and the
 * return's rows make its id count once: a repeat answers what the first call gave back. A
 * reservation given back as a whole (or expired, or unknown) has nothing left to return.
 */
export async function returnReservationItems(
  deps: InventoryDeps,
  reservationId: string,
  returnId: string,
  requested: Array<{ productId: string; quantity: number }>,
): Promise<Array<{ productId: string; quantity: number }>> {
  const items = mergeByProduct(requested);
  const returned = await inTransaction(deps.db, async (trx) => {
    const reservation = await findReservation(trx, reservationId, "update");
    if (!reservation) return [];
    const earlier = await findReturn(trx, reservationId, returnId);
    if (earlier) return earlier;
    const out = new Map(
      reservation.status === "HELD" || reservation.status === "COMMITTED"
        ? reservation.items.map((item) => [item.productId, item.quantity])
        : [],
    );
    const giving = items.map((item) => ({
      productId: item.productId,
      quantity: Math.min(item.quantity, out.get(item.productId) ?? 0),
    }));
    await insertReturn(trx, reservationId, returnId, giving);
    const moved = giving.filter((g) => g.quantity > 0);
    for (const item of moved) {
      if (reservation.status === "HELD") await unholdStock(trx, item.productId, item.quantity);
      else await restockSoldStock(trx, item.productId, item.quantity);
    }
    if (moved.length > 0)
      await appendStockMoved(trx, reservationId, moved, reservation.status === "HELD" ? "release" : "return");
    return giving;
  });
  deps.outbox.wake();
  return returned.filter((item) => item.quantity > 0);
}

/** Expires held reservations whose time is up. Returns how many. */
export async function releaseExpiredHolds(deps: InventoryDeps, now = new Date(), batch = 100): Promise<number> {
  const expired = await deps.db.transaction().execute(async (trx) => {
    const ids = await lockExpiredReservations(trx, now, batch);
    for (const id of ids) await giveBack(trx, (await findReservation(trx, id, "update"))!, "EXPIRED");
    return ids.length;
  });
  if (expired > 0) deps.outbox.wake();
  return expired;
}

async function giveBack(
  trx: Transaction<ProductDatabase>,
  reservation: ReservationRecord,
  status: "RELEASED" | "EXPIRED",
) {
  for (const item of reservation.items) await unholdStock(trx, item.productId, item.quantity);
  await setReservationStatus(trx, reservation.id, status);
  await appendStockMoved(trx, reservation.id, reservation.items, status === "EXPIRED" ? "expire" : "release");
}

/** The reservation's step as one StockChanged, with its products' stock as it stands now. */
async function appendStockMoved(
  trx: Transaction<ProductDatabase>,
  reservationId: string,
  items: Array<{ productId: string }>,
  reason: "reserve" | "commit" | "release" | "expire" | "return",
): Promise<void> {
  const products = await stockOfProducts(
    trx,
    items.map((item) => item.productId),
  );
  await appendStockChanged(trx, actor, products, { reason, reservationId });
}

async function settle(
  deps: InventoryDeps,
  reservationId: string,
  apply: (trx: Transaction<ProductDatabase>, reservation: ReservationRecord) => Promise<void>,
): Promise<void> {
  await inTransaction(deps.db, async (trx) => {
    const reservation = await findReservation(trx, reservationId, "update");
    if (!reservation) throw new ReservationNotFoundError(`reservation ${reservationId} not found`);
    await apply(trx, reservation);
  });
  deps.outbox.wake();
}

function mergeByProduct(items: Array<{ productId: string; quantity: number }>) {
  const merged = new Map<string, number>();
  for (const item of items) merged.set(item.productId, (merged.get(item.productId) ?? 0) + item.quantity);
  return [...merged].sort(([a], [b]) => (a < b ? -1 : 1)).map(([productId, quantity]) => ({ productId, quantity }));
}
