// CategoryAdminService (internal): category editing for the admin service, which checks that the
// caller is an admin and audits each change.
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { CategoryAdminService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { reasonedError } from "../kit/error-info.ts";
import { CategoryInUseError, CategoryNotFoundError, changeCategory, removeCategory } from "./domain/edit-categories.ts";
import { type CatalogDeps, InvalidCatalogInputError, SlugTakenError } from "./domain/manage-catalog.ts";
import { categoryToProto } from "./product-service.ts";

export function createCategoryAdminService(
  deps: Pick<CatalogDeps, "db" | "outbox">,
): ServiceImpl<typeof CategoryAdminService> {
  return {
    async updateCategory(request, ctx) {
      const category = request.category!;
      if (!category.id) throw new ConnectError("category.id: required", Code.InvalidArgument);
      const paths = new Set(request.updateMask!.paths);
      if (paths.has("name") && !category.name)
        throw new ConnectError("category.name: must not be empty", Code.InvalidArgument);
      if (paths.has("slug") && !category.slug)
        throw new ConnectError("category.slug: must not be empty", Code.InvalidArgument);
      const updated = await mapErrors(() =>
        changeCategory(deps, callerOf(ctx).id, category.id, {
          name: paths.has("name") ? category.name : undefined,
          slug: paths.has("slug") ? category.slug : undefined,
          parentId: paths.has("parent_id") ? category.parentId || null : undefined,
          sortOrder: paths.has("sort_order") ? category.sortOrder : undefined,
        }),
      );
      return { category: categoryToProto(updated) };
    },

    async deleteCategory(request, ctx) {
      const { movedProducts } = await mapErrors(() =>
        removeCategory(deps, callerOf(ctx).id, request.id, request.moveProductsTo || undefined),
      );
      return { movedProductCount: movedProducts };
    },
  };
}

async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof CategoryNotFoundError) throw new ConnectError(error.message, Code.NotFound);
    if (error instanceof InvalidCatalogInputError) throw new ConnectError(error.message, Code.InvalidArgument);
    if (error instanceof SlugTakenError) throw reasonedError("SLUG_TAKEN", error.message, { slug: error.slug });
    if (error instanceof CategoryInUseError) {
      throw reasonedError("CATEGORY_IN_USE", error.message, {
        category_id: error.categoryId,
        product_count: String(error.productCount),
        child_count: String(error.childCount),
      });
    }
    throw error;
  }
}
