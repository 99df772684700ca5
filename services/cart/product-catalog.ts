// The product service as the cart's ProductCatalog port: BatchGetProducts over the mesh.
import { toJsonString } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { ImageSchema } from "../../gen/bazaar/common/v1/common_pb.ts";
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
        // The gallery's main picture, card-sized WebP (only READY ones reach a service); else the
        // first of the URLs the seller listed.
        imageUrl:
          product.images[0]?.renditions.find((r) => r.name === "card" && r.contentType === "image/webp")?.url ??
          product.imageUrls[0] ??
          "",
        imageJson: product.images[0] ? toJsonString(ImageSchema, product.images[0]) : "",
        forSale: product.active,
        stockAvailable: product.stockAvailable,
      }));
    },
  };
}
