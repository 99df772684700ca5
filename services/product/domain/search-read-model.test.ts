// The search read model against a real MariaDB and a real nats-server: it ranks, filters and
// pages exactly as MariaDB's FULLTEXT path does; a write is found by the next search on the
// replica that made it and, through the stream, on another replica within a second; a restart
// goes on from its stored stream position; an index built again from scratch answers the same.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "../../kit/db.ts";
import { ensureStream, streamName } from "../../kit/events.ts";
import { createLogger } from "../../kit/log.ts";
import { connectNats, type NatsHandles } from "../../kit/nats.ts";
import { startOutboxRelay, type OutboxRelay } from "../../kit/outbox-relay.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import { eventually } from "../../kit/testing/eventually.ts";
import { createTestTokens, signedIn, type SignedIn } from "../../kit/testing/tokens.ts";
import type { ProductDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { countSearchMatches, searchVisibleProducts } from "../db/product.repository.ts";
import { SearchIndexStore } from "../db/search-index.ts";
import { aProduct, aShop, openedShop, productServicesInMemory, type ProductServices } from "../product-builders.ts";
import type { ProductFilter } from "./catalog.ts";
import { facetsOf, priceBandEdges } from "./search-model.ts";
import { createSearchReadModel, type SearchReadModel } from "./search-read-model.ts";

const log = createLogger("search-test", "silent");
let db: Kysely<ProductDatabase>;
let services: ProductServices;
let admin: SignedIn;
let seller: SignedIn;
let adminService: SignedIn;
let orderService: SignedIn;
let shops: string[];
const categories: Record<"drinks" | "tea" | "kitchen", string> = { drinks: "", tea: "", kitchen: "" };
const productIds: string[] = [];

// A small vocabulary, so words meet in every field and every combination of fields.
const vocabulary = ["kettle", "teapot", "matcha", "sencha", "steel", "ceramic", "glass", "green", "gift", "oolong"];
let seed = 7;
const random = () => {
  seed = (seed * 48271) % 2147483647;
  return seed / 2147483647;
};
const words = (n: number) => Array.from({ length: n }, () => vocabulary[Math.floor(random() * vocabulary.length)]!);

const queries = [
  "kettle",
  "matcha",
  "oolong",
  "green tea",
  "steel kettle",
  "ceramic teapot gift",
  "Glass Teapot",
  "nothingmatches",
  "the kettle",
];
const filters: ProductFilter[] = [
  {},
  { categoryId: "drinks" },
  { minPriceMinor: 300n, maxPriceMinor: 900n },
  { shopId: "0", featuredOnly: true },
];

beforeAll(async () => {
  db = await migratedTestDatabase<ProductDatabase>("product_search", migrations);
  const tokens = await createTestTokens();
  services = await productServicesInMemory(db, tokens.verifier);
  [admin, seller, adminService, orderService] = await Promise.all([
    signedIn(tokens, "admin"),
    signedIn(tokens, "seller"),
    signedIn(tokens, "service", "service:admin"),
    signedIn(tokens, "service", "service:order"),
  ]);
  shops = [await openedShop(services, seller, aShop({ name: "One" })), await openedShop(services, seller, aShop())];
  const category = async (name: string, parentId = "") =>
    (await services.products.createCategory({ category: { name, slug: `${name}-${seed}`, parentId } }, admin.options))
      .category!.id;
  categories.drinks = await category("drinks");
  categories.tea = await category("tea", categories.drinks);
  categories.kitchen = await category("kitchen");
  const categoryIds = Object.values(categories);
  for (let i = 0; i < 80; i++) {
    const name = i % 17 === 0 ? "Glass Teapot" : words(1 + Math.floor(random() * 3)).join(" ");
    const { product } = await services.products.createProduct(
      {
        product: {
          ...aProduct(shops[i % 2]!, categoryIds[i % 3]!, {
            name,
            priceMinor: BigInt(100 + Math.floor(random() * 1000)),
            featured: i % 4 === 0,
          }),
          description: words(Math.floor(random() * 4)).join(" and "),
          tags: words(Math.floor(random() * 3)),
        },
      },
      i % 4 === 0 ? admin.options : seller.options,
    );
    productIds.push(product!.id);
  }
});

afterAll(async () => {
  services?.searchModel.stop();
  await db?.destroy();
});

const filterOf = (filter: ProductFilter): ProductFilter => ({
  ...filter,
  categoryId: filter.categoryId ? categories[filter.categoryId as keyof typeof categories] : undefined,
  shopId: filter.shopId ? shops[Number(filter.shopId)] : undefined,
});

/** The whole ranking as MariaDB computes it. */
async function rankedByMariaDb(text: string, filter: ProductFilter) {
  const rows = await searchVisibleProducts(db, { text, filter: filterOf(filter), limit: 1_000 });
  return rows.map((row) => ({ id: row.product.id, score: row.score }));
}

/** The whole ranking from a read model, a page of 7 at a time through its keyset. */
async function rankedByModel(model: SearchReadModel, text: string, filter: ProductFilter) {
  const ranked: Array<{ id: string; score: number }> = [];
  for (;;) {
    const page = (await model.search({ text, filter: filterOf(filter), after: ranked.at(-1), limit: 7 }))!;
    ranked.push(...page);
    if (page.length < 7) return ranked;
  }
}

/** Every query's ranking and facet counts under every filter, from a read model. */
async function everyRanking(model: SearchReadModel) {
  const rankings: Record<string, unknown> = {};
  for (const query of queries)
    for (const [i, filter] of filters.entries()) {
      rankings[`${query} #${i}`] = await rankedByModel(model, query, filter);
      rankings[`${query} #${i} facets`] = await model.facets(query, filterOf(filter));
    }
  return rankings;
}

async function everyMariaDbRanking() {
  const rankings: Record<string, unknown> = {};
  for (const query of queries)
    for (const [i, filter] of filters.entries()) {
      rankings[`${query} #${i}`] = await rankedByMariaDb(query, filter);
      rankings[`${query} #${i} facets`] = facetsOf(
        await countSearchMatches(db, query, filterOf(filter), priceBandEdges),
      );
    }
  return rankings;
}

/** A model over a new store, built from the catalog database alone. */
async function rebuiltModel(): Promise<SearchReadModel> {
  const model = createSearchReadModel({ db, store: SearchIndexStore.open(":memory:"), log });
  await model.buildAlone();
  return model;
}

describe("ranking", () => {
  it("when buyers search, then the read model ranks, filters and pages exactly as MariaDB's FULLTEXT path", async () => {
    const expected = await everyMariaDbRanking();
    // The data meets every case: the exact name on top, several levels, filters that leave some.
    expect((expected["Glass Teapot #0"] as Array<{ score: number }>)[0]!.score).toBeGreaterThan(1000);
    expect(new Set((expected["steel kettle #0"] as Array<{ score: number }>).map((r) => r.score)).size).toBeGreaterThan(
      4,
    );
    expect((expected["kettle #1"] as unknown[]).length).toBeGreaterThan(0);
    expect((expected["nothingmatches #0"] as unknown[]).length).toBe(0);
    expect(await everyRanking(services.searchModel)).toEqual(expected);
  });

  it("when buyers ask for facets, then every match is counted once by category and by price band", async () => {
    const { products, facets } = await services.products.searchProducts({
      query: "kettle",
      pageSize: 100,
      includeFacets: true,
    });
    const prices = products.map((p) => p.price!.amountMinor);
    expect(Number(facets!.total)).toBe(products.length);
    expect(facets!.categories.reduce((sum, c) => sum + Number(c.count), 0)).toBe(products.length);
    for (const category of facets!.categories)
      expect(Number(category.count)).toBe(products.filter((p) => p.categoryId === category.categoryId).length);
    for (const band of facets!.priceBands)
      expect(Number(band.count)).toBe(
        prices.filter(
          (price) => price >= band.minPriceMinor && (band.maxPriceMinor === undefined || price < band.maxPriceMinor),
        ).length,
      );
    expect(facets!.priceBands.reduce((sum, b) => sum + Number(b.count), 0)).toBe(products.length);
    // Only when asked.
    expect((await services.products.searchProducts({ query: "kettle" })).facets).toBeUndefined();
  });
});

describe("changes", () => {
  it("when products change in every way buyers can see, then the next search reflects it, and an index built again from scratch answers the same", async () => {
    const update = (id: string, fields: Record<string, unknown>, who = seller) =>
      services.products.updateProduct(
        {
          product: { id, ...fields },
          updateMask: { paths: Object.keys(fields).map((f) => f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) },
        },
        who.options,
      );
    // A rename into a word no product had: found by the next search.
    await update(productIds[1]!, { name: "Oolong kettle deluxe" });
    expect((await rankedByModel(services.searchModel, "deluxe", {})).map((r) => r.id)).toEqual([productIds[1]]);
    await update(productIds[2]!, { tags: ["matcha", "gift"], description: "A matcha whisk" });
    await update(productIds[3]!, { active: false });
    await update(productIds[5]!, { price: { currencyCode: "EUR", amountMinor: 555n }, categoryId: categories.kitchen });
    await services.products.deleteProduct({ id: productIds[6]! }, seller.options);
    await update(productIds[3]!, { active: true });
    await update(productIds[7]!, { active: false });
    await services.shopAdmin.suspendShop({ id: shops[1]!, reason: "test", actorId: "admin-1" }, adminService.options);
    await services.categoryAdmin.deleteCategory(
      { id: categories.kitchen, moveProductsTo: categories.tea },
      adminService.options,
    );
    const expected = await everyMariaDbRanking();
    expect(await everyRanking(services.searchModel)).toEqual(expected);
    const rebuilt = await rebuiltModel();
    try {
      expect(await everyRanking(rebuilt)).toEqual(expected);
    } finally {
      rebuilt.stop();
    }
    await services.shopAdmin.reactivateShop({ id: shops[1]!, actorId: "admin-1" }, adminService.options);
    expect(await everyRanking(services.searchModel)).toEqual(await everyMariaDbRanking());
  });
});

describe("replicas and restarts", () => {
  let nats: NatsHandles;
  let relay: OutboxRelay;
  let directory: string;

  beforeAll(async () => {
    nats = await connectNats(inject("natsUrl"), "search-test");
    await ensureStream(nats.jsm);
    relay = startOutboxRelay({ db, js: nats.js, log });
    directory = mkdtempSync(join(tmpdir(), "bazaar-search-test-"));
  });

  afterAll(async () => {
    await relay?.stop();
    await nats?.nc.close();
    rmSync(directory, { recursive: true, force: true });
  });

  /** Another replica: its own connection pool (so none of this process's commits reach it directly) and index file. */
  async function replica() {
    const { rows } = await sql<{ name: string }>`SELECT DATABASE() AS name`.execute(db);
    const ownDb = createDb<ProductDatabase>({ url: inject("mysqlUrl"), database: rows[0]!.name });
    const model = createSearchReadModel({
      db: ownDb,
      store: SearchIndexStore.open(join(directory, "index.sqlite")),
      log,
    });
    const following = model.follow(nats);
    await eventually(
      async () => model.state().ready,
      (ready) => ready,
      30_000,
    );
    return {
      model,
      async stop() {
        await following.stop();
        model.stop();
        await ownDb.destroy();
      },
    };
  }

  const found = async (model: SearchReadModel, text: string) =>
    ((await model.search({ text, filter: {}, limit: 10 })) ?? []).map((r) => r.id);

  it("when a product is written on one replica, then another finds it within a second; restarted, it goes on from its stream position", async () => {
    const other = await replica();
    expect(other.model.state()).toMatchObject({ ready: true, startedFrom: "catalog" });
    const create = (name: string) =>
      services.products.createProduct({ product: aProduct(shops[0]!, categories.tea, { name }) }, seller.options);

    const started = Date.now();
    const first = (await create("Yixing clay teapot")).product!.id;
    expect(
      await eventually(
        () => found(other.model, "yixing"),
        (ids) => ids.length > 0,
        1_000,
      ),
    ).toEqual([first]);
    expect(Date.now() - started).toBeLessThan(1_000);
    await other.stop();

    // Written while the replica is down: found after its restart, without building again.
    const second = (await create("Tetsubin iron kettle")).product!.id;
    const restarted = await replica();
    try {
      expect(restarted.model.state()).toMatchObject({ ready: true, startedFrom: "stored position" });
      expect(
        await eventually(
          () => found(restarted.model, "tetsubin"),
          (ids) => ids.length > 0,
          1_000,
        ),
      ).toEqual([second]);
      expect(await found(restarted.model, "yixing")).toEqual([first]);
    } finally {
      await restarted.stop();
    }
  });

  it("when stock moves, then the stored stream position follows within a second or two, and a restart continues from it", async () => {
    const other = await replica();
    const { product } = await services.products.createProduct(
      { product: aProduct(shops[0]!, categories.tea, { name: "Gaiwan lid", stockOnHand: 50 }) },
      seller.options,
    );
    await eventually(
      () => found(other.model, "gaiwan"),
      (ids) => ids.length > 0,
      2_000,
    );
    const before = other.model.state().appliedSeq;
    for (let i = 0; i < 5; i++) {
      await services.inventory.reserveStock(
        { reservationId: randomUUID(), items: [{ productId: product!.id, quantity: 1 }], sellNow: true },
        orderService.options,
      );
    }
    const { state } = await nats.jsm.streams.info(streamName);
    // Five StockChanged change nothing in the index: their position is stored by a delayed write.
    expect(
      await eventually(
        async () => other.model.state().appliedSeq,
        (seq) => seq >= state.last_seq,
        3_000,
      ),
    ).toBeGreaterThanOrEqual(state.last_seq);
    expect(other.model.state().appliedSeq).toBeGreaterThan(before);
    await other.stop();
    const restarted = await replica();
    try {
      expect(restarted.model.state()).toMatchObject({ startedFrom: "stored position" });
      expect(restarted.model.state().appliedSeq).toBeGreaterThanOrEqual(state.last_seq);
    } finally {
      await restarted.stop();
    }
  });
});
