// CategoryAdminService's handlers in memory against a database of their own: only services may
// edit categories, a move never puts a category below itself, and a category in use is deleted
// only by moving its products, each refusal with its code and reason.
import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CategoryAdminService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { errorInfoOf } from "../kit/error-info.ts";
import { uuidv7 } from "../kit/ids.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { createTestTokens, oneOfEach, signedIn, type Callers, type SignedIn } from "../kit/testing/tokens.ts";
import type { ProductDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import {
  aProduct,
  madeCategory,
  openedShop,
  productServicesInMemory,
  type ProductServices,
} from "./product-builders.ts";

let db: Kysely<ProductDatabase>;
let services: ProductServices;
let callers: Callers;
let admin: SignedIn;
let seller: SignedIn;
let adminService: SignedIn;
let shopId: string;

beforeAll(async () => {
  db = await migratedTestDatabase<ProductDatabase>("category_admin_handlers", migrations);
  const tokens = await createTestTokens();
  services = await productServicesInMemory(db, tokens.verifier);
  callers = await oneOfEach(tokens);
  [admin, seller, adminService] = await Promise.all([
    signedIn(tokens, "admin"),
    signedIn(tokens, "seller"),
    signedIn(tokens, "service", "service:admin"),
  ]);
  shopId = await openedShop(services, seller);
});

afterAll(async () => {
  await db?.destroy();
});

const update = (category: { id: string; parentId?: string; name?: string; slug?: string }, paths: string[]) =>
  services.categoryAdmin.updateCategory({ category, updateMask: { paths } }, adminService.options);
const remove = (id: string, moveProductsTo = "") =>
  services.categoryAdmin.deleteCategory({ id, moveProductsTo }, adminService.options);
const categories = async () => (await services.products.listCategories({})).categories;
const childOf = async (parentId: string) =>
  (
    await services.products.createCategory(
      { category: { name: "Child", slug: `child-${randomBytes(4).toString("hex")}`, parentId } },
      admin.options,
    )
  ).category!.id;

describe("who may edit categories", () => {
  it.each(accessMatrix(CategoryAdminService, { updateCategory: "service", deleteCategory: "service" }))(
    "%s",
    async (_story, method, caller, expected) => {
      expect(await accessOutcome(services.server.transport, method, callers[caller])).toBe(expected);
    },
  );
});

describe("changing a category", () => {
  it("when a category is renamed, re-slugged and moved, then ListCategories shows only those fields changed", async () => {
    const parent = await madeCategory(services, admin);
    const id = await madeCategory(services, admin);
    const slug = `green-${randomBytes(4).toString("hex")}`;
    const { category } = await update({ id, name: "Green tea", slug, parentId: parent }, ["name", "slug", "parent_id"]);
    expect(category).toMatchObject({ id, name: "Green tea", slug, parentId: parent, sortOrder: 0 });
    expect((await categories()).find((c) => c.id === id)).toEqual(category);
    // An empty parent with parent_id in the mask moves it back to the top level.
    expect((await update({ id }, ["parent_id"])).category?.parentId).toBe("");
  });

  it("when a category would move below itself or one of its descendants, then invalid_argument and it stays", async () => {
    const top = await madeCategory(services, admin);
    const child = await childOf(top);
    const grandchild = await childOf(child);
    for (const parentId of [top, grandchild]) {
      expect((await failureOf(update({ id: top, parentId }, ["parent_id"]))).code).toBe(Code.InvalidArgument);
    }
    expect((await failureOf(update({ id: top, parentId: uuidv7() }, ["parent_id"]))).code).toBe(Code.InvalidArgument);
    expect((await categories()).find((c) => c.id === top)?.parentId).toBe("");
  });

  it("when two admins move two categories below each other at once, then one move wins, the other is refused, and no loop forms", async () => {
    for (let round = 0; round < 10; round++) {
      const [one, other] = [await madeCategory(services, admin), await madeCategory(services, admin)];
      // Each move locks its own row, then walks up from the new parent: the two walks cross, so
      // InnoDB picks a deadlock victim, which must run again (and then see the loop), not fail.
      const outcomes = await Promise.allSettled([
        update({ id: one, parentId: other }, ["parent_id"]),
        update({ id: other, parentId: one }, ["parent_id"]),
      ]);
      const refused = outcomes.filter((outcome) => outcome.status === "rejected");
      expect(refused).toHaveLength(1);
      expect(ConnectError.from((refused[0] as PromiseRejectedResult).reason).code).toBe(Code.InvalidArgument);
      const parents = new Map((await categories()).map((c) => [c.id, c.parentId]));
      expect([parents.get(one), parents.get(other)].filter((parent) => parent === "")).toHaveLength(1);
    }
  });

  it("when the slug belongs to another category, then SLUG_TAKEN naming it", async () => {
    const [one, other] = [await madeCategory(services, admin), await madeCategory(services, admin)];
    const taken = (await categories()).find((c) => c.id === other)!.slug;
    const error = await failureOf(update({ id: one, slug: taken }, ["slug"]));
    expect(error.code).toBe(Code.AlreadyExists);
    expect(errorInfoOf(error)).toEqual({ reason: "SLUG_TAKEN", metadata: { slug: taken } });
  });

  it("when the update mask is empty, then nothing changes and the call succeeds (it once failed internal)", async () => {
    const id = await madeCategory(services, admin);
    const before = (await categories()).find((c) => c.id === id);
    const { category } = await update({ id, name: "Ignored" }, []);
    expect(category).toEqual(before);
    expect((await categories()).find((c) => c.id === id)).toEqual(before);
  });

  it("when only the name changes, then the answer is the whole category as stored, its other fields kept", async () => {
    const parent = await madeCategory(services, admin);
    const id = await childOf(parent);
    const { category } = await update({ id, name: "Renamed" }, ["name"]);
    expect(category).toEqual({ ...(await categories()).find((c) => c.id === id)!, name: "Renamed" });
    expect(category).toMatchObject({ parentId: parent, slug: expect.stringMatching(/^child-/) });
  });

  it("when the category does not exist, then not_found", async () => {
    expect((await failureOf(update({ id: uuidv7(), name: "X" }, ["name"]))).code).toBe(Code.NotFound);
  });
});

describe("deleting a category", () => {
  it("when a category has products and no target, then CATEGORY_IN_USE with the count, and nothing changes", async () => {
    const id = await madeCategory(services, admin);
    const { product } = await services.products.createProduct({ product: aProduct(shopId, id) }, seller.options);
    await services.products.createProduct({ product: aProduct(shopId, id) }, seller.options);
    const error = await failureOf(remove(id));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(error)).toEqual({
      reason: "CATEGORY_IN_USE",
      metadata: { category_id: id, product_count: "2", child_count: "0" },
    });
    expect((await categories()).some((c) => c.id === id)).toBe(true);
    expect((await services.products.getProduct({ id: product!.id })).product?.categoryId).toBe(id);
  });

  it("when a category in use is deleted with a target, then its products, deleted ones included, move there and it is gone", async () => {
    const [id, target] = [await madeCategory(services, admin), await madeCategory(services, admin)];
    const { product: kept } = await services.products.createProduct({ product: aProduct(shopId, id) }, seller.options);
    const { product: gone } = await services.products.createProduct({ product: aProduct(shopId, id) }, seller.options);
    await services.products.deleteProduct({ id: gone!.id }, seller.options);

    expect((await remove(id, target)).movedProductCount).toBe(2);
    expect((await categories()).some((c) => c.id === id)).toBe(false);
    const listed = await services.products.listProducts({ categoryId: target });
    expect(listed.products.map((p) => p.id)).toEqual([kept!.id]);
    expect((await services.products.getProduct({ id: gone!.id }, seller.options)).product?.categoryId).toBe(target);
  });

  it("when a category has child categories, then CATEGORY_IN_USE with the count, even with a target", async () => {
    const id = await madeCategory(services, admin);
    await childOf(id);
    const error = await failureOf(remove(id, await madeCategory(services, admin)));
    expect(errorInfoOf(error)).toMatchObject({ reason: "CATEGORY_IN_USE", metadata: { child_count: "1" } });
  });

  it("when an unused category is deleted, then it is gone and nothing moved; the target must be another existing category", async () => {
    const id = await madeCategory(services, admin);
    expect((await failureOf(remove(id, id))).code).toBe(Code.InvalidArgument);
    expect((await remove(id)).movedProductCount).toBe(0);
    expect((await failureOf(remove(id))).code).toBe(Code.NotFound);
    const used = await madeCategory(services, admin);
    await services.products.createProduct({ product: aProduct(shopId, used) }, seller.options);
    expect((await failureOf(remove(used, uuidv7()))).code).toBe(Code.InvalidArgument);
  });
});
