// The product service as the cart's ProductCatalog port: BatchGetProducts over the mesh.
import type { Client } from "@connectrpc/connect";
import type { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import type { ProductCatalog } from "./domain/manage-cart.ts";

export function productCatalogOver(products: Client<typeof ProductService>): ProductCatalog {
  return {
    async fetch(productIds) {
      if (productIds.length === 0) return [];
      const { products: found } = await products.batchGetProducts({ ids: productIds }, { timeoutMs: 2_000 });
      return found.map((product) => ({
        productId: product.id,
        shopId: product.shopId,
        name: product.name,
        unitPriceMinor: product.price?.amountMinor ?? 0n,
        currencyCode: product.price?.currencyCode ?? "",
        imageUrl: product.imageUrls[0] ?? "",
        forSale: product.active,
        stockAvailable: product.stockAvailable,
      }));
    },
  };
}
