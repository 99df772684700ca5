// Listing every shop for admins against a real MariaDB: filters by status, seller and name, and
// keyset pages that neither repeat nor skip a shop while others open.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb, ensureDatabase, migrateToLatest } from "../../kit/db.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { ProductDatabase } from "./database.ts";
import { migrations } from "./migrations/index.ts";
import { listAllShops, suspendShopRow } from "./shop.repository.ts";

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
