// The cart use cases. Product facts come from the product service through the `catalog` port
// (fresh on every change, so stock is checked against the truth) and from the snapshot cache
// (when only reading, kept fresh by product events).
import type { Kysely } from "kysely";
import { inTransaction } from "../../kit/db.ts";
import type { CartDatabase } from "../db/database.ts";
import {
  cartUpdateTime,
  deleteLines,
  findSnapshots,
  listLines,
  lockAndTouchCart,
  saveSnapshots,
  setLineQuantity,
} from "../db/cart.repository.ts";
import {
  CartFullError,
  LineNotFoundError,
  maxLines,
  maxQuantityPerLine,
  NotEnoughStockError,
  priceCart,
  ProductUnavailableError,
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
}

export async function viewCart(deps: CartDeps, userId: string): Promise<CartView> {
  const lines = await listLines(deps.db, userId);
  const ids = lines.map((line) => line.productId);
  const cached = await findSnapshots(deps.db, ids);
  const missing = ids.filter((id) => !cached.has(id));
  if (missing.length > 0) {
    const fetched = await deps.catalog.fetch(missing);
    await saveSnapshots(deps.db, fetched, new Date());
    for (const product of fetched) cached.set(product.productId, product);
  }
  return priceCart(lines, cached, await cartUpdateTime(deps.db, userId));
}

/** Adds units of a product, to its line if there is one. */
export async function addItem(deps: CartDeps, userId: string, productId: string, quantity: number): Promise<CartView> {
  const product = await currentProduct(deps, productId);
  await inTransaction(deps.db, async (trx) => {
    await lockAndTouchCart(trx, userId);
    const lines = await listLines(trx, userId);
    const existing = lines.find((line) => line.productId === productId);
    if (!existing && lines.length >= maxLines) throw new CartFullError("lines", maxLines);
    const wanted = (existing?.quantity ?? 0) + quantity;
    if (wanted > maxQuantityPerLine) throw new CartFullError("quantity_per_line", maxQuantityPerLine);
    checkStock(product, wanted);
    await setLineQuantity(trx, userId, productId, wanted);
  });
  return viewCart(deps, userId);
}

export async function setItemQuantity(
  deps: CartDeps,
  userId: string,
  productId: string,
  quantity: number,
): Promise<CartView> {
  const product = await currentProduct(deps, productId);
  await inTransaction(deps.db, async (trx) => {
    await lockAndTouchCart(trx, userId);
    if (!(await listLines(trx, userId)).some((line) => line.productId === productId)) {
      throw new LineNotFoundError(`product ${productId} is not in the cart`);
    }
    checkStock(product, quantity);
    await setLineQuantity(trx, userId, productId, quantity);
  });
  return viewCart(deps, userId);
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

/** The product as the product service says it is now; the snapshot is refreshed on the way. */
async function currentProduct(deps: CartDeps, productId: string): Promise<ProductSnapshot> {
  const [product] = await deps.catalog.fetch([productId]);
  if (!product?.forSale) throw new ProductUnavailableError(productId);
  await saveSnapshots(deps.db, [product], new Date());
  return product;
}

function checkStock(product: ProductSnapshot, quantity: number): void {
  if (quantity > product.stockAvailable) {
    throw new NotEnoughStockError(product.productId, quantity, product.stockAvailable);
  }
}
