// The product catalog in memory, for the cart's tests: products as a test shelves them, and an
// outage of the product service on demand.
import { Code, ConnectError } from "@connectrpc/connect";
import { uuidv7 } from "../kit/ids.ts";
import type { ProductSnapshot } from "./domain/cart.ts";
import type { ProductCatalog } from "./domain/manage-cart.ts";

export interface InMemoryCatalog extends ProductCatalog {
  /** Puts a product on the shelf (or replaces it) and returns it. */
  shelve(product: ProductSnapshot): ProductSnapshot;
  /** From now on every fetch fails as a product service that cannot be reached does. */
  goDown(): void;
}

export function inMemoryCatalog(): InMemoryCatalog {
  const products = new Map<string, ProductSnapshot>();
  let down = false;
  return {
    async fetch(productIds) {
      if (down) throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
      return productIds.flatMap((id) => (products.has(id) ? [products.get(id)!] : []));
    },
    shelve(product) {
      products.set(product.productId, product);
      return product;
    },
    goDown() {
      down = true;
    },
  };
}

/** A product for sale, 20 in stock, at 4.50 EUR; override what the story needs. */
export function aProduct(overrides: Partial<ProductSnapshot> = {}): ProductSnapshot {
  return {
    productId: uuidv7(),
    shopId: uuidv7(),
    name: "Green tea",
    unitPriceMinor: 450n,
    currencyCode: "EUR",
    imageUrl: "",
    imageJson: "",
    forSale: true,
    stockAvailable: 20,
    ...overrides,
  };
}
