// The cart use cases. Product facts come from the snapshot cache, kept fresh by product events,
// and from the product service (through the `catalog` port) for a product the cache does not
// hold or holds facts of more than `productMaxAgeMs` about: a change checks stock against facts
// at most that old, and checkout reserves against the truth in any case.
import type { Kysely } from "kysely";
import { inTransaction } from "../../kit/db.ts";
import type { CartDatabase } from "../db/database.ts";
import { deleteLines, lockAndTouchCart, readCart, saveSnapshots, setLineQuantity } from "../db/cart.repository.ts";
import {
  CartFullError,
  LineNotFoundError,
  maxLines,
  maxQuantityPerLine,
  NotEnoughStockError,
  priceCart,
  ProductUnavailableError,
  type CartLine,
  type CartView,
  type ProductSnapshot,
} from "./cart.ts";

/** The product service, as the cart needs it. */
export interface ProductCatalog {
  /** Current facts of the products that exist and are for sale; others are simply absent. */
  fetch(productIds: string[]): Promise<ProductSnapshot[]>;
}

export interface CartDeps {
  db: Kysely<CartDatabase>;
  catalog: ProductCatalog;
  /** How old a snapshot's facts may be for a change to go by them (10 s when absent; 0: always ask). */
  productMaxAgeMs?: number;
}

export const defaultProductMaxAgeMs = 10_000;

export async function viewCart(deps: CartDeps, userId: string): Promise<CartView> {
  const { lines, snapshots, updateTime } = await readCart(deps.db, userId);
  return viewOf(deps, lines, updateTime, snapshots);
}

/** Adds units of a product, to its line if there is one. */
export async function addItem(deps: CartDeps, userId: string, productId: string, quantity: number): Promise<CartView> {
  return changeLine(deps, userId, productId, (lines, existing) => {
    if (!existing && lines.length >= maxLines) throw new CartFullError("lines", maxLines);
    const wanted = (existing?.quantity ?? 0) + quantity;
    if (wanted > maxQuantityPerLine) throw new CartFullError("quantity_per_line", maxQuantityPerLine);
    return wanted;
  });
}

export async function setItemQuantity(
  deps: CartDeps,
  userId: string,
  productId: string,
  quantity: number,
): Promise<CartView> {
  return changeLine(deps, userId, productId, (_lines, existing) => {
    if (!existing) throw new LineNotFoundError(`product ${productId} is not in the cart`);
    return quantity;
  });
}

/** The product's snapshot was too old or missing: the change is made again with fresh facts. */
class SnapshotTooOld extends Error {}

/**
 * Sets one product's line to what `quantityOf` decides from the cart, under the cart's lock. The
 * product's snapshot is read with the cart in one statement when its facts are recent enough;
 * otherwise the product service is asked outside the transaction (its answer refreshes the
 * snapshot) and the change made again with that answer.
 */
async function changeLine(
  deps: CartDeps,
  userId: string,
  productId: string,
  quantityOf: (lines: CartLine[], existing: CartLine | undefined) => number,
): Promise<CartView> {
  const maxAgeMs = deps.productMaxAgeMs ?? defaultProductMaxAgeMs;
  let fetched = maxAgeMs > 0 ? undefined : await fetchProduct(deps, productId);
  for (;;) {
    try {
      const notBefore = new Date(Date.now() - maxAgeMs);
      const changed = await inTransaction(deps.db, async (trx) => {
        const updateTime = await lockAndTouchCart(trx, userId);
        const cart = await readCart(trx, userId, fetched ? undefined : { productId, notBefore });
        const product = fetched ?? cart.product;
        if (!product) throw new SnapshotTooOld();
        if (!product.forSale) throw new ProductUnavailableError(productId);
        const existing = cart.lines.find((line) => line.productId === productId);
        const wanted = quantityOf(cart.lines, existing);
        checkStock(product, wanted);
        await setLineQuantity(trx, userId, productId, wanted, updateTime);
        return {
          lines: withQuantity(cart.lines, productId, wanted, updateTime),
          updateTime,
          snapshots: cart.snapshots,
          product,
        };
      });
      return viewAfterChange(deps, changed, changed.product);
    } catch (error) {
      if (!(error instanceof SnapshotTooOld) || fetched) throw error;
      fetched = await fetchProduct(deps, productId);
    }
  }
}

export async function removeItem(deps: CartDeps, userId: string, productId: string): Promise<CartView> {
  await inTransaction(deps.db, async (trx) => {
    await lockAndTouchCart(trx, userId);
    if ((await deleteLines(trx, userId, productId)) === 0)
      throw new LineNotFoundError(`product ${productId} is not in the cart`);
  });
  return viewCart(deps, userId);
}

export async function clearCart(deps: CartDeps, userId: string): Promise<CartView> {
  await inTransaction(deps.db, async (trx) => {
    await lockAndTouchCart(trx, userId);
    await deleteLines(trx, userId);
  });
  return viewCart(deps, userId);
}

/** The product service's facts of a product, which refresh its snapshot; for sale or not. */
async function fetchProduct(deps: CartDeps, productId: string): Promise<ProductSnapshot> {
  const [product] = await deps.catalog.fetch([productId]);
  if (!product) throw new ProductUnavailableError(productId);
  await saveSnapshots(deps.db, [product], new Date());
  return product;
}

/**
 * The cart after a change to one product's line, whose facts are at hand: the other lines'
 * snapshots came with the lines, read under the cart's lock in one statement (readCart).
 */
async function viewAfterChange(
  deps: CartDeps,
  changed: { lines: CartLine[]; updateTime: Date; snapshots: Map<string, ProductSnapshot> },
  product: ProductSnapshot,
): Promise<CartView> {
  changed.snapshots.set(product.productId, product);
  return viewOf(deps, changed.lines, changed.updateTime, changed.snapshots);
}

/** The cart's lines priced with the snapshots held, asking the product service for the rest. */
async function viewOf(
  deps: CartDeps,
  lines: CartLine[],
  updateTime: Date | undefined,
  snapshots: Map<string, ProductSnapshot>,
): Promise<CartView> {
  const missing = lines.map((line) => line.productId).filter((id) => !snapshots.has(id));
  if (missing.length > 0) {
    const fetched = await deps.catalog.fetch(missing);
    await saveSnapshots(deps.db, fetched, new Date());
    for (const product of fetched) snapshots.set(product.productId, product);
  }
  return priceCart(lines, snapshots, updateTime);
}

/** The lines after a line's quantity was set, in the order readCart reads them. */
function withQuantity(lines: CartLine[], productId: string, quantity: number, addTime: Date): CartLine[] {
  if (lines.some((line) => line.productId === productId))
    return lines.map((line) => (line.productId === productId ? { ...line, quantity } : line));
  return [...lines, { productId, quantity, addTime }].sort(
    (a, b) => a.addTime.getTime() - b.addTime.getTime() || (a.productId < b.productId ? -1 : 1),
  );
}

function checkStock(product: ProductSnapshot, quantity: number): void {
  if (quantity > product.stockAvailable) {
    throw new NotEnoughStockError(product.productId, quantity, product.stockAvailable);
  }
}
