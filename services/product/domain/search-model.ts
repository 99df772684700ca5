// Search over the read model's index: what a product's terms are, and how a query is answered
// in score order with FTS5 queries that each stop at the page size.
//
// The score is the one product.repository.ts computes in MariaDB (search-words.ts): per scored
// word 4 points in the name, 2 in tags, 1 in the description, so each word adds a number from 0
// to 7 that says exactly where the product has it. Products with the same score form a level,
// and a level is a boolean expression over "word in field" terms: score 5 for one word is "in
// the name and the description, not in tags". One FTS5 query per level, read newest first, stops
// once the page is full; ranking every match (bm25, or scores computed per row) cost 100–180 ms
// of CPU for a word in 5 % of a million products, this ~0.3 ms.
import type { IndexedProduct, IndexFilter, SearchIndexStore } from "../db/search-index.ts";
import { exactNameScore, fieldScores, foldText, nameKey, queryWords, searchWords } from "./search-words.ts";

/** A product with what the index needs of it, as the catalog database has it. */
export interface SearchableProduct {
  id: string;
  shopId: string;
  sellerId: string;
  categoryId: string;
  name: string;
  tags: string[];
  description: string;
  priceMinor: bigint;
  featured: boolean;
  /** Active, not deleted, shop not suspended: what buyers may find. */
  visible: boolean;
}

/** Term prefixes per field, in score order (4, 2, 1 points). */
const fields = [
  { prefix: "n_", points: fieldScores.name },
  { prefix: "t_", points: fieldScores.tags },
  { prefix: "d_", points: fieldScores.description },
] as const;

export function toIndexed(product: SearchableProduct): IndexedProduct {
  const texts = [product.name, product.tags.join(" "), product.description];
  const terms = product.visible
    ? fields.flatMap((field, i) => searchWords(foldText(texts[i]!)).map((word) => field.prefix + word)).join(" ")
    : "";
  return {
    id: product.id,
    shopId: product.shopId,
    sellerId: product.sellerId,
    categoryId: product.categoryId,
    priceMinor: product.priceMinor,
    featured: product.featured,
    visible: product.visible,
    nameKey: nameKey(product.name),
    terms,
  };
}

export interface IndexSearch {
  text: string;
  filter: IndexFilter;
  /** Keyset: matches ranked after this one (score, then id). */
  after?: { score: number; id: string };
  limit: number;
}

/** A page token names a product the index does not know (it cannot say where the page went on). */
export class UnknownPagePositionError extends Error {}

/** One page of matches, best first: the exact name first, then by score, newest first. */
export function searchIndex(store: SearchIndexStore, search: IndexSearch): Array<{ id: string; score: number }> {
  const { scored, unscored } = queryWords(search.text);
  if (scored.length === 0) return [];
  let after: { score: number; rowid: bigint } | undefined;
  if (search.after) {
    const rowid = store.rowidOf(search.after.id);
    if (rowid === undefined) throw new UnknownPagePositionError(`no product ${search.after.id} in the search index`);
    after = { score: search.after.score, rowid };
  }
  const isAfter = (score: number, rowid: bigint) =>
    !after || score < after.score || (score === after.score && rowid < after.rowid);

  // Exact names: few, so each one's score is put together term by term.
  const exact = store
    .exactNames(nameKey(search.text), search.filter)
    .map((row) => ({ ...row, score: exactNameScore + wordScore(store, row.rowid, scored) }))
    .sort((a, b) => b.score - a.score || (b.rowid > a.rowid ? 1 : -1));
  const exactRowids = new Set(exact.map((row) => row.rowid));
  const page = exact.filter((row) => isAfter(row.score, row.rowid)).slice(0, search.limit);

  const top = 7 * scored.length;
  const bottom = unscored.length > 0 ? 0 : 1;
  for (let level = Math.min(top, after?.score ?? top); level >= bottom && page.length < search.limit; level--) {
    const match = levelMatch(scored, unscored, level);
    if (!match) continue;
    const before = after && level === after.score ? after.rowid : undefined;
    // Exact names also match their level: read past them.
    const rows = store.matching(match, search.filter, before, search.limit - page.length + exactRowids.size);
    for (const row of rows) {
      if (page.length === search.limit) break;
      if (!exactRowids.has(row.rowid)) page.push({ ...row, score: level });
    }
  }
  return page.map(({ id, score }) => ({ id, score }));
}

/** Where price bands end, in minor units: 10, 25, 50, 100, 250, 500 and 1,000 in major units, then the rest. */
export const priceBandEdges = [1_000n, 2_500n, 5_000n, 10_000n, 25_000n, 50_000n, 100_000n] as const;

export interface SearchFacets {
  total: number;
  categories: Array<{ categoryId: string; count: number }>;
  priceBands: Array<{ minPriceMinor: bigint; maxPriceMinor?: bigint; count: number }>;
}

/** Every match of the query and filter, counted by category and price band. */
export function indexFacets(store: SearchIndexStore, text: string, filter: IndexFilter): SearchFacets {
  const { scored, unscored } = queryWords(text);
  if (scored.length === 0) return facetsOf([]);
  return facetsOf(store.facetCounts(allTerms([...scored, ...unscored]).join(" OR "), filter, priceBandEdges));
}

/** Counts per (category, band), from either engine, as the contract gives them. */
export function facetsOf(counts: Array<{ categoryId: string; band: number; count: number }>): SearchFacets {
  const byCategory = new Map<string, number>();
  const byBand = new Map<number, number>();
  let total = 0;
  for (const { categoryId, band, count } of counts) {
    byCategory.set(categoryId, (byCategory.get(categoryId) ?? 0) + count);
    byBand.set(band, (byBand.get(band) ?? 0) + count);
    total += count;
  }
  return {
    total,
    categories: [...byCategory]
      .map(([categoryId, count]) => ({ categoryId, count }))
      .sort((a, b) => b.count - a.count || (a.categoryId < b.categoryId ? -1 : 1)),
    priceBands: [...byBand]
      .sort(([a], [b]) => a - b)
      .map(([band, count]) => ({
        minPriceMinor: band === 0 ? 0n : priceBandEdges[band - 1]!,
        maxPriceMinor: priceBandEdges[band],
        count,
      })),
  };
}

function wordScore(store: SearchIndexStore, rowid: bigint, words: string[]): number {
  let score = 0;
  for (const word of words)
    for (const field of fields) if (store.matches(rowid, quoted(field.prefix + word))) score += field.points;
  return score;
}

/**
 * The FTS5 expression of the products whose words score exactly `level`: every way the scored
 * words can add up to it (each word 0–7 by the fields it is in), each as "in these fields AND
 * NOT in those". Level 0: products found by the unscored words only.
 */
export function levelMatch(scored: string[], unscored: string[], level: number): string | undefined {
  if (level === 0) {
    if (unscored.length === 0) return undefined;
    return `(${allTerms(unscored).join(" OR ")}) NOT (${allTerms(scored).join(" OR ")})`;
  }
  const clauses: string[] = [];
  const masks: number[] = [];
  const visit = (i: number, left: number) => {
    if (i === scored.length) {
      if (left === 0) clauses.push(clauseOf(scored, masks));
      return;
    }
    const stillPossible = 7 * (scored.length - i - 1);
    for (let mask = 0; mask <= Math.min(7, left); mask++) {
      if (left - mask > stillPossible) continue;
      masks.push(mask);
      visit(i + 1, left - mask);
      masks.pop();
    }
  };
  visit(0, level);
  return clauses.length > 0 ? clauses.join(" OR ") : undefined;
}

/** One combination: word i in exactly the fields of masks[i]. */
function clauseOf(words: string[], masks: number[]): string {
  const present: string[] = [];
  const absent: string[] = [];
  words.forEach((word, i) => {
    for (const field of fields) (masks[i]! & field.points ? present : absent).push(quoted(field.prefix + word));
  });
  return absent.length > 0 ? `((${present.join(" AND ")}) NOT (${absent.join(" OR ")}))` : `(${present.join(" AND ")})`;
}

function allTerms(words: string[]): string[] {
  return words.flatMap((word) => fields.map((field) => quoted(field.prefix + word)));
}

// Words hold letters, digits and "_" only: quoting needs no escaping.
function quoted(term: string): string {
  return `"${term}"`;
}
