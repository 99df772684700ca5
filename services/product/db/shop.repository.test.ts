// Listing every shop for admins against a real MariaDB: filters by status, seller and name, and
// keyset pages that neither repeat nor skip a shop while others open; shops near a point page by page.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb, ensureDatabase, migrateToLatest } from "../../kit/db.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { ProductDatabase } from "./database.ts";
import { migrations } from "./migrations/index.ts";
import { listAllShops, listShopsNear, suspendShopRow } from "./shop.repository.ts";

let db: Kysely<ProductDatabase>;
const seller = uuidv7();

beforeAll(async () => {
  const database = `shop_repo_${randomBytes(4).toString("hex")}`;
  await ensureDatabase(inject("mysqlUrl"), database);
  db = createDb<ProductDatabase>({ url: inject("mysqlUrl"), database });
  await migrateToLatest(db as Kysely<unknown>, migrations);
});

afterAll(async () => {
  await db?.destroy();
});

async function insertShop(name: string, sellerId = uuidv7()): Promise<string> {
  const id = uuidv7();
  await db
    .insertInto("shops")
    .values({ id, seller_id: sellerId, name, description: "", address: "{}", latitude: 52.5, longitude: 13.4 })
    .execute();
  return id;
}

describe("listing every shop", () => {
  it("when shops open between pages, then the listing goes on from where it was, newest first, each shop once", async () => {
    const before = [];
    for (let i = 0; i < 7; i++) before.push(await insertShop(`Paged ${i}`));
    const seen: string[] = [];
    let beforeId: string | undefined;
    for (;;) {
      const page = await listAllShops(db, { nameContains: "Paged", beforeId, limit: 3 });
      seen.push(...page.map((shop) => shop.id));
      if (page.length < 3) break;
      beforeId = page.at(-1)!.id;
      await insertShop("Paged later");
    }
    expect(seen).toEqual([...before].reverse());
  });

  it("when filtered by status, seller and a name with LIKE wildcards, then only matching shops come back", async () => {
    const open = await insertShop("Corner 100% tea", seller);
    const suspended = await insertShop("Corner 100% coffee", seller);
    await insertShop("Corner 1000 teas", seller);
    await insertShop("Corner 100% tea elsewhere");
    await suspendShopRow(db, suspended, "spam");
    const ids = async (query: Parameters<typeof listAllShops>[1]) => (await listAllShops(db, query)).map((s) => s.id);

    expect(await ids({ sellerId: seller, nameContains: "100%", limit: 10 })).toEqual([suspended, open]);
    expect(await ids({ sellerId: seller, nameContains: "100%", suspended: true, limit: 10 })).toEqual([suspended]);
    expect(await ids({ sellerId: seller, nameContains: "100%", suspended: false, limit: 10 })).toEqual([open]);
    const [shop] = await listAllShops(db, { sellerId: seller, suspended: true, limit: 1 });
    expect(shop).toMatchObject({ suspendReason: "spam", suspendTime: expect.any(Date) });
  });
});

describe("shops near a point, page by page", () => {
  it("when each page holds one shop, then every shop within the radius comes once, nearest first, for any distances", async () => {
    const center = { latitude: -33.9 + Math.random(), longitude: 151.2 + Math.random() };
    const name = `Near ${randomBytes(3).toString("hex")}`;
    const placed = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const id = uuidv7();
      await db
        .insertInto("shops")
        .values({
          id,
          seller_id: seller,
          name,
          description: "",
          address: "{}",
          latitude: Number((center.latitude + (Math.random() - 0.5) * 0.2).toFixed(6)),
          longitude: Number((center.longitude + (Math.random() - 0.5) * 0.2).toFixed(6)),
        })
        .execute();
      placed.add(id);
    }
    const seen: Array<{ id: string; distanceKm: number }> = [];
    let after: { distanceKm: number; id: string } | undefined;
    for (let page = 0; page < 100; page++) {
      const [found] = await listShopsNear(db, { center, radiusKm: 50, nameContains: name, after, limit: 1 });
      if (!found) break;
      seen.push({ id: found.shop.id, distanceKm: found.distanceKm });
      // As the page token carries it: a JSON number.
      after = JSON.parse(JSON.stringify({ distanceKm: found.distanceKm, id: found.shop.id }));
    }
    expect(new Set(seen.map((s) => s.id)).size, "no shop twice").toBe(seen.length);
    expect(seen.map((s) => s.id).sort()).toEqual([...placed].sort());
    const distances = seen.map((s) => s.distanceKm);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
  });
});
