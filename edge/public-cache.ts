// The edge's cache of anonymous catalog answers: the same answer a browser or CDN may keep for
// `Cache-Control: public, max-age=N`, kept here too so a popular product costs the backend one
// call per N seconds instead of one per visitor. Writes through this edge that may change the
// catalog (product and shop edits, orders taking or returning stock) empty it at once; changes
// made elsewhere show within N seconds, as they would behind a CDN.
export interface CachedAnswer {
  contentType: string;
  body: Buffer;
}

interface Entry extends CachedAnswer {
  expiresAt: number;
}

export class PublicCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #maxBodyBytes: number;
  #generation = 0;

  constructor(options: { ttlMs: number; maxEntries?: number; maxBodyBytes?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
  }

  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  get(key: string, now = Date.now()): CachedAnswer | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > now) return entry;
    this.#entries.delete(key);
    return undefined;
  }

  /** Changes with every clear(); a read started before one must not store its answer. */
  get generation(): number {
    return this.#generation;
  }

  /** Keeps `answer` unless the cache was cleared since `generation` (the read may be stale). */
  set(key: string, answer: CachedAnswer, generation: number, now = Date.now()): void {
    if (!this.enabled || generation !== this.#generation || answer.body.length > this.#maxBodyBytes) return;
    // Oldest first out: a Map iterates in insertion order.
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { ...answer, expiresAt: now + this.#ttlMs });
  }

  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
