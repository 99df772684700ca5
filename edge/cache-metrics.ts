// What an operator needs of the edge's cache of public answers: how often it answers, how much
// it holds, and whether the catalog's events keep it fresh (else it keeps answers for the
// max-age only).
import { Gauge } from "prom-client";
import { cacheLookupCounter, registry } from "../services/kit/metrics.ts";
import type { PublicCache } from "./public-cache.ts";

/** Counts a lookup; `hit` when the cache answered. */
export const countLookup = cacheLookupCounter(
  "bazaar_edge_public_cache_lookups_total",
  "Shared public answers looked up in the edge's cache, by outcome (hit, miss)",
);

/** The cache's size and state, read at each scrape. */
export function observeCache(cache: PublicCache): void {
  new Gauge({
    name: "bazaar_edge_public_cache_entries",
    help: "Answers held in the edge's cache of public answers",
    registers: [registry],
    collect() {
      this.set(cache.size);
    },
  });
  new Gauge({
    name: "bazaar_edge_public_cache_bytes",
    help: "Bytes of keys and bodies held in the edge's cache of public answers",
    registers: [registry],
    collect() {
      this.set(cache.bytes);
    },
  });
  new Gauge({
    name: "bazaar_edge_public_cache_followed",
    help: "1 while the catalog's events keep the edge's cache fresh (long time to live), else 0",
    registers: [registry],
    collect() {
      this.set(cache.followed ? 1 : 0);
    },
  });
}
