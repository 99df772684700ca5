// Where a session's tokens are kept between calls and between runs: in memory (a script, a
// test), in the browser's localStorage or sessionStorage (a page), or in a file (a Node
// program: node.ts, apart so a browser bundle never sees node:fs).

/** A signed-in session's credentials as the SDK keeps them. Times are ISO 8601 (UTC). */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  accessExpireTime?: string;
  refreshExpireTime?: string;
}

/**
 * Keeps the tokens of one session. `load` is read once, when a client first needs a token;
 * `save` is called after each sign-in and refresh, `clear` on sign-out and when a refresh is
 * refused.
 */
export interface TokenStorage {
  load(): StoredTokens | undefined | Promise<StoredTokens | undefined>;
  save(tokens: StoredTokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

/** Tokens in this process's memory only: gone when it ends. */
export function memoryTokenStorage(initial?: StoredTokens): TokenStorage {
  let tokens = initial;
  return {
    load: () => tokens,
    save: (next) => {
      tokens = next;
    },
    clear: () => {
      tokens = undefined;
    },
  };
}

/** The part of the Web Storage API used here (localStorage and sessionStorage have it). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Tokens in the browser's localStorage under `key` (or in the store given, e.g.
 * sessionStorage to forget them when the tab closes). Anything unreadable there counts as no
 * session.
 */
export function browserTokenStorage(key = "bazaar.tokens", store?: KeyValueStore): TokenStorage {
  const storeOf = () => {
    const found = store ?? (globalThis as { localStorage?: KeyValueStore }).localStorage;
    if (!found) throw new Error("browserTokenStorage: no localStorage here; pass a store or use another storage");
    return found;
  };
  return {
    load: () => parseStoredTokens(storeOf().getItem(key)),
    save: (tokens) => storeOf().setItem(key, JSON.stringify(tokens)),
    clear: () => storeOf().removeItem(key),
  };
}

/** Tokens from their JSON form; undefined when the text is missing or not tokens. */
export function parseStoredTokens(text: string | null | undefined): StoredTokens | undefined {
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<StoredTokens> | null;
    if (typeof parsed?.accessToken !== "string" || typeof parsed.refreshToken !== "string") return undefined;
    return {
      accessToken: parsed.accessToken,
      refreshToken: parsed.refreshToken,
      accessExpireTime: typeof parsed.accessExpireTime === "string" ? parsed.accessExpireTime : undefined,
      refreshExpireTime: typeof parsed.refreshExpireTime === "string" ? parsed.refreshExpireTime : undefined,
    };
  } catch {
    return undefined;
  }
}
