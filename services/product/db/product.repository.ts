// Catalog reads and writes: the only place in the product service with SQL.
import { sql, type ExpressionBuilder, type Kysely, type SelectQueryBuilder, type Transaction } from "kysely";
import { jsonColumn } from "../../kit/db.ts";
import type {
  Category,
  NewProduct,
  Product,
  ProductChanges,
  ProductCursor,
  ProductFilter,
  ProductOrder,
  HiddenProducts,
} from "../domain/catalog.ts";
import type { SearchableProduct } from "../domain/search-model.ts";
import { exactNameScore, fieldScores, maxScoredWords, searchWords } from "../domain/search-words.ts";
import type { CategoryRow, ProductDatabase, ProductRow } from "./database.ts";

type Db = Kysely<ProductDatabase>;

/** The product, whatever its state; `shopSuspended` says whether its shop is suspended. */
export async function findProductById(db: Db, id: string): Promise<Product | undefined> {
  const row = await db
    .selectFrom("products")
    .innerJoin("shops", "shops.id", "products.shop_id")
    .selectAll("products")
    .select("shops.suspend_time as shop_suspend_time")
    .where("products.id", "=", id)
    .executeTakeFirst();
  return row && toProduct(row, row.shop_suspend_time !== null);
}

/**
 * Leaves out the products of suspended shops. A NOT IN over the (few) suspended shops keeps the
 * plan of each product read (walk the sort index, stop at the page size). Measured on MariaDB
 * 10.11 with 20 shops (2 suspended) and 20,000 products: a NEWEST page took 0.51 ms against
 * 0.39 ms without the condition; an inner join with shops made the optimizer start from shops
 * and filesort every product of the open ones, 87 ms.
 */
function inOpenShops<S extends SelectQueryBuilder<ProductDatabase, "products", object>>(select: S): S {
  return select.where("products.shop_id", "not in", suspendedShopIds) as S;
}

/** The ids of suspended shops: few, so MariaDB reads them once per statement. */
function suspendedShopIds(eb: ExpressionBuilder<ProductDatabase, "products">) {
  return eb.selectFrom("shops").select("shops.id").where("shops.suspend_time", "is not", null);
}

export interface ProductPageQuery {
  filter: ProductFilter;
  order: ProductOrder;
  after?: ProductCursor;
  limit: number;
}

/** One keyset page of visible products (active, not deleted, shop not suspended). */
export async function listVisibleProducts(db: Db, query: ProductPageQuery): Promise<Product[]> {
  let select = inOpenShops(
    db
      .selectFrom("products")
      .selectAll("products")
      .where("products.active", "=", 1)
      .where("products.delete_time", "is", null),
  );
  select = applyFilter(select, query.filter);
  select = applyOrder(select, query.order, query.after);
  const rows = await select.limit(query.limit).execute();
  return rows.map((row) => toProduct(row));
}

/**
 * One keyset page of one seller's products, hidden ones included as `hidden` asks: their
 * seller's own view. `shopSuspended` is set from the shop of each row.
 */
export async function listSellerProducts(
  db: Db,
  query: ProductPageQuery & { filter: { sellerId: string }; hidden: HiddenProducts },
): Promise<Product[]> {
  let select = db
    .selectFrom("products")
    .selectAll("products")
    .select((eb) =>
      eb
        .exists(
          eb
            .selectFrom("shops")
            .select("shops.id")
            .whereRef("shops.id", "=", "products.shop_id")
            .where("shops.suspend_time", "is not", null),
        )
        .as("shop_suspended"),
    );
  if (!query.hidden.inactive) select = inOpenShops(select.where("products.active", "=", 1));
  if (!query.hidden.deleted) select = select.where("products.delete_time", "is", null);
  select = applyFilter(select as unknown as ProductSelect, query.filter) as unknown as typeof select;
  select = applyOrder(select as unknown as ProductSelect, query.order, query.after) as unknown as typeof select;
  const rows = await select.limit(query.limit).execute();
  return rows.map((row) => toProduct(row, Boolean(row.shop_suspended)));
}

function applyFilter(select: ProductSelect, filter: ProductFilter): ProductSelect {
  const { categoryId, shopId, sellerId, minPriceMinor, maxPriceMinor, featuredOnly, lowStockBelow } = filter;
  if (categoryId) {
    // The category and all its descendants, resolved by the server in the same statement.
    select = select.where("products.category_id", "in", sql<string>`(${subtreeOf(categoryId)})`);
  }
  if (shopId) select = select.where("products.shop_id", "=", shopId);
  if (sellerId) select = select.where("products.seller_id", "=", sellerId);
  if (minPriceMinor !== undefined) select = select.where("products.price_minor", ">=", minPriceMinor.toString());
  if (maxPriceMinor !== undefined) select = select.where("products.price_minor", "<=", maxPriceMinor.toString());
  if (featuredOnly) select = select.where("products.featured", "=", 1);
  if (lowStockBelow !== undefined)
    select = select.where(sql<number>`products.stock_on_hand - products.stock_held`, "<", lowStockBelow);
  return select;
}

type ProductSelect = SelectQueryBuilder<ProductDatabase, "products", ProductRow>;

function applyOrder(select: ProductSelect, order: ProductOrder, after?: ProductCursor): ProductSelect {
  if (order === "newest") {
    if (after) select = select.where("products.id", "<", after.id);
    return select.orderBy("products.id", "desc");
  }
  const direction = order === "price_asc" ? "asc" : "desc";
  if (after) {
    // Spelled out instead of a row comparison `(price, id) > (?, ?)`, which MariaDB does not
    // turn into an index range.
    const beyond = direction === "asc" ? ">" : "<";
    const price = after.priceMinor!.toString();
    select = select.where(({ eb, or, and }) =>
      or([
        eb("products.price_minor", beyond, price),
        and([eb("products.price_minor", "=", price), eb("products.id", beyond, after.id)]),
      ]),
    );
  }
  return select.orderBy("products.price_minor", direction).orderBy("products.id", direction);
}

export async function listCategories(db: Db): Promise<Category[]> {
  const rows = await db.selectFrom("categories").selectAll().orderBy("sort_order").orderBy("name").execute();
  return rows.map(toCategory);
}

function toCategory(row: CategoryRow): Category {
  return { id: row.id, parentId: row.parent_id, name: row.name, slug: row.slug, sortOrder: row.sort_order };
}

function toProduct(row: ProductRow, shopSuspended = false): Product {
  return {
    id: row.id,
    shopId: row.shop_id,
    sellerId: row.seller_id,
    categoryId: row.category_id,
    name: row.name,
    description: row.description,
    priceMinor: BigInt(row.price_minor),
    currencyCode: row.currency_code,
    tags: jsonColumn<string[]>(row.tags),
    imageUrls: jsonColumn<string[]>(row.image_urls),
    stockOnHand: row.stock_on_hand,
    stockHeld: row.stock_held,
    featured: Boolean(row.featured),
    active: Boolean(row.active),
    deleted: row.delete_time !== null,
    deleteTime: row.delete_time,
    shopSuspended,
    createTime: row.create_time,
    updateTime: row.update_time,
  };
}

/** Products buyers can see and buy: active, not deleted, shop not suspended. */
export async function findVisibleProductsByIds(db: Db, ids: string[]): Promise<Product[]> {
  if (ids.length === 0) return [];
  const rows = await inOpenShops(
    db
      .selectFrom("products")
      .selectAll("products")
      .where("products.id", "in", ids)
      .where("products.active", "=", 1)
      .where("products.delete_time", "is", null),
  ).execute();
  return rows.map((row) => toProduct(row));
}

/** Locks the product's row for the rest of the transaction. */
export async function findProductForUpdate(
  trx: Transaction<ProductDatabase>,
  id: string,
): Promise<Product | undefined> {
  const row = await trx.selectFrom("products").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
  return row && toProduct(row);
}

export async function insertProduct(db: Db | Transaction<ProductDatabase>, product: NewProduct): Promise<void> {
  await db
    .insertInto("products")
    .values({
      id: product.id,
      shop_id: product.shopId,
      seller_id: product.sellerId,
      category_id: product.categoryId,
      name: product.name,
      description: product.description,
      price_minor: product.priceMinor,
      currency_code: product.currencyCode,
      tags: JSON.stringify(product.tags),
      tags_text: product.tags.join(" "),
      image_urls: JSON.stringify(product.imageUrls),
      stock_on_hand: product.stockOnHand,
      featured: product.featured ? 1 : 0,
      active: product.active ? 1 : 0,
      delete_time: null,
    })
    .execute();
}

export async function updateProductRow(
  trx: Transaction<ProductDatabase>,
  id: string,
  changes: ProductChanges,
): Promise<void> {
  await trx
    .updateTable("products")
    .set({
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.description !== undefined && { description: changes.description }),
      ...(changes.priceMinor !== undefined && { price_minor: changes.priceMinor }),
      ...(changes.categoryId !== undefined && { category_id: changes.categoryId }),
      ...(changes.tags !== undefined && { tags: JSON.stringify(changes.tags), tags_text: changes.tags.join(" ") }),
      ...(changes.imageUrls !== undefined && { image_urls: JSON.stringify(changes.imageUrls) }),
      ...(changes.stockOnHand !== undefined && { stock_on_hand: changes.stockOnHand }),
      ...(changes.featured !== undefined && { featured: changes.featured ? 1 : 0 }),
      ...(changes.active !== undefined && { active: changes.active ? 1 : 0 }),
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", id)
    .execute();
}

export async function softDeleteProduct(trx: Transaction<ProductDatabase>, id: string): Promise<void> {
  await trx
    .updateTable("products")
    .set({ delete_time: sql<Date>`UTC_TIMESTAMP(6)`, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .execute();
}

export async function findShopOwner(
  db: Db | Transaction<ProductDatabase>,
  shopId: string,
): Promise<string | undefined> {
  const row = await db.selectFrom("shops").select("seller_id").where("id", "=", shopId).executeTakeFirst();
  return row?.seller_id;
}

export async function categoryExists(db: Db | Transaction<ProductDatabase>, id: string): Promise<boolean> {
  return (await db.selectFrom("categories").select("id").where("id", "=", id).executeTakeFirst()) !== undefined;
}

/** Inserts a category; false when the slug is taken. */
export async function insertCategory(db: Db | Transaction<ProductDatabase>, category: Category): Promise<boolean> {
  const result = await db
    .insertInto("categories")
    .ignore()
    .values({
      id: category.id,
      parent_id: category.parentId,
      name: category.name,
      slug: category.slug,
      sort_order: category.sortOrder,
    })
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export interface ProductSearch {
  text: string;
  filter: ProductFilter;
  /** Keyset: matches ranked after this one (score, then id). */
  after?: { score: number; id: string };
  limit: number;
}

/**
 * Full-text search over name, description and tags, most relevant first. The FULLTEXT index
 * finds the matches; their order is computed here from the product and the query alone.
 *
 * InnoDB's own relevance (MATCH … AGAINST as a number) is tf × log10(N / df)², where N is the
 * table's row-count statistic, not a count: an estimate that moves with every insert, differs
 * between a server's memory and what it persisted, and is re-sampled at random on each open
 * when statistics are transient. After a restart it was whatever had last been persisted —
 * 0 when the server stopped before recalculating after the demo seed, which made every score
 * infinite and every search fail with error 1690. A score built from the product alone ranks
 * the same across restarts, and page tokens holding a score stay valid while others write.
 *
 * An exact name match is lifted above every partial one, since that is almost always what the
 * buyer typed; then each query word counts by where the product has it: name, tags, description.
 */
export async function searchVisibleProducts(
  db: Db,
  search: ProductSearch,
): Promise<Array<{ product: Product; score: number }>> {
  const match = sql<number>`MATCH(products.name, products.description, products.tags_text) AGAINST (${search.text} IN NATURAL LANGUAGE MODE)`;
  let matches = inOpenShops(
    db
      .selectFrom("products")
      .select(["products.id", relevance(search.text).as("score")])
      .where("products.active", "=", 1)
      .where("products.delete_time", "is", null)
      .where(match, ">", 0),
  );
  matches = applyFilter(matches as unknown as ProductSelect, search.filter) as unknown as typeof matches;
  // Rank ids and scores only, then fetch the rows of one page: sorting every match with its
  // full row was most of the cost on a large catalog. The keyset condition sits on the derived
  // table because MariaDB 10.11 crashes (fatal signal) on a MATCH … AGAINST inside HAVING.
  let ranked = db.selectFrom(matches.as("ranked")).select(["ranked.id", "ranked.score"]);
  if (search.after) {
    const { score, id } = search.after;
    ranked = ranked.where((eb) =>
      eb.or([eb("ranked.score", "<", score), eb.and([eb("ranked.score", "=", score), eb("ranked.id", "<", id)])]),
    );
  }
  const page = await ranked.orderBy("ranked.score", "desc").orderBy("ranked.id", "desc").limit(search.limit).execute();
  if (page.length === 0) return [];
  const rows = await db
    .selectFrom("products")
    .selectAll()
    .where(
      "id",
      "in",
      page.map((r) => r.id),
    )
    .execute();
  const byId = new Map(rows.map((row) => [row.id, toProduct(row)]));
  return page.flatMap((r) => (byId.has(r.id) ? [{ product: byId.get(r.id)!, score: Number(r.score) }] : []));
}

/**
 * The matches of a search counted by category and by price band (band i: prices below
 * bandEdges[i], from the edge before it), as the FULLTEXT index finds them.
 */
export async function countSearchMatches(
  db: Db,
  text: string,
  filter: ProductFilter,
  bandEdges: readonly bigint[],
): Promise<Array<{ categoryId: string; band: number; count: number }>> {
  const band = sql<number>`CASE ${sql.join(
    bandEdges.map((edge, i) => sql`WHEN products.price_minor < ${edge.toString()} THEN ${sql.lit(i)}`),
    sql` `,
  )} ELSE ${sql.lit(bandEdges.length)} END`;
  let select = inOpenShops(
    db
      .selectFrom("products")
      .select(["products.category_id", band.as("band"), (eb) => eb.fn.countAll<number>().as("n")])
      .where("products.active", "=", 1)
      .where("products.delete_time", "is", null)
      .where(
        sql<number>`MATCH(products.name, products.description, products.tags_text) AGAINST (${text} IN NATURAL LANGUAGE MODE)`,
        ">",
        0,
      ),
  );
  select = applyFilter(select as unknown as ProductSelect, filter) as unknown as typeof select;
  const rows = await select.groupBy(["products.category_id", "band"]).execute();
  return rows.map((row) => ({ categoryId: row.category_id, band: Number(row.band), count: Number(row.n) }));
}

function relevance(text: string) {
  const wordScore = (word: string) => {
    // Words hold only letters, digits and "_", so the pattern needs no escaping. REGEXP folds
    // case under the column's collation but not accents: "cafe" finds "Café" through the index,
    // yet adds nothing to its score. Folding them too (REGEXP_REPLACE to words, then LIKE) made
    // a search on a common word twice as slow; these tests add about a tenth.
    const wholeWord = `\\b${word}\\b`;
    const has = (column: "name" | "tags_text" | "description", points: number) =>
      sql`${sql.lit(points)} * (${sql.ref(`products.${column}`)} REGEXP ${wholeWord})`;
    return sql`${has("name", fieldScores.name)} + ${has("tags_text", fieldScores.tags)} + ${has("description", fieldScores.description)}`;
  };
  return searchWords(text)
    .slice(0, maxScoredWords)
    .reduce(
      (score, word) => sql<number>`${score} + ${wordScore(word)}`,
      sql<number>`IF(products.name = ${text}, ${sql.lit(exactNameScore)}, 0)`,
    );
}

/** Locks the category's row for the rest of the transaction. */
export async function findCategoryForUpdate(
  trx: Transaction<ProductDatabase>,
  id: string,
): Promise<Category | undefined> {
  const row = await trx.selectFrom("categories").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
  return row && toCategory(row);
}

/** The id of the category that has `slug`, if any. */
export async function categoryWithSlug(
  db: Db | Transaction<ProductDatabase>,
  slug: string,
): Promise<string | undefined> {
  return (await db.selectFrom("categories").select("id").where("slug", "=", slug).executeTakeFirst())?.id;
}

export async function updateCategoryRow(
  trx: Transaction<ProductDatabase>,
  id: string,
  changes: Partial<Omit<Category, "id">>,
): Promise<void> {
  // An update mask naming nothing that changes would be `UPDATE … SET WHERE`: a syntax error.
  if (Object.values(changes).every((value) => value === undefined)) return;
  await trx
    .updateTable("categories")
    .set({
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.slug !== undefined && { slug: changes.slug }),
      ...(changes.parentId !== undefined && { parent_id: changes.parentId }),
      ...(changes.sortOrder !== undefined && { sort_order: changes.sortOrder }),
    })
    .where("id", "=", id)
    .execute();
}

/** Products (deleted ones included: they still reference it) and child categories of a category. */
export async function categoryUse(
  trx: Transaction<ProductDatabase>,
  id: string,
): Promise<{ products: number; children: number }> {
  const products = await trx
    .selectFrom("products")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("category_id", "=", id)
    .executeTakeFirstOrThrow();
  const children = await trx
    .selectFrom("categories")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("parent_id", "=", id)
    .executeTakeFirstOrThrow();
  return { products: Number(products.n), children: Number(children.n) };
}

/** Moves every product of a category to another; returns how many moved. */
export async function moveCategoryProducts(
  trx: Transaction<ProductDatabase>,
  from: string,
  to: string,
): Promise<number> {
  const result = await trx
    .updateTable("products")
    .set({ category_id: to, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("category_id", "=", from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function deleteCategoryRow(trx: Transaction<ProductDatabase>, id: string): Promise<void> {
  await trx.deleteFrom("categories").where("id", "=", id).execute();
}

/**
 * Products as the search read model indexes them, whatever their state: by ids, of one shop, or
 * a page of all of them in id order (a rebuild).
 */
export async function searchableProducts(
  db: Db,
  which: { ids: string[] } | { shopId: string } | { afterId: string | undefined; limit: number },
): Promise<SearchableProduct[]> {
  // Suspended shops as a set MariaDB reads once: a join with shops made it start from shops and
  // sort every product of a page of the whole catalog (a million-product rebuild did not finish).
  let select = db
    .selectFrom("products")
    .select([
      "products.id",
      "products.shop_id",
      "products.seller_id",
      "products.category_id",
      "products.name",
      "products.tags",
      "products.description",
      "products.price_minor",
      "products.featured",
      "products.active",
      "products.delete_time",
    ])
    .select((eb) => eb("products.shop_id", "in", suspendedShopIds(eb)).as("shop_suspended"));
  if ("ids" in which) {
    if (which.ids.length === 0) return [];
    select = select.where("products.id", "in", which.ids);
  } else if ("shopId" in which) {
    select = select.where("products.shop_id", "=", which.shopId);
  } else {
    if (which.afterId) select = select.where("products.id", ">", which.afterId);
    select = select.orderBy("products.id").limit(which.limit);
  }
  const rows = await select.execute();
  return rows.map((row) => ({
    id: row.id,
    shopId: row.shop_id,
    sellerId: row.seller_id,
    categoryId: row.category_id,
    name: row.name,
    tags: jsonColumn<string[]>(row.tags),
    description: row.description,
    priceMinor: BigInt(row.price_minor),
    featured: Boolean(row.featured),
    visible: Boolean(row.active) && row.delete_time === null && !Number(row.shop_suspended),
  }));
}

/** The category and every category below it. */
export async function categorySubtree(db: Db, categoryId: string): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`${subtreeOf(categoryId)}`.execute(db);
  return rows.map((row) => row.id);
}

/** The ids of a category and all its descendants. */
function subtreeOf(categoryId: string) {
  return sql`WITH RECURSIVE subtree (id) AS (
      SELECT id FROM categories WHERE id = ${categoryId}
      UNION ALL SELECT c.id FROM categories c JOIN subtree s ON c.parent_id = s.id)
    SELECT id FROM subtree`;
}

/** How many products there are, hidden ones included. */
export async function productCount(db: Db): Promise<number> {
  const row = await db
    .selectFrom("products")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * What tells this database from another of the same name: when its first migration ran. A search
 * index built from a database that was dropped and created again must not be trusted.
 */
export async function catalogDatabaseIdentity(db: Db): Promise<string> {
  const { rows } = await sql<{
    timestamp: string;
  }>`SELECT timestamp FROM kysely_migration ORDER BY name LIMIT 1`.execute(db);
  return rows[0]?.timestamp ?? "";
}
