// GetProduct's reads kept in memory, so a read the edge cannot share (a seller's or an admin's
// view, a customer's read the edge has not cached yet, a call straight to this port) costs no
// database round trip. Kept fresh by the catalog's events, like the edge's cache:
// - this replica's own commits evict at once (observeCommittedEvents), so whoever wrote reads
//   their write on their next call;
// - every replica's and every service's come through the stream (bazaar.product.>) within
//   milliseconds, writes made in transactions without commit hooks (expired holds) included;
// - while the stream is not followed nothing is kept: an event missed then would leave an
//   answer stale with nothing to evict it.
// A read that was under way when its product's event arrived is not kept: it may have read the
// row before that write committed.
import { Gauge } from "prom-client";
import type { Kysely } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { EventSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { fromBinary } from "@bufbuild/protobuf";
import { followEventFeed } from "../../kit/event-feed.ts";
import { observeCommittedEvents } from "../../kit/events.ts";
import type { Logger } from "../../kit/log.ts";
import { stockLevelsOf } from "../../kit/stock-levels.ts";
import { cacheLookupCounter, registry } from "../../kit/metrics.ts";
import type { NatsHandles } from "../../kit/nats.ts";
import type { ProductDatabase, ImageRow } from "../db/database.ts";
import { imagesOf } from "../db/media.repository.ts";
import { findProductById } from "../db/product.repository.ts";
import type { Product } from "./catalog.ts";

/** A product with every picture of its gallery that is not deleted, and the answers made of them. */
export interface CachedProduct {
  product: Product;
  gallery: ImageRow[];
  /** The answers built from it, one per kind of reader, kept with it until it is evicted. */
  answers: Map<string, unknown>;
}

export interface ProductReadCache {
  /**
   * The product, or undefined when there is none; read through. `fresh` reads it from the
   * database whatever is kept (and keeps that), for callers that share the answer (freshReadHeader).
   */
  get(id: string, options?: { fresh?: boolean }): Promise<CachedProduct | undefined>;
  /** Applies a catalog event: evicts what it changed. */
  apply(event: Event): void;
  /** Follows every replica's catalog events; keeps answers only while it does. */
  follow(nats: NatsHandles): Promise<{ stop(): Promise<void> }>;
  readonly size: number;
  /** Stops observing this process's commits. */
  stop(): void;
}

export interface ProductReadCacheOptions {
  db: Kysely<ProductDatabase>;
  log: Logger;
  /** Products kept at most, least recently read out first. 0 keeps none (every read is a miss). */
  maxEntries: number;
}

export function createProductReadCache(options: ProductReadCacheOptions): ProductReadCache {
  const { db, log, maxEntries } = options;
  const entries = new Map<string, CachedProduct>();
  /** Reads under way, by product: later readers of the same product wait for the same read. */
  const reading = new Map<string, Promise<CachedProduct | undefined>>();
  let followed = false;

  const evict = (ids: Iterable<string>) => {
    for (const id of ids) {
      entries.delete(id);
      reading.delete(id);
    }
  };
  const clear = () => {
    entries.clear();
    reading.clear();
  };

  const readThrough = (id: string): Promise<CachedProduct | undefined> => {
    const read: Promise<CachedProduct | undefined> = readProduct(db, id)
      .then((entry) => {
        // Kept only if no event about it arrived meanwhile (that evicted this read too).
        if (entry && followed && maxEntries > 0 && reading.get(id) === read) {
          if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
          entries.set(id, entry);
        }
        return entry;
      })
      .finally(() => {
        if (reading.get(id) === read) reading.delete(id);
      });
    reading.set(id, read);
    return read;
  };

  const apply = (event: Event) => {
    const { payload } = event;
    switch (payload.case) {
      case "productCreated":
      case "productUpdated":
      case "productDeleted":
        evict([payload.value.productId]);
        return;
      case "stockChanged":
        evict(stockLevelsOf(payload.value).map((level) => level.productId));
        return;
      case "imageUploaded":
        // A picture still processing is in its seller's view of the product.
        evict([payload.value.ownerId]);
        return;
      case "shopUpdated":
      case "shopSuspensionChanged":
      case "categoryChanged":
        // A shop's suspension hides its products; a category's removal moves them.
        clear();
        return;
      default:
        return;
    }
  };

  const unobserve = observeCommittedEvents(db, (row) => {
    try {
      apply(fromBinary(EventSchema, row.payload));
    } catch (error) {
      // The stream brings it again within milliseconds; only read-your-writes here is late.
      clear();
      log.error({ err: error, subject: row.subject }, "product read cache could not read a committed event");
    }
  });

  return {
    get(id, options) {
      if (options?.fresh) {
        countLookup(false);
        return readThrough(id);
      }
      const entry = entries.get(id);
      if (entry) {
        countLookup(true);
        // Read again: last out of the map's order, so the least recently read go first.
        entries.delete(id);
        entries.set(id, entry);
        return Promise.resolve(entry);
      }
      countLookup(false);
      return reading.get(id) ?? readThrough(id);
    },
    apply,
    follow: (nats) =>
      followEventFeed({
        js: nats.js,
        filterSubject: "bazaar.product.>",
        from: "new",
        apply,
        onAttached: (attached) => {
          // Whatever was kept before a break may have missed its eviction.
          clear();
          followed = attached;
        },
        connection: nats.nc,
        name: "product read cache",
        log,
      }),
    get size() {
      return entries.size;
    },
    stop: unobserve,
  };
}

/** A product and its gallery as MariaDB has them now. */
export async function readProduct(db: Kysely<ProductDatabase>, id: string): Promise<CachedProduct | undefined> {
  const product = await findProductById(db, id);
  if (!product) return undefined;
  return { product, gallery: await imagesOf(db, [id], true), answers: new Map() };
}

const countLookup = cacheLookupCounter(
  "bazaar_product_read_cache_lookups_total",
  "GetProduct reads looked up in the product service's read cache, by outcome (hit, miss)",
);

/** The cache's size, read at each scrape. */
export function observeProductReadCache(cache: ProductReadCache): void {
  new Gauge({
    name: "bazaar_product_read_cache_entries",
    help: "Products held in the product service's read cache",
    registers: [registry],
    collect() {
      this.set(cache.size);
    },
  });
}
