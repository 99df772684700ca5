// The edge's cache of public catalog answers: what an anonymous visitor and every customer are
// answered alike (a product's public view is the same for all of them; only its seller and
// admins see more, and they are never answered from here). A popular product costs the backend
// one call per time-to-live instead of one per visitor.
//
// Freshness comes from the catalog's events (catalog-events.ts): a product's change evicts the
// answers about that product and every catalog-wide answer (lists, searches), a shop's or a
// category's change empties the cache, within a second of the write wherever it was made. While
// the event feed is not attached, answers live only `ttlMs` (the max-age browsers are told), as
// they would behind a CDN; once it is, `followedTtlMs`.
export interface CachedAnswer {
  contentType: string;
  body: Buffer;
}

interface Entry extends CachedAnswer {
  expiresAt: number;
  /** The products the answer is about; undefined for a catalog-wide answer. */
  productIds: readonly string[] | undefined;
}

/** Longest key kept: a popular read is a short request; one with a large body is not worth keeping. */
const maxKeyLength = 4 * 1024;

export interface PublicCacheOptions {
  /** Time to live while no event feed keeps the cache fresh; 0 turns the cache off. */
  ttlMs: number;
  /** Time to live while the catalog's events evict what changed; ttlMs by default. */
  followedTtlMs?: number;
  maxEntries?: number;
  maxBodyBytes?: number;
  maxBytes?: number;
}

export class PublicCache {
  readonly #entries = new Map<string, Entry>();
  /** Keys of the answers about each product. */
  readonly #byProduct = new Map<string, Set<string>>();
  /** Keys of the catalog-wide answers: any product's change may change them. */
  readonly #catalogWide = new Set<string>();
  readonly #ttlMs: number;
  readonly #followedTtlMs: number;
  readonly #maxEntries: number;
  readonly #maxBodyBytes: number;
  readonly #maxBytes: number;
  /** Keys and bodies held now, counted against maxBytes. */
  #bytes = 0;
  #generation = 0;
  #followed = false;

  constructor(options: PublicCacheOptions) {
    this.#ttlMs = options.ttlMs;
    this.#followedTtlMs = options.followedTtlMs ?? options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  /**
   * Whether the catalog's events evict changed answers now. Either way the cache starts empty:
   * events missed while detached may have changed anything, and answers kept on the longer time
   * to live must not outlive the feed that vouched for them.
   */
  set followed(followed: boolean) {
    this.#followed = followed;
    this.clear();
  }

  get followed(): boolean {
    return this.#followed;
  }

  get(key: string, now = Date.now()): CachedAnswer | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > now) return entry;
    this.#remove(key, entry);
    return undefined;
  }

  /** Changes with every eviction; a read started before one must not store its answer. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Keeps `answer` unless anything was evicted since `stamp.generation` (the read may be stale).
   * `stamp.productIds`: the products the answer is about; none for a catalog-wide answer.
   */
  set(
    key: string,
    answer: CachedAnswer,
    stamp: { generation: number; productIds?: readonly string[] },
    now = Date.now(),
  ): void {
    if (
      !this.enabled ||
      stamp.generation !== this.#generation ||
      answer.body.length > this.#maxBodyBytes ||
      key.length > maxKeyLength
    )
      return;
    const size = key.length + answer.body.length;
    const previous = this.#entries.get(key);
    if (previous) this.#remove(key, previous);
    // Oldest first out (a Map iterates in insertion order), by count and by bytes.
    while (this.#entries.size > 0 && (this.#entries.size >= this.#maxEntries || this.#bytes + size > this.#maxBytes)) {
      const [oldestKey, oldest] = this.#entries.entries().next().value!;
      this.#remove(oldestKey, oldest);
    }
    const ttlMs = this.#followed ? this.#followedTtlMs : this.#ttlMs;
    this.#entries.set(key, { ...answer, expiresAt: now + ttlMs, productIds: stamp.productIds });
    this.#bytes += size;
    if (stamp.productIds === undefined) this.#catalogWide.add(key);
    for (const id of stamp.productIds ?? []) {
      const keys = this.#byProduct.get(id) ?? new Set();
      keys.add(key);
      this.#byProduct.set(id, keys);
    }
  }

  /** A change of these products: their answers and every catalog-wide one go. */
  evictProducts(productIds: Iterable<string>): void {
    this.#generation += 1;
    for (const key of this.#catalogWide) this.#remove(key, this.#entries.get(key)!);
    for (const id of productIds) {
      for (const key of this.#byProduct.get(id) ?? []) this.#remove(key, this.#entries.get(key)!);
    }
  }

  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
    this.#byProduct.clear();
    this.#catalogWide.clear();
    this.#bytes = 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Keys and bodies held, in bytes (UTF-16 code units of keys counted as bytes). */
  get bytes(): number {
    return this.#bytes;
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= key.length + entry.body.length;
    if (entry.productIds === undefined) this.#catalogWide.delete(key);
    for (const id of entry.productIds ?? []) {
      const keys = this.#byProduct.get(id);
      keys?.delete(key);
      if (keys?.size === 0) this.#byProduct.delete(id);
    }
  }
}
