// ProductService: proto ↔ domain, domain errors → ConnectError. The catalog reads are real
// (M1 slice); writes, search and batch reads arrive with M3.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  ProductOrder as ProtoProductOrder,
  ProductService,
  type ProductSchema,
  type CategorySchema,
} from "../../gen/bazaar/product/v1/product_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  availableStock,
  decodePageToken,
  encodePageToken,
  InvalidPageTokenError,
  pageSizeOf,
  type Category,
  type Product,
  type ProductOrder,
} from "./domain/catalog.ts";
import type { ProductDatabase } from "./db/database.ts";
import { findProductById, listCategories, listVisibleProducts } from "./db/product.repository.ts";

export interface ProductServiceDeps {
  db: Kysely<ProductDatabase>;
}

const notYet = (rpc: string) => new ConnectError(`ProductService.${rpc} arrives with M3`, Code.Unimplemented);

export function createProductService({ db }: ProductServiceDeps): ServiceImpl<typeof ProductService> {
  return {
    async getProduct(request) {
      const product = await findProductById(db, request.id);
      if (!product || product.deleted || !product.active) {
        throw new ConnectError(`product ${request.id} not found`, Code.NotFound);
      }
      return { product: toProto(product) };
    },

    async listProducts(request) {
      const order = orderOf(request.orderBy);
      const limit = pageSizeOf(request.pageSize);
      const after = request.pageToken ? decodeOrReject(request.pageToken, order) : undefined;
      // One extra row tells whether another page exists without a COUNT.
      const rows = await listVisibleProducts(db, {
        filter: {
          categoryId: request.categoryId || undefined,
          shopId: request.shopId || undefined,
          sellerId: request.sellerId || undefined,
          minPriceMinor: request.minPriceMinor,
          maxPriceMinor: request.maxPriceMinor,
          featuredOnly: request.featuredOnly,
        },
        order,
        after,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        products: page.map(toProto),
        nextPageToken:
          rows.length > limit && last ? encodePageToken({ order, id: last.id, priceMinor: last.priceMinor }) : "",
      };
    },

    async listCategories() {
      return { categories: (await listCategories(db)).map(categoryToProto) };
    },

    searchProducts: () => Promise.reject(notYet("SearchProducts")),
    batchGetProducts: () => Promise.reject(notYet("BatchGetProducts")),
    createProduct: () => Promise.reject(notYet("CreateProduct")),
    updateProduct: () => Promise.reject(notYet("UpdateProduct")),
    deleteProduct: () => Promise.reject(notYet("DeleteProduct")),
    createCategory: () => Promise.reject(notYet("CreateCategory")),
    adjustStock: () => Promise.reject(notYet("AdjustStock")),
  };
}

function decodeOrReject(token: string, order: ProductOrder) {
  try {
    return decodePageToken(token, order);
  } catch (error) {
    if (error instanceof InvalidPageTokenError) throw new ConnectError(error.message, Code.InvalidArgument);
    throw error;
  }
}

function orderOf(order: ProtoProductOrder): ProductOrder {
  switch (order) {
    case ProtoProductOrder.PRICE_ASC:
      return "price_asc";
    case ProtoProductOrder.PRICE_DESC:
      return "price_desc";
    default:
      return "newest";
  }
}

function toProto(product: Product): MessageInitShape<typeof ProductSchema> {
  return {
    id: product.id,
    shopId: product.shopId,
    sellerId: product.sellerId,
    name: product.name,
    description: product.description,
    price: { currencyCode: product.currencyCode, amountMinor: product.priceMinor },
    categoryId: product.categoryId,
    tags: product.tags,
    imageUrls: product.imageUrls,
    stockAvailable: availableStock(product),
    stockOnHand: product.stockOnHand,
    featured: product.featured,
    active: product.active,
    createTime: timestampFromDate(product.createTime),
    updateTime: timestampFromDate(product.updateTime),
  };
}

function categoryToProto(category: Category): MessageInitShape<typeof CategorySchema> {
  return {
    id: category.id,
    parentId: category.parentId ?? "",
    name: category.name,
    slug: category.slug,
    sortOrder: category.sortOrder,
  };
}
