// Where the product service keeps its search index when no file is named, and its read cache's bound.
import { describe, expect, it } from "vitest";
import { loadProductConfig } from "./config.ts";

const indexPath = (env: Record<string, string>) =>
  loadProductConfig({ BAZAAR_PRODUCT_SEARCH_DIR: "/data/search", ...env }).searchIndexPath;

describe("the search index's file", () => {
  it("when the service starts again on the same address, then it finds the same file, whatever port MariaDB took", () => {
    const first = indexPath({ BAZAAR_MYSQL_URL: "mysql://root@127.0.0.1:33637" });
    expect(first).toMatch(/^\/data\/search\/bazaar_product-[0-9a-f]{12}\.sqlite$/);
    expect(indexPath({ BAZAAR_MYSQL_URL: "mysql://root@127.0.0.1:33293" })).toBe(first);
  });

  it("when two replicas or two databases share a machine, then each has a file of its own", () => {
    const first = indexPath({ BAZAAR_PRODUCT_LISTEN_ADDR: "127.0.0.1:50052" });
    expect(indexPath({ BAZAAR_PRODUCT_LISTEN_ADDR: "127.0.0.1:50152" })).not.toBe(first);
    expect(indexPath({ BAZAAR_PRODUCT_LISTEN_ADDR: "127.0.0.1:50052", BAZAAR_PRODUCT_DB: "shop_two" })).not.toBe(first);
    expect(indexPath({ BAZAAR_PRODUCT_SEARCH_INDEX: "/var/lib/bazaar/search/index.sqlite" })).toBe(
      "/var/lib/bazaar/search/index.sqlite",
    );
  });
});

describe("the read cache's bound", () => {
  it("when none is set, then 10,000 products; 0 keeps none; a negative or non-numeric one is refused", () => {
    expect(loadProductConfig({}).readCacheEntries).toBe(10_000);
    expect(loadProductConfig({ BAZAAR_PRODUCT_READ_CACHE_ENTRIES: "0" }).readCacheEntries).toBe(0);
    expect(() => loadProductConfig({ BAZAAR_PRODUCT_READ_CACHE_ENTRIES: "-1" })).toThrow(
      /BAZAAR_PRODUCT_READ_CACHE_ENTRIES/,
    );
    expect(() => loadProductConfig({ BAZAAR_PRODUCT_READ_CACHE_ENTRIES: "lots" })).toThrow(
      /BAZAAR_PRODUCT_READ_CACHE_ENTRIES/,
    );
  });
});
