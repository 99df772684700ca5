// The search read model's storage: a SQLite file (node:sqlite) with an FTS5 index of every visible
// product's words, and the columns search filters on. The only place with its SQL. What the
// words are and how a query becomes MATCH expressions is the domain's (domain/search-model.ts).
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** A product as the index keeps it. Hidden ones (inactive, deleted, shop suspended) have no terms. */
export interface IndexedProduct {
  id: string;
  shopId: string;
  sellerId: string;
  categoryId: string;
  priceMinor: bigint;
  featured: boolean;
  visible: boolean;
  /** The folded name, for the exact-name lift. */
  nameKey: string;
  /** Space-separated index terms ("n_kettle t_steel d_kettle"), empty for a hidden product. */
  terms: string;
}

/** A product's place in the index (its rank among equal scores) and its id. */
export interface IndexRow {
  rowid: bigint;
  id: string;
}

export interface IndexFilter {
  /** Any of these categories (a category and those below it). */
  categoryIds?: string[];
  shopId?: string;
  sellerId?: string;
  minPriceMinor?: bigint;
  maxPriceMinor?: bigint;
  featuredOnly?: boolean;
}

/** Bump when the schema or the terms change: an index of another version is rebuilt. */
export const searchIndexVersion = "1";

const schema = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  -- rowid: the order products entered the index (a rebuild enters them in id order, so newest
  -- last), which breaks ties between equal scores, newest first.
  CREATE TABLE IF NOT EXISTS products (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    shop_id TEXT NOT NULL,
    seller_id TEXT NOT NULL,
    category_id TEXT NOT NULL,
    price_minor INTEGER NOT NULL,
    featured INTEGER NOT NULL,
    visible INTEGER NOT NULL,
    name_key TEXT NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS products_name_key ON products (name_key) WHERE visible = 1;
  -- One column of prefixed terms: "n_" name, "t_" tags, "d_" description. Each (field, word) has
  -- its own doclist, so "the word in the name" is a term lookup, not a walk of the word's doclist
  -- checking columns; detail=none, since no query needs positions.
  CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(
    words, content='', contentless_delete=1, detail=none, tokenize="unicode61 tokenchars '_'"
  );
`;

export class SearchIndexStore {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Opens (creating if needed) the index file at `path`; ":memory:" for one that dies with the process. */
  static open(path: string): SearchIndexStore {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    // WAL: searches read while the feed writes. NORMAL: a crash may lose the last commits, which
    // the feed then applies again from the stream position stored with them.
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY");
    // Mapped reads halve the cost of joining matches to their filter columns (measured at 1M).
    db.exec("PRAGMA mmap_size = 1073741824");
    db.exec(schema);
    return new SearchIndexStore(db);
  }

  close(): void {
    this.#db.close();
  }

  meta(key: string): string | undefined {
    const row = this.#statement("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return row?.value;
  }

  /** Removes every product and meta value: the start of a rebuild. */
  clear(): void {
    this.#inTransaction(() => {
      this.#db.exec("DELETE FROM meta; DELETE FROM products; DELETE FROM terms");
    });
  }

  /**
   * Writes the products (insert or replace, by id) and the meta values in one transaction: a
   * stream position is stored with the changes it covers, never without them.
   */
  write(products: IndexedProduct[], meta: Record<string, string> = {}): void {
    const find = this.#statement("SELECT rowid, visible FROM products WHERE id = ?");
    const insert = this.#statement(
      `INSERT INTO products (id, shop_id, seller_id, category_id, price_minor, featured, visible, name_key)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING rowid`,
    );
    const update = this.#statement(
      `UPDATE products SET shop_id = ?, seller_id = ?, category_id = ?, price_minor = ?, featured = ?,
       visible = ?, name_key = ? WHERE rowid = ?`,
    );
    const dropTerms = this.#statement("DELETE FROM terms WHERE rowid = ?");
    const addTerms = this.#statement("INSERT INTO terms (rowid, words) VALUES (?, ?)");
    const setMeta = this.#statement(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
    this.#inTransaction(() => {
      for (const product of products) {
        const columns = [
          product.shopId,
          product.sellerId,
          product.categoryId,
          product.priceMinor,
          product.featured ? 1 : 0,
          product.visible ? 1 : 0,
          product.nameKey,
        ] as const;
        const existing = find.get(product.id) as { rowid: bigint; visible: bigint } | undefined;
        let rowid: bigint;
        if (existing) {
          rowid = existing.rowid;
          if (existing.visible === 1n) dropTerms.run(rowid);
          update.run(...columns, rowid);
        } else {
          rowid = (insert.get(product.id, ...columns) as { rowid: bigint }).rowid;
        }
        if (product.visible && product.terms) addTerms.run(rowid, product.terms);
      }
      for (const [key, value] of Object.entries(meta)) setMeta.run(key, value);
    });
  }

  /** A deleted category's products now belong to another. */
  moveCategory(from: string, to: string): void {
    this.#statement("UPDATE products SET category_id = ? WHERE category_id = ?").run(to, from);
  }

  /** Visible products whose folded name is `nameKey`, newest first. */
  exactNames(nameKey: string, filter: IndexFilter): IndexRow[] {
    const [where, params] = filterClause(filter);
    return this.#statement(
      `SELECT p.rowid AS rowid, p.id AS id FROM products p WHERE p.name_key = ? AND p.visible = 1${where} ORDER BY p.rowid DESC`,
    ).all(nameKey, ...params) as unknown as IndexRow[];
  }

  /** Whether the product at `rowid` matches the FTS5 expression. */
  matches(rowid: bigint, match: string): boolean {
    return this.#statement("SELECT 1 FROM terms WHERE terms MATCH ? AND rowid = ?").get(match, rowid) !== undefined;
  }

  /**
   * Products matching the FTS5 expression and the filter, newest first, below `beforeRowid` if
   * given, at most `limit`. FTS5 reads its doclists in rowid order, so a page stops early; the
   * join to the products reads only the rows it returns or filters.
   */
  matching(match: string, filter: IndexFilter, beforeRowid: bigint | undefined, limit: number): IndexRow[] {
    const [where, params] = filterClause(filter);
    const before = beforeRowid === undefined ? "" : " AND terms.rowid < ?";
    const args = beforeRowid === undefined ? [match, ...params, limit] : [match, beforeRowid, ...params, limit];
    return this.#statement(
      `SELECT terms.rowid AS rowid, p.id AS id FROM terms CROSS JOIN products p ON p.rowid = terms.rowid
       WHERE terms MATCH ?${before}${where} ORDER BY terms.rowid DESC LIMIT ?`,
    ).all(...args) as unknown as IndexRow[];
  }

  /**
   * Matches of the FTS5 expression and the filter counted by category and by price band: band i
   * holds prices from bandEdges[i - 1] (0 for the first) up to bandEdges[i], exclusive.
   */
  facetCounts(
    match: string,
    filter: IndexFilter,
    bandEdges: readonly bigint[],
  ): Array<{ categoryId: string; band: number; count: number }> {
    const [where, params] = filterClause(filter);
    const band = `CASE ${bandEdges.map((_, i) => `WHEN p.price_minor < ? THEN ${i}`).join(" ")} ELSE ${bandEdges.length} END`;
    const rows = this.#statement(
      `SELECT p.category_id AS categoryId, ${band} AS band, count(*) AS count
       FROM terms CROSS JOIN products p ON p.rowid = terms.rowid
       WHERE terms MATCH ?${where} GROUP BY 1, 2`,
    ).all(...bandEdges, match, ...params) as Array<{ categoryId: string; band: bigint; count: bigint }>;
    return rows.map((row) => ({ categoryId: row.categoryId, band: Number(row.band), count: Number(row.count) }));
  }

  rowidOf(id: string): bigint | undefined {
    return (this.#statement("SELECT rowid FROM products WHERE id = ?").get(id) as { rowid: bigint } | undefined)?.rowid;
  }

  /** Products in the index, and those of them buyers can find. */
  counts(): { products: number; visible: number } {
    const row = this.#statement(
      "SELECT count(*) AS products, coalesce(sum(visible), 0) AS visible FROM products",
    ).get() as {
      products: bigint;
      visible: bigint;
    };
    return { products: Number(row.products), visible: Number(row.visible) };
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      // Filters make a few shapes, but a category's subtree lists any number of ids.
      if (this.#statements.size >= 256) this.#statements.clear();
      statement = this.#db.prepare(sql);
      // Rowids and prices as BigInt both ways: FTS5 compares a rowid bound as a JS number (a
      // REAL) with nothing, and `rowid = 2.0` matched every row of a MATCH.
      statement.setReadBigInts(true);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #inTransaction(work: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      work();
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

function filterClause(filter: IndexFilter): [string, Array<string | bigint>] {
  const conditions: string[] = [];
  const params: Array<string | bigint> = [];
  if (filter.categoryIds) {
    conditions.push(`p.category_id IN (${filter.categoryIds.map(() => "?").join(", ") || "NULL"})`);
    params.push(...filter.categoryIds);
  }
  if (filter.shopId) {
    conditions.push("p.shop_id = ?");
    params.push(filter.shopId);
  }
  if (filter.sellerId) {
    conditions.push("p.seller_id = ?");
    params.push(filter.sellerId);
  }
  if (filter.minPriceMinor !== undefined) {
    conditions.push("p.price_minor >= ?");
    params.push(filter.minPriceMinor);
  }
  if (filter.maxPriceMinor !== undefined) {
    conditions.push("p.price_minor <= ?");
    params.push(filter.maxPriceMinor);
  }
  if (filter.featuredOnly) conditions.push("p.featured = 1");
  return [conditions.map((condition) => ` AND ${condition}`).join(""), params];
}
