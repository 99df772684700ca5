// The catalog queries against a real MariaDB: filters, keyset pages, full-text search and the
// products of suspended shops.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createDb, ensureDatabase, migrateToLatest } from "../../kit/db.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { ProductOrder } from "../domain/catalog.ts";
import type { ProductDatabase } from "./database.ts";
import { migrations } from "./migrations/index.ts";
import {
  findProductById,
  findVisibleProductsByIds,
  listSellerProducts,
  listVisibleProducts,
  searchVisibleProducts,
} from "./product.repository.ts";
import { reactivateShopRow, suspendShopRow } from "./shop.repository.ts";

let db: Kysely<ProductDatabase>;
const shopId = uuidv7();
const parentCategory = uuidv7();
const childCategory = uuidv7();
const otherCategory = uuidv7();

beforeAll(async () => {
  const database = `product_repo_${randomBytes(4).toString("hex")}`;
  await ensureDatabase(inject("mysqlUrl"), database);
  db = createDb<ProductDatabase>({ url: inject("mysqlUrl"), database });
  await migrateToLatest(db as Kysely<unknown>, migrations);
  await db
    .insertInto("categories")
    .values([
      { id: parentCategory, parent_id: null, name: "Parent", slug: "parent", sort_order: 0 },
      { id: childCategory, parent_id: parentCategory, name: "Child", slug: "child", sort_order: 0 },
      { id: otherCategory, parent_id: null, name: "Other", slug: "other", sort_order: 1 },
    ])
    .execute();
  await db
    .insertInto("shops")
    .values({
      id: shopId,
      seller_id: uuidv7(),
      name: "Shop",
      description: "",
      address: "{}",
      latitude: 52.5,
      longitude: 13.4,
    })
    .execute();
  for (let i = 0; i < 30; i++) await insertProduct(i % 3 === 0 ? otherCategory : childCategory, 100 + (i % 7) * 10);
  await insertProduct(childCategory, 50, { delete_time: new Date() });
  await insertProduct(childCategory, 60, { active: 0 });
});

afterAll(async () => {
  await db?.destroy();
});

interface ProductExtras {
  shopId?: string;
  delete_time?: Date;
  active?: number;
  name?: string;
  description?: string;
  tags?: string[];
  sellerId?: string;
  stockOnHand?: number;
  stockHeld?: number;
}

async function insertProduct(categoryId: string, price: number, extra: ProductExtras = {}) {
  const id = uuidv7();
  const tags = extra.tags ?? [];
  await db
    .insertInto("products")
    .values({
      id,
      shop_id: extra.shopId ?? shopId,
      seller_id: extra.sellerId ?? uuidv7(),
      category_id: categoryId,
      name: extra.name ?? `P ${id}`,
      description: extra.description ?? "",
      price_minor: BigInt(price),
      currency_code: "USD",
      tags: JSON.stringify(tags),
      tags_text: tags.join(" "),
      image_urls: "[]",
      delete_time: extra.delete_time ?? null,
      active: extra.active ?? 1,
      stock_on_hand: extra.stockOnHand ?? 0,
      stock_held: extra.stockHeld ?? 0,
    })
    .execute();
  return id;
}

async function readAllPages(order: ProductOrder, pageSize: number, betweenPages?: () => Promise<void>) {
  const seen: Array<{ id: string; priceMinor: bigint }> = [];
  let after: Parameters<typeof listVisibleProducts>[1]["after"];
  for (;;) {
    const page = await listVisibleProducts(db, {
      filter: { categoryId: parentCategory },
      order,
      after,
      limit: pageSize,
    });
    seen.push(...page);
    if (page.length < pageSize) return seen;
    const last = page.at(-1)!;
    after = { order, id: last.id, priceMinor: last.priceMinor };
    await betweenPages?.();
  }
}

describe("listing products", () => {
  it("when filtering by a parent category, then products of its child category are included and hidden ones are not", async () => {
    const products = await listVisibleProducts(db, {
      filter: { categoryId: parentCategory },
      order: "newest",
      limit: 100,
    });
    expect(products).toHaveLength(20);
    expect(products.every((p) => p.categoryId === childCategory && p.active && !p.deleted)).toBe(true);
  });

  it.each<ProductOrder>(["newest", "price_asc", "price_desc"])(
    "when products are inserted between pages (%s), then no product of the first listing repeats or goes missing",
    async (order) => {
      const before = (await readAllPages(order, 100)).map((p) => p.id);
      const inserted: string[] = [];
      const paged = await readAllPages(order, 4, async () => {
        inserted.push(await insertProduct(childCategory, 130));
      });
      const ids = paged.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(before.every((id) => ids.includes(id))).toBe(true);
      expect(ids.filter((id) => !before.includes(id)).every((id) => inserted.includes(id))).toBe(true);
      if (order !== "newest") {
        const prices = paged.map((p) => p.priceMinor);
        const sorted = [...prices].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(prices).toEqual(order === "price_asc" ? sorted : sorted.reverse());
      }
    },
  );

  it("when filtering by a price range, then only prices inside it come back", async () => {
    const products = await listVisibleProducts(db, {
      filter: { minPriceMinor: 120n, maxPriceMinor: 140n },
      order: "price_asc",
      limit: 100,
    });
    expect(products.length).toBeGreaterThan(0);
    expect(products.every((p) => p.priceMinor >= 120n && p.priceMinor <= 140n)).toBe(true);
  });
});

describe("searching products", () => {
  const word = `zq${randomBytes(3).toString("hex")}`;
  const search = (text: string) => searchVisibleProducts(db, { text, filter: {}, limit: 100 });
  const ranking = async (text: string) =>
    (await search(text)).map(({ product, score }) => ({ name: product.name, score }));

  it("when a buyer searches, then the exact name comes first, then products by where they have the query's words: name, tags, description", async () => {
    // Inserted best first: newest first, the tie-break, would give the opposite order.
    const insert = (name: string, extra: ProductExtras = {}) => insertProduct(otherCategory, 500, { name, ...extra });
    await insert(`${word} teapot`);
    await insert(`Teapot (${word} edition)`);
    await insert(`${word} kettle`, { description: "Pairs with any teapot." });
    await insert(`${word} mug`);
    await insert("Mug", { tags: ["ceramic", word] });
    await insert("Cup", { description: `A cup for ${word} tea.` });
    await insert(`Hidden ${word} teapot`, { active: 0 });

    const expected = [
      { name: `${word} teapot`, score: 1008 },
      { name: `Teapot (${word} edition)`, score: 8 },
      { name: `${word} kettle`, score: 5 },
      { name: `${word} mug`, score: 4 },
      { name: "Mug", score: 2 },
      { name: "Cup", score: 1 },
    ];
    expect(await ranking(`${word} teapot`)).toEqual(expected);
    // Case and punctuation do not matter, nor do words the index leaves out ("the"); without the
    // exact name, the two products with both words in their names tie, newest first.
    const [exact, bothWords, ...rest] = expected;
    expect(await ranking(`The ${word.toUpperCase()}, TEAPOT!`)).toEqual([bothWords, { ...exact!, score: 8 }, ...rest]);
  });

  it("when other products are added, then a search keeps its scores and order, so its page tokens stay valid", async () => {
    // InnoDB's own relevance moved with its row-count statistic: every insert changed every score.
    const before = await ranking(`${word} teapot`);
    expect(before.length).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) await insertProduct(otherCategory, 500);
    expect(await ranking(`${word} teapot`)).toEqual(before);
  });
});

describe("suspended shops", () => {
  it("when a shop is suspended, then its products leave every read buyers make and come back as they were on reactivation", async () => {
    const suspendedShop = uuidv7();
    await db
      .insertInto("shops")
      .values({
        id: suspendedShop,
        seller_id: uuidv7(),
        name: "Gone",
        description: "",
        address: "{}",
        latitude: 1,
        longitude: 1,
      })
      .execute();
    const word = `zs${randomBytes(3).toString("hex")}`;
    const productId = await insertProduct(otherCategory, 70, { name: `${word} kettle`, shopId: suspendedShop });
    const visible = async () => ({
      listed: (await listVisibleProducts(db, { filter: { shopId: suspendedShop }, order: "newest", limit: 10 })).length,
      searched: (await searchVisibleProducts(db, { text: word, filter: {}, limit: 10 })).length,
      byIds: (await findVisibleProductsByIds(db, [productId])).length,
      shopSuspended: (await findProductById(db, productId))?.shopSuspended,
    });
    expect(await visible()).toEqual({ listed: 1, searched: 1, byIds: 1, shopSuspended: false });

    expect(await suspendShopRow(db, suspendedShop, "spam")).toBe(true);
    expect(await suspendShopRow(db, suspendedShop, "again")).toBe(false);
    expect(await visible()).toEqual({ listed: 0, searched: 0, byIds: 0, shopSuspended: true });
    // Other shops' products are untouched.
    expect(await listVisibleProducts(db, { filter: { shopId }, order: "newest", limit: 1 })).toHaveLength(1);

    expect(await reactivateShopRow(db, suspendedShop)).toBe(true);
    expect(await reactivateShopRow(db, suspendedShop)).toBe(false);
    expect(await visible()).toEqual({ listed: 1, searched: 1, byIds: 1, shopSuspended: false });
  });
});

describe("a seller's own products", () => {
  it("when hidden products are asked for, then inactive, deleted and suspended-shop ones come with their state; low stock counts what is held", async () => {
    const sellerId = uuidv7();
    const [openShop, suspendedShop] = [uuidv7(), uuidv7()];
    for (const id of [openShop, suspendedShop])
      await db
        .insertInto("shops")
        .values({ id, seller_id: sellerId, name: "Own", description: "", address: "{}", latitude: 1, longitude: 1 })
        .execute();
    const mine = (extra: ProductExtras) => insertProduct(otherCategory, 80, { sellerId, shopId: openShop, ...extra });
    const onSale = await mine({ stockOnHand: 10 });
    const mostlyHeld = await mine({ stockOnHand: 10, stockHeld: 9 });
    const inactive = await mine({ active: 0, stockOnHand: 1 });
    const deleted = await mine({ delete_time: new Date(), stockOnHand: 10 });
    const ofSuspendedShop = await mine({ shopId: suspendedShop, stockOnHand: 10 });
    await suspendShopRow(db, suspendedShop, "spam");
    // Another seller's hidden product in the same shop table must never appear.
    await insertProduct(otherCategory, 80, { shopId: openShop, active: 0 });

    const list = async (hidden: { inactive: boolean; deleted: boolean }, lowStockBelow?: number) =>
      (await listSellerProducts(db, { filter: { sellerId, lowStockBelow }, hidden, order: "newest", limit: 50 })).map(
        (p) => ({ id: p.id, active: p.active, deleted: p.deleted, shopSuspended: p.shopSuspended }),
      );
    const state = (id: string, active = true, deleted = false, shopSuspended = false) => ({
      id,
      active,
      deleted,
      shopSuspended,
    });
    const newestFirst = <T extends { id: string }>(rows: T[]) => rows.sort((a, b) => b.id.localeCompare(a.id));

    expect(await list({ inactive: false, deleted: false })).toEqual(newestFirst([state(onSale), state(mostlyHeld)]));
    expect(await list({ inactive: true, deleted: false })).toEqual(
      newestFirst([
        state(onSale),
        state(mostlyHeld),
        state(inactive, false),
        state(ofSuspendedShop, true, false, true),
      ]),
    );
    expect(await list({ inactive: false, deleted: true })).toEqual(
      newestFirst([state(onSale), state(mostlyHeld), state(deleted, true, true)]),
    );
    expect(await list({ inactive: true, deleted: true }, 2)).toEqual(
      newestFirst([state(mostlyHeld), state(inactive, false)]),
    );
    expect(
      (await listVisibleProducts(db, { filter: { sellerId, lowStockBelow: 2 }, order: "newest", limit: 50 })).map(
        (p) => p.id,
      ),
    ).toEqual([mostlyHeld]);
  });
});
