// The catalog as the product service's domain sees it: plain types and pure rules.
import { cursorField, pageTokenCodec } from "../../kit/pages.ts";

export interface Category {
  id: string;
  parentId: string | null;
  name: string;
  slug: string;
  sortOrder: number;
}

export interface Product {
  id: string;
  shopId: string;
  sellerId: string;
  categoryId: string;
  name: string;
  description: string;
  priceMinor: bigint;
  currencyCode: string;
  tags: string[];
  imageUrls: string[];
  stockOnHand: number;
  stockHeld: number;
  featured: boolean;
  active: boolean;
  deleted: boolean;
  /** When it was soft-deleted; null while it is not. */
  deleteTime: Date | null;
  /** Its shop is suspended by an admin: hidden from buyers like an inactive product. */
  shopSuspended: boolean;
  createTime: Date;
  updateTime: Date;
}

export type NewProduct = Omit<
  Product,
  "stockHeld" | "deleted" | "deleteTime" | "shopSuspended" | "createTime" | "updateTime"
>;

/** Fields UpdateProduct may change; undefined leaves a field as it is. */
export interface ProductChanges {
  name?: string;
  description?: string;
  priceMinor?: bigint;
  categoryId?: string;
  tags?: string[];
  imageUrls?: string[];
  stockOnHand?: number;
  featured?: boolean;
  active?: boolean;
}

/** What a buyer can still reserve: on hand minus what open reservations hold. */
export function availableStock(product: Pick<Product, "stockOnHand" | "stockHeld">): number {
  return Math.max(0, product.stockOnHand - product.stockHeld);
}

export type ProductOrder = "newest" | "price_asc" | "price_desc";

export interface ProductFilter {
  /** Matches this category and every category below it. */
  categoryId?: string;
  shopId?: string;
  sellerId?: string;
  minPriceMinor?: bigint;
  maxPriceMinor?: bigint;
  featuredOnly?: boolean;
  /** Only products with fewer units available than this. */
  lowStockBelow?: number;
}

/**
 * Which products besides those buyers see a list holds. Only for the products' own seller or an
 * admin: the handler checks that before asking.
 */
export interface HiddenProducts {
  /** Inactive products and those of suspended shops. */
  inactive: boolean;
  deleted: boolean;
}

/**
 * Where the previous page ended. NEWEST orders by id alone: ids are UUIDv7, so a later insert
 * always sorts before the cursor and never shifts a page that was already read.
 */
export interface ProductCursor {
  order: ProductOrder;
  id: string;
  priceMinor?: bigint;
}

/**
 * Page tokens of product lists: the last row's sort keys, bound to the sort order. Every token
 * carries the price; NEWEST ignores it.
 */
export const productPageTokens = pageTokenCodec({
  order: cursorField.text("o"),
  id: cursorField.id("i"),
  priceMinor: cursorField.bigint("p"),
});

export class ProductNotFoundError extends Error {
  override name = "ProductNotFoundError";
  readonly productId: string;
  constructor(productId: string) {
    super(`product ${productId} not found`);
    this.productId = productId;
  }
}
