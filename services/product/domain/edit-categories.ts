// Admins editing the category tree: changing a category and deleting one that is no longer in
// use. The admin service checks that the caller is an admin and audits each change.
import { inTransaction } from "../../kit/db.ts";
import { appendEvent } from "../../kit/events.ts";
import type { Category } from "./catalog.ts";
import type { CatalogDeps } from "./manage-catalog.ts";
import { InvalidCatalogInputError, SlugTakenError } from "./manage-catalog.ts";
import type { Transaction } from "kysely";
import type { ProductDatabase } from "../db/database.ts";
import {
  categoryUse,
  categoryWithSlug,
  deleteCategoryRow,
  findCategoryForUpdate,
  moveCategoryProducts,
  updateCategoryRow,
} from "../db/product.repository.ts";

export class CategoryNotFoundError extends Error {
  override name = "CategoryNotFoundError";
}

export class CategoryInUseError extends Error {
  override name = "CategoryInUseError";
  readonly categoryId: string;
  readonly productCount: number;
  readonly childCount: number;
  constructor(categoryId: string, productCount: number, childCount: number) {
    super(
      childCount > 0
        ? `category ${categoryId} has ${childCount} child categories: move or delete them first`
        : `category ${categoryId} has ${productCount} products: give move_products_to`,
    );
    this.categoryId = categoryId;
    this.productCount = productCount;
    this.childCount = childCount;
  }
}

/** Fields UpdateCategory may change; undefined leaves a field as it is, parentId null means top level. */
export type CategoryChanges = Partial<Omit<Category, "id">>;

export async function changeCategory(
  deps: Pick<CatalogDeps, "db" | "outbox">,
  actorId: string,
  id: string,
  changes: CategoryChanges,
): Promise<Category> {
  const changed = await inTransaction(deps.db, async (trx) => {
    const category = await findCategoryForUpdate(trx, id);
    if (!category) throw new CategoryNotFoundError(`category ${id} not found`);
    if (changes.parentId) {
      // Walk up from the new parent, locking each ancestor so that two moves at once cannot
      // close a loop between them: meeting the category itself means it would sit below itself.
      // Two crossing walks deadlock; inTransaction runs the victim again, which then sees the loop.
      let ancestor: string | null = changes.parentId;
      while (ancestor) {
        if (ancestor === id)
          throw new InvalidCatalogInputError("category.parent_id", "a category cannot be below itself");
        const above = await findCategoryForUpdate(trx, ancestor);
        if (!above) throw new InvalidCatalogInputError("category.parent_id", "no such category");
        ancestor = above.parentId;
      }
    }
    if (changes.slug !== undefined && changes.slug !== category.slug) {
      const owner = await categoryWithSlug(trx, changes.slug);
      if (owner && owner !== id) throw new SlugTakenError(changes.slug);
    }
    try {
      await updateCategoryRow(trx, id, changes);
    } catch (error) {
      // Another category took the slug between the check and the update.
      if ((error as { errno?: number }).errno === 1062) throw new SlugTakenError(changes.slug ?? "");
      throw error;
    }
    await announceCategoryChange(trx, actorId, { categoryId: id, deleted: false, movedToCategoryId: "" });
    // Only the fields given: an undefined one leaves the stored value, in the answer too.
    const given = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    return { ...category, ...given };
  });
  deps.outbox.wake();
  return changed;
}

/**
 * Deletes a category that has no children; its products, if any, move to `moveProductsTo` in the
 * same transaction. The row lock on the category waits for products being added to it (their
 * foreign key locks it too), so none can slip in between the count and the delete.
 */
export async function removeCategory(
  deps: Pick<CatalogDeps, "db" | "outbox">,
  actorId: string,
  id: string,
  moveProductsTo: string | undefined,
): Promise<{ movedProducts: number }> {
  if (moveProductsTo === id) throw new InvalidCatalogInputError("move_products_to", "must be another category");
  const removed = await inTransaction(deps.db, async (trx) => {
    if (!(await findCategoryForUpdate(trx, id))) throw new CategoryNotFoundError(`category ${id} not found`);
    const use = await categoryUse(trx, id);
    if (use.children > 0 || (use.products > 0 && !moveProductsTo)) {
      throw new CategoryInUseError(id, use.products, use.children);
    }
    let movedProducts = 0;
    if (use.products > 0 && moveProductsTo) {
      if (!(await findCategoryForUpdate(trx, moveProductsTo)))
        throw new InvalidCatalogInputError("move_products_to", "no such category");
      movedProducts = await moveCategoryProducts(trx, id, moveProductsTo);
    }
    await deleteCategoryRow(trx, id);
    await announceCategoryChange(trx, actorId, {
      categoryId: id,
      deleted: true,
      movedToCategoryId: movedProducts > 0 ? moveProductsTo! : "",
    });
    return { movedProducts };
  });
  deps.outbox.wake();
  return removed;
}

/** CategoryChanged, for readers that keep catalog answers (the edge's cache). */
async function announceCategoryChange(
  trx: Transaction<ProductDatabase>,
  actorId: string,
  change: { categoryId: string; deleted: boolean; movedToCategoryId: string },
): Promise<void> {
  await appendEvent(trx, {
    source: "product",
    actorId,
    subjectId: change.categoryId,
    payload: { case: "categoryChanged", value: change },
  });
}
