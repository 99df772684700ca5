// The cart's product snapshots following product events against a real MariaDB: a shop's
// suspension shows its products off sale with the names and prices they had, other shops' do not
// move, and reactivation drops the snapshots so the next read asks the product service again;
// a stock move sets the available stock of every product it names.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { uuidv7 } from "../../kit/ids.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import { findSnapshots, saveSnapshots } from "../db/cart.repository.ts";
import type { CartDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { aProduct } from "../in-memory-catalog.ts";
import { applyProductEvent } from "./product-snapshots.ts";

let db: Kysely<CartDatabase>;

beforeAll(async () => {
  db = await migratedTestDatabase<CartDatabase>("cart_snapshots", migrations);
});

afterAll(async () => {
  await db?.destroy();
});

async function stockChanged(value: Record<string, unknown>, at = new Date()) {
  const event = create(EventSchema, {
    id: uuidv7(),
    occurTime: timestampFromDate(at),
    source: "product",
    payload: { case: "stockChanged", value },
  });
  await db.transaction().execute((trx) => applyProductEvent(event, trx));
}

async function suspensionChanged(shopId: string, suspended: boolean, at = new Date()) {
  const event = create(EventSchema, {
    id: uuidv7(),
    occurTime: timestampFromDate(at),
    source: "product",
    payload: { case: "shopSuspensionChanged", value: { shopId, sellerId: uuidv7(), suspended } },
  });
  await db.transaction().execute((trx) => applyProductEvent(event, trx));
}

describe("a shop's suspension in carts", () => {
  it("when a shop is suspended, then its products' snapshots are off sale as they were, and other shops' stay for sale", async () => {
    const shopId = uuidv7();
    const ofShop = aProduct({ shopId, name: "Sencha" });
    const elsewhere = aProduct();
    await saveSnapshots(db, [ofShop, elsewhere], new Date(Date.now() - 1_000));

    await suspensionChanged(shopId, true);
    const snapshots = await findSnapshots(db, [ofShop.productId, elsewhere.productId]);
    expect(snapshots.get(ofShop.productId)).toEqual({ ...ofShop, forSale: false });
    expect(snapshots.get(elsewhere.productId)).toEqual(elsewhere);
  });

  it("when a suspension event arrives after a newer fetch, then the fetched fact stays", async () => {
    const shopId = uuidv7();
    const product = aProduct({ shopId });
    await saveSnapshots(db, [product], new Date());
    await suspensionChanged(shopId, true, new Date(Date.now() - 60_000));
    expect((await findSnapshots(db, [product.productId])).get(product.productId)?.forSale).toBe(true);
  });

  it("when a shop is reactivated, then its snapshots are dropped, to be fetched again on the next read", async () => {
    const shopId = uuidv7();
    const product = aProduct({ shopId });
    await saveSnapshots(db, [product], new Date(Date.now() - 1_000));
    await suspensionChanged(shopId, true);
    await suspensionChanged(shopId, false);
    expect((await findSnapshots(db, [product.productId])).has(product.productId)).toBe(false);
  });

  it("when a snapshot was taken before shops were recorded, then a suspension drops it rather than leave it for sale", async () => {
    const legacy = aProduct();
    await saveSnapshots(db, [legacy], new Date(Date.now() - 1_000));
    await db
      .updateTable("product_snapshots")
      .set({ shop_id: null })
      .where("product_id", "=", legacy.productId)
      .execute();
    await suspensionChanged(uuidv7(), true);
    expect((await findSnapshots(db, [legacy.productId])).has(legacy.productId)).toBe(false);
  });
});

describe("stock in carts", () => {
  const availableOf = async (ids: string[]) =>
    [...(await findSnapshots(db, ids)).values()].map((snapshot) => [snapshot.productId, snapshot.stockAvailable]);

  it("when one stock move names two products, then both snapshots show its stock, others do not move, and an older move changes nothing", async () => {
    const [tea, cups, other] = [
      aProduct({ stockAvailable: 10 }),
      aProduct({ stockAvailable: 10 }),
      aProduct({ stockAvailable: 10 }),
    ];
    await saveSnapshots(db, [tea, cups, other], new Date(Date.now() - 1_000));
    const levels = [
      { productId: tea.productId, stockAvailable: 7 },
      { productId: cups.productId, stockAvailable: 0 },
    ];
    await stockChanged({ reason: "reserve", reservationId: uuidv7(), levels });
    const ids = [tea.productId, cups.productId, other.productId];
    expect(await availableOf(ids)).toEqual([
      [tea.productId, 7],
      [cups.productId, 0],
      [other.productId, 10],
    ]);
    await stockChanged(
      { reason: "release", levels: [{ productId: tea.productId, stockAvailable: 10 }] },
      new Date(Date.now() - 60_000),
    );
    expect((await availableOf([tea.productId]))[0]).toEqual([tea.productId, 7]);
  });

  it("when a stock event from before StockChanged listed levels arrives, then its one product follows it", async () => {
    const tea = aProduct({ stockAvailable: 10 });
    await saveSnapshots(db, [tea], new Date(Date.now() - 1_000));
    await stockChanged({ productId: tea.productId, stockAvailable: 4, reason: "adjust" });
    expect(await availableOf([tea.productId])).toEqual([[tea.productId, 4]]);
  });
});
