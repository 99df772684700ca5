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

/** Longest key kept: a popular read is a short request; one with a large body is not worth keeping. */
const maxKeyLength = 4 * 1024;

export class PublicCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #maxBodyBytes: number;
  readonly #maxBytes: number;
  /** Keys and bodies held now, counted against maxBytes. */
  #bytes = 0;
  #generation = 0;

  constructor(options: { ttlMs: number; maxEntries?: number; maxBodyBytes?: number; maxBytes?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  get(key: string, now = Date.now()): CachedAnswer | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > now) return entry;
    this.#remove(key, entry);
    return undefined;
  }

  /** Changes with every clear(); a read started before one must not store its answer. */
  get generation(): number {
    return this.#generation;
  }

  /** Keeps `answer` unless the cache was cleared since `generation` (the read may be stale). */
  set(key: string, answer: CachedAnswer, generation: number, now = Date.now()): void {
    if (
      !this.enabled ||
      generation !== this.#generation ||
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
    this.#entries.set(key, { ...answer, expiresAt: now + this.#ttlMs });
    this.#bytes += size;
  }

  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
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
  }
}
