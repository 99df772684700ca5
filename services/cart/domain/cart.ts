// The cart as the cart service's domain sees it: lines, what the catalog says of each product,
// and the totals. Prices are integer minor units; nothing here rounds.

export const maxQuantityPerLine = 99;
export const maxLines = 50;

export interface ProductSnapshot {
  productId: string;
  /** The shop that sells it: a suspension of the shop takes it off sale. */
  shopId: string;
  name: string;
  unitPriceMinor: bigint;
  currencyCode: string;
  imageUrl: string;
  /** The main image with its renditions, as the contracts' JSON; empty when it has none. */
  imageJson: string;
  /** Exists, active and not deleted. */
  forSale: boolean;
  stockAvailable: number;
}

export interface CartLine {
  productId: string;
  quantity: number;
  addTime: Date;
}

export interface PricedLine {
  productId: string;
  quantity: number;
  product: ProductSnapshot | undefined;
  /** For sale with enough stock for the line's quantity. */
  available: boolean;
  lineTotalMinor: bigint;
}

export interface CartView {
  lines: PricedLine[];
  totalItems: number;
  subtotalMinor: bigint;
  updateTime: Date | undefined;
}

/** Totals count only lines that can be bought now; the others stay visible, marked unavailable. */
export function priceCart(
  lines: CartLine[],
  products: Map<string, ProductSnapshot>,
  updateTime: Date | undefined,
): CartView {
  const priced = lines.map((line) => {
    const product = products.get(line.productId);
    const available = !!product && product.forSale && product.stockAvailable >= line.quantity;
    return {
      productId: line.productId,
      quantity: line.quantity,
      product,
      available,
      lineTotalMinor: product ? product.unitPriceMinor * BigInt(line.quantity) : 0n,
    };
  });
  const counted = priced.filter((line) => line.available);
  return {
    lines: priced,
    totalItems: counted.reduce((sum, line) => sum + line.quantity, 0),
    subtotalMinor: counted.reduce((sum, line) => sum + line.lineTotalMinor, 0n),
    updateTime,
  };
}

export class ProductUnavailableError extends Error {
  override name = "ProductUnavailableError";
  readonly productId: string;
  constructor(productId: string) {
    super(`product ${productId} is not for sale`);
    this.productId = productId;
  }
}

export class NotEnoughStockError extends Error {
  override name = "NotEnoughStockError";
  readonly productId: string;
  readonly requested: number;
  readonly available: number;
  constructor(productId: string, requested: number, available: number) {
    super(`only ${available} of product ${productId} available, ${requested} wanted`);
    this.productId = productId;
    this.requested = requested;
    this.available = available;
  }
}

export class CartFullError extends Error {
  override name = "CartFullError";
  /** Which limit: different products per cart, or units of one product. */
  readonly limit: "lines" | "quantity_per_line";
  readonly max: number;
  constructor(limit: "lines" | "quantity_per_line", max: number) {
    super(limit === "lines" ? `a cart holds at most ${max} products` : `at most ${max} of one product per cart`);
    this.limit = limit;
    this.max = max;
  }
}

export class LineNotFoundError extends Error {
  override name = "LineNotFoundError";
}
