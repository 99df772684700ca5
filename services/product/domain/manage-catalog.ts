// Sellers and admins changing the catalog. Each use case checks ownership, changes rows and
// writes its events in one transaction.
import { inTransaction } from "../../kit/db.ts";
import type { Kysely } from "kysely";
import type { Caller } from "../../kit/auth.ts";
import { appendEvent } from "../../kit/events.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { ProductDatabase } from "../db/database.ts";
import {
  categoryExists,
  findProductById,
  findProductForUpdate,
  findShopOwner,
  insertCategory,
  insertProduct,
  softDeleteProduct,
  updateProductRow,
} from "../db/product.repository.ts";
import type { ImageUrls } from "../media/image-proto.ts";
import { productUpdatedEvent } from "./product-events.ts";
import { availableStock, ProductNotFoundError, type Category, type Product, type ProductChanges } from "./catalog.ts";

export interface CatalogDeps {
  db: Kysely<ProductDatabase>;
  outbox: OutboxNotifier;
  currencyCode: string;
  /** Where pictures are read from, for the main image in events and reads. */
  images: ImageUrls;
}

export class NotAllowedError extends Error {
  override name = "NotAllowedError";
}

export class ShopNotFoundError extends Error {
  override name = "ShopNotFoundError";
}

export class InvalidCatalogInputError extends Error {
  override name = "InvalidCatalogInputError";
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

export class StockBelowHeldError extends Error {
  override name = "StockBelowHeldError";
  readonly productId: string;
  readonly stockOnHand: number;
  readonly held: number;
  constructor(productId: string, stockOnHand: number, held: number) {
    super(`stock_on_hand ${stockOnHand} is below the ${held} units held by open orders`);
    this.productId = productId;
    this.stockOnHand = stockOnHand;
    this.held = held;
  }
}

export class SlugTakenError extends Error {
  override name = "SlugTakenError";
  readonly slug: string;
  constructor(slug: string) {
    super(`slug ${slug} is taken`);
    this.slug = slug;
  }
}

/**
 * Sellers manage what belongs to them; admins manage everything. A customer manages nothing, not
 * even a former seller's products: so every customer sees what an anonymous visitor sees, and
 * the edge may answer them from one shared cache.
 */
export function canManage(caller: Caller, sellerId: string): boolean {
  return caller.role === "admin" || (caller.role === "seller" && caller.id === sellerId);
}

/**
 * The product, if `caller` may change it. One buyers can see is refused as forbidden; a deleted
 * or hidden one is reported missing, since its existence is not the caller's to learn.
 */
export function manageable(caller: Caller, product: Product | undefined, id: string, action: string): Product {
  if (!product || product.deleted) throw new ProductNotFoundError(id);
  if (canManage(caller, product.sellerId)) return product;
  if (product.active) throw new NotAllowedError(`you can only ${action} your own products`);
  throw new ProductNotFoundError(id);
}

/**
 * Owners and admins still see a deleted or inactive product, or one of a suspended shop (so a
 * seller learns why it stopped selling); everyone else does not.
 */
export function isVisibleTo(product: Product, caller: Caller | undefined): boolean {
  if (product.active && !product.deleted && !product.shopSuspended) return true;
  return caller !== undefined && canManage(caller, product.sellerId);
}

export interface ProductDraft {
  shopId: string;
  categoryId: string;
  name: string;
  description: string;
  priceMinor: bigint;
  currencyCode: string;
  tags: string[];
  imageUrls: string[];
  stockOnHand: number;
  featured: boolean;
}

export async function createProduct(deps: CatalogDeps, caller: Caller, draft: ProductDraft): Promise<Product> {
  checkCurrency(deps, draft.currencyCode);
  if (draft.featured && caller.role !== "admin") throw new NotAllowedError("only admins feature products");
  const id = uuidv7();
  await inTransaction(deps.db, async (trx) => {
    const owner = await findShopOwner(trx, draft.shopId);
    if (!owner) throw new ShopNotFoundError(`shop ${draft.shopId} not found`);
    if (!canManage(caller, owner)) throw new NotAllowedError("you can only add products to your own shops");
    if (!(await categoryExists(trx, draft.categoryId)))
      throw new InvalidCatalogInputError("product.category_id", "no such category");
    await insertProduct(trx, { ...draft, id, sellerId: owner, currencyCode: deps.currencyCode, active: true });
    await appendEvent(trx, {
      source: "product",
      actorId: caller.id,
      subjectId: id,
      payload: {
        case: "productCreated",
        value: {
          productId: id,
          shopId: draft.shopId,
          sellerId: owner,
          categoryId: draft.categoryId,
          name: draft.name,
          price: { currencyCode: deps.currencyCode, amountMinor: draft.priceMinor },
        },
      },
    });
  });
  deps.outbox.wake();
  return (await findProductById(deps.db, id))!;
}

export async function updateProduct(
  deps: CatalogDeps,
  caller: Caller,
  id: string,
  requested: ProductChanges & { currencyCode?: string },
): Promise<Product> {
  const { currencyCode, ...rest } = requested;
  if (currencyCode !== undefined) checkCurrency(deps, currencyCode);
  // Only the fields the caller named; undefined means "leave as it is".
  const changes = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)) as ProductChanges;
  if (changes.featured !== undefined && caller.role !== "admin")
    throw new NotAllowedError("only admins feature products");
  await inTransaction(deps.db, async (trx) => {
    const before = manageable(caller, await findProductForUpdate(trx, id), id, "change");
    if (changes.categoryId !== undefined && !(await categoryExists(trx, changes.categoryId))) {
      throw new InvalidCatalogInputError("product.category_id", "no such category");
    }
    if (changes.stockOnHand !== undefined && changes.stockOnHand < before.stockHeld) {
      throw new StockBelowHeldError(id, changes.stockOnHand, before.stockHeld);
    }
    await updateProductRow(trx, id, changes);
    const after = { ...before, ...changes };
    const changed = Object.keys(changes).map((key) =>
      key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace("price_minor", "price"),
    );
    await appendEvent(trx, await productUpdatedEvent(trx, deps.images, before, after, changed, caller.id));
    if (changes.stockOnHand !== undefined && changes.stockOnHand !== before.stockOnHand) {
      await appendStockChanged(trx, caller.id, [{ ...before, stockOnHand: changes.stockOnHand }], { reason: "adjust" });
    }
  });
  deps.outbox.wake();
  return (await findProductById(deps.db, id))!;
}

export async function deleteProduct(deps: CatalogDeps, caller: Caller, id: string): Promise<void> {
  await inTransaction(deps.db, async (trx) => {
    manageable(caller, await findProductForUpdate(trx, id), id, "delete");
    await softDeleteProduct(trx, id);
    await appendEvent(trx, {
      source: "product",
      actorId: caller.id,
      subjectId: id,
      payload: { case: "productDeleted", value: { productId: id } },
    });
  });
  deps.outbox.wake();
}

export async function createCategory(
  deps: CatalogDeps,
  caller: Caller,
  category: Omit<Category, "id">,
): Promise<Category> {
  const created = { ...category, id: uuidv7() };
  await inTransaction(deps.db, async (trx) => {
    if (category.parentId && !(await categoryExists(trx, category.parentId))) {
      throw new InvalidCatalogInputError("category.parent_id", "no such category");
    }
    if (!(await insertCategory(trx, created))) throw new SlugTakenError(category.slug);
    await appendEvent(trx, {
      source: "product",
      actorId: caller.id,
      subjectId: created.id,
      payload: {
        case: "categoryCreated",
        value: { categoryId: created.id, parentId: created.parentId ?? "", name: created.name },
      },
    });
  });
  deps.outbox.wake();
  return created;
}

/**
 * One StockChanged for a stock move, with every product it moved as it stands now; the subject
 * is the reservation for a reservation's step, the product for an adjustment.
 */
export function appendStockChanged(
  trx: Parameters<typeof appendEvent>[0],
  actorId: string,
  products: Array<Pick<Product, "id" | "stockOnHand" | "stockHeld">>,
  move:
    | { reason: "adjust" }
    | { reason: "reserve" | "commit" | "release" | "expire" | "return"; reservationId: string },
): Promise<string> {
  const reservationId = "reservationId" in move ? move.reservationId : "";
  return appendEvent(trx, {
    source: "product",
    actorId,
    subjectId: reservationId || products[0]!.id,
    payload: {
      case: "stockChanged",
      value: {
        reason: move.reason,
        reservationId,
        levels: products.map((product) => ({
          productId: product.id,
          stockOnHand: product.stockOnHand,
          stockHeld: product.stockHeld,
          stockAvailable: availableStock(product),
        })),
      },
    },
  });
}

/** Prices are in the catalog's one currency; an empty code means that currency. */
export function checkCurrency(deps: Pick<CatalogDeps, "currencyCode">, currencyCode: string): void {
  if (currencyCode && currencyCode !== deps.currencyCode) {
    throw new InvalidCatalogInputError("product.price.currency_code", `the catalog is priced in ${deps.currencyCode}`);
  }
}
