// The catalog as the product service's domain sees it: plain types and pure rules.

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
  createTime: Date;
  updateTime: Date;
}

export type NewProduct = Omit<Product, "stockHeld" | "deleted" | "createTime" | "updateTime">;

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

export class InvalidPageTokenError extends Error {
  override name = "InvalidPageTokenError";
  constructor() {
    super("page_token is not valid for this query");
  }
}

export class ProductNotFoundError extends Error {
  override name = "ProductNotFoundError";
  readonly productId: string;
  constructor(productId: string) {
    super(`product ${productId} not found`);
    this.productId = productId;
  }
}

export function encodePageToken(cursor: ProductCursor): string {
  const payload = { o: cursor.order, i: cursor.id, p: cursor.priceMinor?.toString() };
  return Buffer.from(JSON.stringify(payload)).toString("base64url");
}

/** Reads a token handed out by encodePageToken; anything else is the client's mistake. */
export function decodePageToken(token: string, order: ProductOrder): ProductCursor {
  try {
    const payload = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Record<string, unknown>;
    const id = payload.i;
    const price = payload.p;
    if (payload.o !== order || typeof id !== "string" || !/^[0-9a-f-]{36}$/.test(id)) throw new InvalidPageTokenError();
    if (order === "newest") return { order, id };
    if (typeof price !== "string" || !/^\d{1,18}$/.test(price)) throw new InvalidPageTokenError();
    return { order, id, priceMinor: BigInt(price) };
  } catch {
    throw new InvalidPageTokenError();
  }
}
