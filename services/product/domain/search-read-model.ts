// The search read model: an FTS5 index (db/search-index.ts) of the catalog, kept by the catalog's
// own events. An event only says which products changed; the model reads them again from the
// catalog database, so applying one twice, late or out of order still leaves the current state.
//
// - Built from the catalog database on first start, or when the file is of another version,
//   another database, another stream, or the stream lost events it had not read yet. The stream
//   position is read before the catalog, so what changes meanwhile comes again as events.
// - Follows `bazaar.product.>` from the position stored with the changes it covers: a restart
//   goes on where it stopped instead of building again.
// - Sees this process's own writes right after their commit (observeCommittedEvents), so a
//   seller's new product is found by the next search on the same replica; other replicas see it
//   through the stream within milliseconds.
// - Until built, `search` answers undefined and the caller asks MariaDB's FULLTEXT index.
import { fromBinary } from "@bufbuild/protobuf";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Kysely } from "kysely";
import { type Event, EventSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { followEventFeed } from "../../kit/event-feed.ts";
import { observeCommittedEvents, streamName } from "../../kit/events.ts";
import type { Logger } from "../../kit/log.ts";
import { refreshOnScrape, registry } from "../../kit/metrics.ts";
import { retry } from "../../kit/retry.ts";
import { Gauge } from "prom-client";
import type { ProductDatabase } from "../db/database.ts";
import {
  catalogDatabaseIdentity,
  categorySubtree,
  productCount,
  searchableProducts,
} from "../db/product.repository.ts";
import { searchIndexVersion, type IndexFilter, type SearchIndexStore } from "../db/search-index.ts";
import type { ProductFilter } from "./catalog.ts";
import { indexFacets, searchIndex, toIndexed, type IndexSearch, type SearchFacets } from "./search-model.ts";
import { queryWords } from "./search-words.ts";

export interface SearchReadModel {
  /** A page from the index; undefined while it is being built. */
  search(
    search: Omit<IndexSearch, "filter"> & { filter: ProductFilter },
  ): Promise<Array<{ id: string; score: number }> | undefined>;
  /** The matches of a search counted by category and price band; undefined while being built. */
  facets(text: string, filter: ProductFilter): Promise<SearchFacets | undefined>;
  /** Build or continue the index, then follow the stream; until then only this process's own commits. */
  follow(nats: { js: JetStreamClient; jsm: JetStreamManager }): { stop(): Promise<void> };
  /** Build from the catalog database alone, following nothing but this process's commits (tests). */
  buildAlone(): Promise<void>;
  /** Read every product again (after writes that bypassed the events, such as the demo seed). */
  sweep(): Promise<void>;
  state(): {
    ready: boolean;
    /** Whether this start built the index from the catalog or went on from the stored stream position. */
    startedFrom: "catalog" | "stored position" | undefined;
    products: number;
    visible: number;
    appliedSeq: number;
  };
  /** Stops reading this process's commits and closes the index file. */
  stop(): void;
}

const rebuildPageSize = 5_000;
/**
 * Facet counts of the most recent searches, emptied by every change to the index: counting a
 * common word's matches costs ~150 ms of CPU at a million products, and popular searches repeat
 * while catalog edits are rare (stock moves do not touch the index).
 */
const facetCacheSize = 1_000;
/** How long a stream position that came with no change may wait to be stored. */
const positionWriteDelayMs = 1_000;
/** How long a search waits for changes already seen to be written before answering without them. */
const settleTimeoutMs = 1_000;

export function createSearchReadModel(deps: {
  db: Kysely<ProductDatabase>;
  store: SearchIndexStore;
  log: Logger;
}): SearchReadModel {
  const { db, store, log } = deps;
  let ready = false;
  let appliedSeq = Number(store.meta("seq") ?? 0);
  let built: Promise<void> | undefined;
  let closed = false;
  let startedFrom: "catalog" | "stored position" | undefined;
  const facetCache = new Map<string, SearchFacets>();

  // Changes seen and not yet written. `seen` counts them; `written` is the count when the last
  // write began, so a search waits only for what was seen before it.
  const products = new Set<string>();
  const shops = new Set<string>();
  const moves: Array<{ from: string; to: string }> = [];
  let pendingSeq: number | undefined;
  let seen = 0;
  let written = 0;
  let writing = false;
  const waiters: Array<{ upTo: number; resolve(): void }> = [];

  const note = (event: Event, seq?: number) => {
    const { payload } = event;
    switch (payload.case) {
      case "productCreated":
      case "productUpdated":
      case "productDeleted":
        products.add(payload.value.productId);
        break;
      case "shopSuspensionChanged":
        shops.add(payload.value.shopId);
        break;
      case "categoryChanged":
        if (payload.value.deleted && payload.value.movedToCategoryId)
          moves.push({ from: payload.value.categoryId, to: payload.value.movedToCategoryId });
        break;
      default:
        // Nothing in the index changes (a stock move: one per checkout), only the stream position
        // moves. It is stored with the next change or within positionWriteDelayMs; a restart
        // before that reads these events again, which change nothing. Searches do not wait for it.
        if (seq === undefined) return;
        pendingSeq = Math.max(pendingSeq ?? 0, seq);
        positionWrite ??= setTimeout(startWriting, positionWriteDelayMs).unref();
        return;
    }
    if (seq !== undefined) pendingSeq = Math.max(pendingSeq ?? 0, seq);
    seen += 1;
    startWriting();
  };

  let positionWrite: NodeJS.Timeout | undefined;
  const startWriting = () => {
    clearTimeout(positionWrite);
    positionWrite = undefined;
    if (writing) return;
    writing = true;
    void writeSeen();
  };

  const writeSeen = async (): Promise<void> => {
    try {
      await built;
      while (!closed && (products.size + shops.size + moves.length > 0 || pendingSeq !== undefined)) {
        const upTo = seen;
        const ids = [...products];
        const shopIds = [...shops];
        const moved = moves.splice(0);
        const seq = pendingSeq;
        products.clear();
        shops.clear();
        pendingSeq = undefined;
        try {
          const rows = await searchableProducts(db, { ids });
          for (const shopId of shopIds) rows.push(...(await searchableProducts(db, { shopId })));
          for (const { from, to } of moved) store.moveCategory(from, to);
          store.write(rows.map(toIndexed), seq === undefined ? {} : { seq: String(seq) });
          if (rows.length > 0 || moved.length > 0) facetCache.clear();
          if (seq !== undefined) appliedSeq = seq;
        } catch (error) {
          // The catalog database is away: keep the changes and try again.
          for (const id of ids) products.add(id);
          for (const id of shopIds) shops.add(id);
          moves.unshift(...moved);
          if (seq !== undefined) pendingSeq = Math.max(pendingSeq ?? 0, seq);
          log.warn({ err: error }, "search index update failed; retrying");
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          continue;
        }
        written = upTo;
        for (const waiter of waiters.splice(0)) {
          if (waiter.upTo <= written) waiter.resolve();
          else waiters.push(waiter);
        }
      }
    } finally {
      writing = false;
    }
  };

  const settled = (): Promise<void> => {
    if (written >= seen) return Promise.resolve();
    const upTo = seen;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, settleTimeoutMs);
      waiters.push({
        upTo,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  };

  const unobserve = observeCommittedEvents(db, (row) => {
    try {
      note(fromBinary(EventSchema, row.payload));
    } catch (error) {
      // The stream brings it again; only read-your-writes on this replica is late.
      log.error({ err: error, subject: row.subject }, "search index could not read a committed event");
    }
  });

  /** Writes every catalog product into the index, in id order. */
  const readAll = async () => {
    const started = performance.now();
    let afterId: string | undefined;
    let count = 0;
    for (;;) {
      if (closed) throw new Error("search read model stopped");
      const page = await searchableProducts(db, { afterId, limit: rebuildPageSize });
      if (page.length === 0) break;
      store.write(page.map(toIndexed));
      facetCache.clear();
      count += page.length;
      afterId = page.at(-1)!.id;
    }
    log.info({ products: count, ms: Math.round(performance.now() - started) }, "search index read the whole catalog");
  };

  /** Whether the stored index may be trusted and continued; otherwise it is emptied and built again. */
  const startIndex = async (stream: { created: string; firstSeq: number; lastSeq: number } | undefined) => {
    const identity = await catalogDatabaseIdentity(db);
    const storedSeq = Number(store.meta("seq") ?? -1);
    const current =
      store.meta("version") === searchIndexVersion &&
      store.meta("database") === identity &&
      stream !== undefined &&
      store.meta("stream") === stream.created &&
      storedSeq + 1 >= stream.firstSeq &&
      storedSeq <= stream.lastSeq;
    if (current) {
      appliedSeq = storedSeq;
      startedFrom = "stored position";
      log.info({ seq: storedSeq }, "search index continues from its stored stream position");
      // It answers at once: products written straight into the database (a seed, a bulk load)
      // have no events and are read meanwhile; MariaDB's FULLTEXT path at a million products
      // would cost seconds a search for the minute that takes.
      ready = true;
      const { products: indexed } = store.counts();
      if ((await productCount(db)) !== indexed) await readAll();
      return;
    }
    store.clear();
    facetCache.clear();
    const seq = stream?.lastSeq ?? 0;
    await readAll();
    store.write([], {
      version: searchIndexVersion,
      database: identity,
      stream: stream?.created ?? "",
      seq: String(seq),
    });
    appliedSeq = seq;
    startedFrom = "catalog";
  };

  /** Retries `work` (the kit's backoff) until it succeeds; undefined once the model is stopped. */
  const untilStopped = <T>(what: string, work: () => Promise<T>): Promise<T | undefined> =>
    retry(
      log,
      what,
      work,
      () => true,
      () => closed,
    ).catch((error: unknown) => {
      if (closed) return undefined;
      throw error;
    });

  const build = async (stream: Parameters<typeof startIndex>[0]) => {
    built = untilStopped("the search index's catalog", () => startIndex(stream)).then(() => {
      ready = !closed;
    });
    await built;
  };

  return {
    async search({ filter, ...search }) {
      if (!ready) return undefined;
      await settled();
      return searchIndex(store, { ...search, filter: await indexFilter(db, filter) });
    },

    async facets(text, filter) {
      if (!ready) return undefined;
      await settled();
      const words = queryWords(text);
      const where = await indexFilter(db, filter);
      const key = JSON.stringify([words, where], (_, value) => (typeof value === "bigint" ? value.toString() : value));
      let facets = facetCache.get(key);
      if (facets) facetCache.delete(key);
      else facets = indexFacets(store, text, where);
      facetCache.set(key, facets);
      if (facetCache.size > facetCacheSize) facetCache.delete(facetCache.keys().next().value!);
      return facets;
    },

    follow({ js, jsm }) {
      let feed: { stop(): Promise<void> } | undefined;
      // In the background: the service serves meanwhile (search from MariaDB until built).
      const started = (async () => {
        const info = await untilStopped("the event stream", () => jsm.streams.info(streamName));
        if (!info) return;
        await build({ created: info.created, firstSeq: info.state.first_seq, lastSeq: info.state.last_seq });
        feed = await untilStopped("the search index feed", () =>
          followEventFeed({
            js,
            filterSubject: "bazaar.product.>",
            from: { startSeq: () => appliedSeq + 1 },
            apply: note,
            name: "search index feed",
            log,
          }),
        );
      })();
      return {
        async stop() {
          closed = true;
          await started;
          await feed?.stop();
        },
      };
    },

    buildAlone() {
      return build(undefined);
    },

    async sweep() {
      await built;
      await readAll();
    },

    state() {
      return { ready, startedFrom, ...store.counts(), appliedSeq };
    },

    stop() {
      unobserve();
      clearTimeout(positionWrite);
      closed = true;
      ready = false;
      // After the write in progress, if any: its statements are synchronous, between awaits.
      store.close();
    },
  };
}

async function indexFilter(db: Kysely<ProductDatabase>, filter: ProductFilter): Promise<IndexFilter> {
  return {
    categoryIds: filter.categoryId ? await categorySubtree(db, filter.categoryId) : undefined,
    shopId: filter.shopId,
    sellerId: filter.sellerId,
    minPriceMinor: filter.minPriceMinor,
    maxPriceMinor: filter.maxPriceMinor,
    featuredOnly: filter.featuredOnly,
  };
}

const indexedProducts = new Gauge({
  name: "bazaar_product_search_index_products",
  help: "Products in this replica's search index: all, and those buyers can find (visible)",
  labelNames: ["state"],
  registers: [registry],
});
const indexReady = new Gauge({
  name: "bazaar_product_search_index_ready",
  help: "1 once this replica's search index is built and answers searches; 0 while MariaDB does",
  labelNames: ["engine"],
  registers: [registry],
});

/** The index's size and readiness on /metrics. */
export function observeSearchIndex(model: SearchReadModel): () => void {
  return refreshOnScrape("search_index", [indexedProducts, indexReady], async () => {
    const { ready, products, visible } = model.state();
    indexedProducts.set({ state: "all" }, products);
    indexedProducts.set({ state: "visible" }, visible);
    indexReady.set({ engine: "sqlite-fts5" }, ready ? 1 : 0);
  });
}
