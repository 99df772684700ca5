// The shop owners the order and admin services remember: asked of the catalog once per shop for a while,
// asked again when that while is over, unknown shops never remembered, and no more shops kept
// than the limit.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { uuidv7 } from "./ids.ts";
import { cachedShopOwners } from "./shop-owners.ts";
import { inMemoryShops } from "./testing/shops.ts";

function aClock() {
  let now = 1_000_000;
  return { now: () => now, pass: (ms: number) => (now += ms) };
}

describe("who owns a shop", () => {
  it("when a shop's owner is asked twice within the time to live, then the catalog is asked once; after it, again", async () => {
    const shops = inMemoryShops();
    const clock = aClock();
    const owners = cachedShopOwners(shops.client, { ttlMs: 60_000, now: clock.now });
    const shop = { shopId: uuidv7(), sellerId: uuidv7() };
    shops.open(shop);
    expect(await owners.ownerOf(shop.shopId)).toBe(shop.sellerId);
    clock.pass(59_999);
    expect(await owners.ownerOf(shop.shopId)).toBe(shop.sellerId);
    expect(shops.lookups()).toBe(1);
    clock.pass(1);
    expect(await owners.ownerOf(shop.shopId)).toBe(shop.sellerId);
    expect(shops.lookups()).toBe(2);
  });

  it("when a shop is unknown, then undefined, and it is asked again next time (it may open meanwhile)", async () => {
    const shops = inMemoryShops();
    const owners = cachedShopOwners(shops.client);
    const shop = { shopId: uuidv7(), sellerId: uuidv7() };
    expect(await owners.ownerOf(shop.shopId)).toBeUndefined();
    shops.open(shop);
    expect(await owners.ownerOf(shop.shopId)).toBe(shop.sellerId);
    expect(shops.lookups()).toBe(2);
  });

  it("when more shops are asked for than the limit, then the oldest is forgotten first", async () => {
    const shops = inMemoryShops();
    const owners = cachedShopOwners(shops.client, { maxEntries: 2 });
    const [a, b, c] = [0, 1, 2].map(() => ({ shopId: uuidv7(), sellerId: uuidv7() }));
    for (const shop of [a!, b!, c!]) {
      shops.open(shop);
      await owners.ownerOf(shop.shopId);
    }
    await owners.ownerOf(c!.shopId);
    await owners.ownerOf(b!.shopId);
    expect(shops.lookups()).toBe(3);
    await owners.ownerOf(a!.shopId);
    expect(shops.lookups()).toBe(4);
  });

  it("when the catalog cannot be reached, then its error goes on unchanged and nothing is remembered", async () => {
    const owners = cachedShopOwners({
      getShop: () => Promise.reject(new ConnectError("connect ECONNREFUSED", Code.Unavailable)),
    } as never);
    await expect(owners.ownerOf(uuidv7())).rejects.toMatchObject({ code: Code.Unavailable });
  });
});
