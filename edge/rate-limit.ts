// Token buckets keyed by client address or user id: each key may spend `burst` requests at once
// and gets `ratePerSecond` back every second. Buckets refilled to the brim are forgotten by a
// periodic sweep, so a flood of distinct keys costs memory only while they are active.
export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #limit: RateLimit;
  readonly #sweeper: NodeJS.Timeout;

  constructor(limit: RateLimit, sweepIntervalMs = 60_000) {
    this.#limit = limit;
    this.#sweeper = setInterval(() => this.#sweep(), sweepIntervalMs).unref();
  }

  /** Takes one token for `key`: 0 when granted, otherwise the seconds until one is available. */
  take(key: string, now = performance.now()): number {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#limit.burst, updatedAt: now };
    bucket.tokens = Math.min(
      this.#limit.burst,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.#limit.ratePerSecond,
    );
    bucket.updatedAt = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#limit.ratePerSecond));
  }

  get size(): number {
    return this.#buckets.size;
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  #sweep(now = performance.now()): void {
    const fullAfterMs = (this.#limit.burst / this.#limit.ratePerSecond) * 1000;
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.updatedAt >= fullAfterMs) this.#buckets.delete(key);
    }
  }
}
