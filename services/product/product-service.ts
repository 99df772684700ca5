// ProductService: proto ↔ domain, domain errors → ConnectError.
import { createHash } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  ProductOrder as ProtoProductOrder,
  type ProductService,
  type ProductSchema,
  type GetProductResponse,
  GetProductResponseSchema,
  type CategorySchema,
  type ListProductsRequest,
  type SearchProductsRequest,
  type SearchFacetsSchema,
} from "../../gen/bazaar/product/v1/product_pb.ts";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  availableStock,
  productPageTokens,
  ProductNotFoundError,
  type Category,
  type Product,
  type ProductFilter,
  type ProductOrder,
} from "./domain/catalog.ts";
import type { ProductDatabase } from "./db/database.ts";
import {
  findVisibleProductsByIds,
  listCategories,
  listSellerProducts,
  listVisibleProducts,
  countSearchMatches,
  searchVisibleProducts,
  type ProductSearch,
} from "./db/product.repository.ts";
import type { SearchReadModel } from "./domain/search-read-model.ts";
import { readProduct, type ProductReadCache } from "./domain/product-read-cache.ts";
import { reusedAnswer } from "../kit/serve.ts";
import { freshReadHeader } from "../kit/fresh-reads.ts";
import { requestHeaderValue } from "../kit/grpc-context.ts";
import type { ImageRow } from "./db/database.ts";
import { facetsOf, priceBandEdges, type SearchFacets, UnknownPagePositionError } from "./domain/search-model.ts";
import {
  createCategory,
  canManage,
  createProduct,
  deleteProduct,
  InvalidCatalogInputError,
  isVisibleTo,
  NotAllowedError,
  ShopNotFoundError,
  SlugTakenError,
  StockBelowHeldError,
  updateProduct,
  type CatalogDeps,
} from "./domain/manage-catalog.ts";
import { type Caller, callerKey, callerOf } from "../kit/auth.ts";
import type { Image } from "../../gen/bazaar/common/v1/common_pb.ts";
import { imagesOf } from "./db/media.repository.ts";
import { imageToProto } from "./media/image-proto.ts";
import { reasonedError } from "../kit/error-info.ts";
import { cursorField, pageSizeOf, pageTokenCodec } from "../kit/pages.ts";

export interface ProductServiceDeps extends CatalogDeps {
  db: Kysely<ProductDatabase>;
  /** Answers searches once built; MariaDB's FULLTEXT index does until then, or without one. */
  searchModel?: SearchReadModel;
  /** Answers GetProduct from memory; without one, every read goes to MariaDB. */
  readCache?: ProductReadCache;
}

export function createProductService(deps: ProductServiceDeps): ServiceImpl<typeof ProductService> {
  const { db } = deps;
  /** A page of visible matches, best first, from the read model or else from MariaDB. */
  const searchCatalog = async (search: ProductSearch) => {
    let ranked: Array<{ id: string; score: number }> | undefined;
    try {
      ranked = await deps.searchModel?.search(search);
    } catch (error) {
      if (error instanceof UnknownPagePositionError)
        throw new ConnectError("page_token is no longer valid", Code.InvalidArgument);
      throw error;
    }
    if (!ranked) return searchVisibleProducts(db, search);
    // Read from the catalog, which also drops any the index still has as visible.
    const byId = new Map(
      (
        await findVisibleProductsByIds(
          db,
          ranked.map((row) => row.id),
        )
      ).map((p) => [p.id, p]),
    );
    return ranked.flatMap(({ id, score }) => {
      const product = byId.get(id);
      return product ? [{ product, score }] : [];
    });
  };
  /**
   * The products as the contract has them, each with its gallery: READY pictures, and for a
   * product the caller manages those still processing or failed too. One query for the page.
   */
  const withGalleries = async (products: Product[], caller: Caller | undefined) => {
    const rows = await imagesOf(
      db,
      products.map((p) => p.id),
      true,
    );
    return products.map((product) =>
      toProto(product, galleryOf(product, rows, caller !== undefined && canManage(caller, product.sellerId))),
    );
  };
  /** READY pictures, and for a caller who manages the product those processing or failed too. */
  const galleryOf = (product: Product, rows: ImageRow[], manages: boolean) =>
    rows
      .filter((row) => row.owner_id === product.id && (manages || row.status === "READY"))
      .map((row) => imageToProto(row, deps.images));
  const searchFacets = async (text: string, filter: ProductFilter) =>
    (await deps.searchModel?.facets(text, filter)) ??
    facetsOf(await countSearchMatches(db, text, filter, priceBandEdges));
  return {
    async getProduct(request, ctx) {
      const caller = ctx.values.get(callerKey);
      const fresh = requestHeaderValue(ctx, freshReadHeader) === "1";
      const found = await (deps.readCache?.get(request.id, { fresh }) ?? readProduct(db, request.id));
      if (!found || !isVisibleTo(found.product, caller)) {
        throw new ConnectError(`product ${request.id} not found`, Code.NotFound);
      }
      // Two answers per product: what its seller and admins see, and what everyone else does.
      const manages = caller !== undefined && canManage(caller, found.product.sellerId);
      const view = manages ? "managing" : "public";
      let answer = found.answers.get(view) as GetProductResponse | undefined;
      if (!answer) {
        answer = reusedAnswer(
          create(GetProductResponseSchema, {
            product: toProto(found.product, galleryOf(found.product, found.gallery, manages)),
          }),
        );
        found.answers.set(view, answer);
      }
      return answer;
    },

    async batchGetProducts(request, ctx) {
      const found = await findVisibleProductsByIds(db, request.ids);
      const answered = new Map(
        (await withGalleries(found, ctx.values.get(callerKey))).map((product) => [product.id, product]),
      );
      return {
        products: request.ids.flatMap((id) => (answered.has(id) ? [answered.get(id)!] : [])),
        missingIds: request.ids.filter((id) => !answered.has(id)),
      };
    },

    async createProduct(request, ctx) {
      const product = request.product!;
      const created = await mapErrors(() =>
        createProduct(deps, callerOf(ctx), {
          shopId: product.shopId,
          categoryId: product.categoryId,
          name: product.name,
          description: product.description,
          priceMinor: product.price!.amountMinor,
          currencyCode: product.price!.currencyCode,
          tags: product.tags,
          imageUrls: product.imageUrls,
          stockOnHand: product.stockOnHand,
          featured: product.featured,
        }),
      );
      return { product: (await withGalleries([created], callerOf(ctx)))[0]! };
    },

    async updateProduct(request, ctx) {
      const product = request.product!;
      if (!product.id) throw new ConnectError("product.id: required", Code.InvalidArgument);
      const paths = new Set(request.updateMask!.paths);
      const pick = <T>(path: string, value: T) => (paths.has(path) ? value : undefined);
      if (paths.has("price") && !product.price)
        throw new ConnectError("product.price: required by the mask", Code.InvalidArgument);
      if (paths.has("category_id") && !product.categoryId)
        throw new ConnectError("product.category_id: required by the mask", Code.InvalidArgument);
      if (paths.has("name") && !product.name)
        throw new ConnectError("product.name: must not be empty", Code.InvalidArgument);
      const updated = await mapErrors(() =>
        updateProduct(deps, callerOf(ctx), product.id, {
          name: pick("name", product.name),
          description: pick("description", product.description),
          priceMinor: pick("price", product.price?.amountMinor),
          currencyCode: pick("price", product.price?.currencyCode),
          categoryId: pick("category_id", product.categoryId),
          tags: pick("tags", product.tags),
          imageUrls: pick("image_urls", product.imageUrls),
          stockOnHand: pick("stock_on_hand", product.stockOnHand),
          featured: pick("featured", product.featured),
          active: pick("active", product.active),
        }),
      );
      return { product: (await withGalleries([updated], callerOf(ctx)))[0]! };
    },

    async deleteProduct(request, ctx) {
      await mapErrors(() => deleteProduct(deps, callerOf(ctx), request.id));
      return {};
    },

    async adjustStock(request, ctx) {
      const updated = await mapErrors(() =>
        updateProduct(deps, callerOf(ctx), request.id, { stockOnHand: request.stockOnHand }),
      );
      return { product: (await withGalleries([updated], callerOf(ctx)))[0]! };
    },

    async createCategory(request, ctx) {
      const category = request.category!;
      if (!category.name || !category.slug)
        throw new ConnectError("category.name and category.slug are required", Code.InvalidArgument);
      const created = await mapErrors(() =>
        createCategory(deps, callerOf(ctx), {
          parentId: category.parentId || null,
          name: category.name,
          slug: category.slug,
          sortOrder: category.sortOrder,
        }),
      );
      return { category: categoryToProto(created) };
    },

    async listProducts(request, ctx) {
      const order = orderOf(request.orderBy);
      const limit = pageSizeOf(request.pageSize);
      const after = request.pageToken
        ? { ...productPageTokens.decode(request.pageToken, { order }), order }
        : undefined;
      const filter = filterOf(request);
      const hidden = { inactive: request.includeInactive, deleted: request.includeDeleted };
      // One extra row tells whether another page exists without a COUNT.
      const keyset = { order, after, limit: limit + 1 };
      const rows =
        hidden.inactive || hidden.deleted
          ? await listSellerProducts(db, {
              ...keyset,
              filter: { ...filter, sellerId: ownSellerId(request, ctx) },
              hidden,
            })
          : await listVisibleProducts(db, { ...keyset, filter });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        products: await withGalleries(page, ctx.values.get(callerKey)),
        nextPageToken:
          rows.length > limit && last
            ? productPageTokens.encode({ order, id: last.id, priceMinor: last.priceMinor })
            : "",
      };
    },

    async listCategories() {
      return { categories: (await listCategories(db)).map(categoryToProto) };
    },

    async searchProducts(request, ctx) {
      const limit = pageSizeOf(request.pageSize);
      const query = queryFingerprint(request.query);
      const after = request.pageToken ? searchPages.decode(request.pageToken, { query }) : undefined;
      const text = request.query.trim();
      const filter = filterOf(request);
      const rows = await searchCatalog({ text, filter, after, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        products: await withGalleries(
          page.map((row) => row.product),
          ctx.values.get(callerKey),
        ),
        nextPageToken:
          rows.length > limit && last ? searchPages.encode({ query, score: last.score, id: last.product.id }) : "",
        facets: request.includeFacets ? facetsToProto(await searchFacets(text, filter)) : undefined,
      };
    },
  };
}

/**
 * The seller whose hidden products ListProducts may show: the caller themself, or anyone for an
 * admin. Checked here rather than in the access rules because ListProducts stays public.
 */
function ownSellerId(request: ListProductsRequest, ctx: HandlerContext): string {
  const caller = ctx.values.get(callerKey);
  if (!caller)
    throw new ConnectError("include_inactive and include_deleted need a signed-in seller", Code.Unauthenticated);
  if (!request.sellerId)
    throw new ConnectError("include_inactive and include_deleted need seller_id", Code.InvalidArgument);
  if (!canManage(caller, request.sellerId))
    throw new ConnectError("only a seller's own hidden products can be listed", Code.PermissionDenied);
  return request.sellerId;
}

async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ProductNotFoundError || error instanceof ShopNotFoundError)
      throw new ConnectError(error.message, Code.NotFound);
    if (error instanceof NotAllowedError) throw new ConnectError(error.message, Code.PermissionDenied);
    if (error instanceof InvalidCatalogInputError) throw new ConnectError(error.message, Code.InvalidArgument);
    if (error instanceof StockBelowHeldError) {
      throw reasonedError("STOCK_BELOW_HELD", error.message, {
        product_id: error.productId,
        stock_on_hand: String(error.stockOnHand),
        held: String(error.held),
      });
    }
    if (error instanceof SlugTakenError) throw reasonedError("SLUG_TAKEN", error.message, { slug: error.slug });
    throw error;
  }
}

// Search pages continue after (score, id) of the last match; a token is bound to its query.
const searchPages = pageTokenCodec({
  query: cursorField.text("q"),
  score: cursorField.number("s"),
  id: cursorField.id("i"),
});

function facetsToProto(facets: SearchFacets): MessageInitShape<typeof SearchFacetsSchema> {
  return {
    total: BigInt(facets.total),
    categories: facets.categories.map((c) => ({ categoryId: c.categoryId, count: BigInt(c.count) })),
    priceBands: facets.priceBands.map((band) => ({ ...band, count: BigInt(band.count) })),
  };
}

function queryFingerprint(query: string): string {
  return createHash("sha256").update(query.trim()).digest("base64url").slice(0, 12);
}

function filterOf(request: ListProductsRequest | SearchProductsRequest): ProductFilter {
  return {
    categoryId: request.categoryId || undefined,
    shopId: request.shopId || undefined,
    sellerId: request.sellerId || undefined,
    minPriceMinor: request.minPriceMinor,
    maxPriceMinor: request.maxPriceMinor,
    featuredOnly: request.featuredOnly,
    lowStockBelow: "lowStockBelow" in request ? request.lowStockBelow : undefined,
  };
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

function toProto(product: Product, images: Image[]): MessageInitShape<typeof ProductSchema> {
  return {
    images,
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
    shopSuspended: product.shopSuspended,
    createTime: timestampFromDate(product.createTime),
    updateTime: timestampFromDate(product.updateTime),
    deleteTime: product.deleteTime ? timestampFromDate(product.deleteTime) : undefined,
  };
}

/** A category as the contract has it; also answered by CategoryAdminService. */
export function categoryToProto(category: Category): MessageInitShape<typeof CategorySchema> {
  return {
    id: category.id,
    parentId: category.parentId ?? "",
    name: category.name,
    slug: category.slug,
    sortOrder: category.sortOrder,
  };
}
