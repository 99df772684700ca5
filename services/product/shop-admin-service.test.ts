// ShopAdminService's handlers in memory against a database of their own: only services may
// moderate shops, and a suspended shop's products are hidden from buyers in every read that
// carts and checkout rely on, shown to their seller and admins, and back on reactivation.
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { ShopAdminService, ShopStatus } from "../../gen/bazaar/product/v1/product_pb.ts";
import { uuidv7 } from "../kit/ids.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { createTestTokens, oneOfEach, signedIn, type Callers, type SignedIn } from "../kit/testing/tokens.ts";
import type { ProductDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import {
  aProduct,
  aShop,
  madeCategory,
  openedShop,
  productServicesInMemory,
  type ProductServices,
} from "./product-builders.ts";

let db: Kysely<ProductDatabase>;
let services: ProductServices;
let callers: Callers;
let admin: SignedIn;
let seller: SignedIn;
let buyer: SignedIn;
let adminService: SignedIn;
let categoryId: string;

beforeAll(async () => {
  db = await migratedTestDatabase<ProductDatabase>("shop_admin_handlers", migrations);
  const tokens = await createTestTokens();
  services = await productServicesInMemory(db, tokens.verifier);
  callers = await oneOfEach(tokens);
  [admin, seller, buyer, adminService] = await Promise.all([
    signedIn(tokens, "admin"),
    signedIn(tokens, "seller"),
    signedIn(tokens, "customer"),
    signedIn(tokens, "service", "service:admin"),
  ]);
  categoryId = await madeCategory(services, admin);
});

afterAll(async () => {
  await db?.destroy();
});

/** A shop of `seller` with one product whose name is unique to the test; returns both ids and the name. */
async function shopWithProduct(name = `Matcha ${uuidv7().slice(-8)}`) {
  const shopId = await openedShop(services, seller, aShop({ name: `Shop ${name}` }));
  const { product } = await services.products.createProduct(
    { product: aProduct(shopId, categoryId, { name }) },
    seller.options,
  );
  return { shopId, productId: product!.id, name };
}

const suspend = (id: string, reason = "counterfeit goods") =>
  services.shopAdmin.suspendShop({ id, reason, actorId: "admin-1" }, adminService.options);
const reactivate = (id: string) => services.shopAdmin.reactivateShop({ id, actorId: "admin-1" }, adminService.options);

/** What a buyer finds of a product: in the list of its shop, in search, by batch and by id. */
async function whatBuyersSee(shopId: string, productId: string, name: string) {
  const listed = await services.products.listProducts({ shopId }, buyer.options);
  const searched = await services.products.searchProducts({ query: name }, buyer.options);
  const batch = await services.products.batchGetProducts({ ids: [productId] }, buyer.options);
  const byId = await services.products.getProduct({ id: productId }, buyer.options).then(
    () => "found",
    (error: unknown) => ConnectError.from(error).code,
  );
  return {
    listed: listed.products.map((p) => p.id),
    searched: searched.products.map((p) => p.id),
    batch: batch.products.map((p) => p.id),
    byId,
  };
}

describe("who may moderate shops", () => {
  it.each(
    accessMatrix(ShopAdminService, { listAllShops: "service", suspendShop: "service", reactivateShop: "service" }),
  )("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(services.server.transport, method, callers[caller])).toBe(expected);
  });
});

describe("suspending a shop", () => {
  it("when a shop is suspended, then buyers no longer list, find, batch-get or get its products; its seller and admins still get them", async () => {
    const { shopId, productId, name } = await shopWithProduct();
    expect(await whatBuyersSee(shopId, productId, name)).toEqual({
      listed: [productId],
      searched: [productId],
      batch: [productId],
      byId: "found",
    });

    const { shop, changed } = await suspend(shopId);
    expect(changed).toBe(true);
    expect(shop).toMatchObject({ status: ShopStatus.SUSPENDED, suspendReason: "counterfeit goods" });

    expect(await whatBuyersSee(shopId, productId, name)).toEqual({
      listed: [],
      searched: [],
      batch: [],
      byId: Code.NotFound,
    });
    for (const reader of [seller, admin]) {
      const { product } = await services.products.getProduct({ id: productId }, reader.options);
      expect(product).toMatchObject({ id: productId, shopSuspended: true, active: true });
    }
  });

  it("when a suspended shop is reactivated, then buyers see its products again, as they were", async () => {
    const { shopId, productId, name } = await shopWithProduct();
    await suspend(shopId);
    const { shop, changed } = await reactivate(shopId);
    expect(changed).toBe(true);
    expect(shop).toMatchObject({ status: ShopStatus.ACTIVE, suspendReason: "" });
    expect(shop?.suspendTime).toBeUndefined();
    expect(await whatBuyersSee(shopId, productId, name)).toEqual({
      listed: [productId],
      searched: [productId],
      batch: [productId],
      byId: "found",
    });
  });

  it("when a shop is suspended, then it leaves nearby search, and only its seller and admins read why", async () => {
    const name = `Hidden ${uuidv7().slice(-8)}`;
    const shopId = await openedShop(services, seller, aShop({ name, latitude: 48.1, longitude: 11.5 }));
    await suspend(shopId, "unpaid fees");
    const near = await services.shops.listShops({
      location: { latitude: 48.1, longitude: 11.5 },
      radiusKm: 1,
      query: name,
    });
    expect(near.shops).toEqual([]);
    const forBuyer = (await services.shops.getShop({ id: shopId }, buyer.options)).shop;
    expect(forBuyer).toMatchObject({ status: ShopStatus.SUSPENDED, suspendReason: "" });
    const forSeller = (await services.shops.getShop({ id: shopId }, seller.options)).shop;
    expect(forSeller).toMatchObject({ status: ShopStatus.SUSPENDED, suspendReason: "unpaid fees" });
  });

  it("when a suspended shop is suspended again, then nothing changes: changed is false, the first reason stays and no event is written", async () => {
    const { shopId } = await shopWithProduct();
    await suspend(shopId, "first");
    const events = await eventsAbout(shopId);
    const again = await suspend(shopId, "second");
    expect(again.changed).toBe(false);
    expect(again.shop?.suspendReason).toBe("first");
    expect(await eventsAbout(shopId)).toEqual(events);
    expect((await reactivate(shopId)).changed).toBe(true);
    expect((await reactivate(shopId)).changed).toBe(false);
  });

  it("when a shop is suspended and reactivated, then each change is one ShopSuspensionChanged event naming the admin", async () => {
    const { shopId } = await shopWithProduct();
    await suspend(shopId, "spam");
    await reactivate(shopId);
    const changes = (await eventsAbout(shopId)).filter((e) => e.payload.case === "shopSuspensionChanged");
    expect(changes.map((e) => [e.actorId, e.payload.value])).toEqual([
      ["admin-1", expect.objectContaining({ shopId, sellerId: seller.id, suspended: true, reason: "spam" })],
      ["admin-1", expect.objectContaining({ shopId, sellerId: seller.id, suspended: false, reason: "" })],
    ]);
  });

  it("when its seller edits a product of a suspended shop, then ProductUpdated says buyers cannot see it, so carts keep it off sale", async () => {
    const { shopId, productId } = await shopWithProduct();
    await suspend(shopId);
    await services.products.updateProduct(
      { product: { id: productId, name: "Renamed" }, updateMask: { paths: ["name"] } },
      seller.options,
    );
    const rows = await db.selectFrom("outbox").select("payload").orderBy("id").execute();
    const updated = rows
      .map((row) => fromBinary(EventSchema, row.payload))
      .filter((e) => e.payload.case === "productUpdated" && e.subjectId === productId);
    expect(updated.at(-1)?.payload.value).toMatchObject({ name: "Renamed", active: false });
  });

  it("when the shop does not exist, then SuspendShop and ReactivateShop answer not_found", async () => {
    expect((await failureOf(suspend(uuidv7()))).code).toBe(Code.NotFound);
    expect((await failureOf(reactivate(uuidv7()))).code).toBe(Code.NotFound);
  });
});

describe("listing every shop", () => {
  it("when shops are listed by status, seller and name a page at a time, then each matching shop comes once, newest first", async () => {
    const tag = uuidv7().slice(-8);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await openedShop(services, seller, aShop({ name: `Listed ${tag} ${i}` })));
    await suspend(ids[1]!);
    await suspend(ids[3]!);

    const first = await services.shopAdmin.listAllShops({ query: tag, pageSize: 2 }, adminService.options);
    const second = await services.shopAdmin.listAllShops(
      { query: tag, pageSize: 2, pageToken: first.nextPageToken },
      adminService.options,
    );
    const third = await services.shopAdmin.listAllShops(
      { query: tag, pageSize: 2, pageToken: second.nextPageToken },
      adminService.options,
    );
    expect([...first.shops, ...second.shops, ...third.shops].map((s) => s.id)).toEqual([...ids].reverse());
    expect(third.nextPageToken).toBe("");

    const suspended = await services.shopAdmin.listAllShops(
      { query: tag, status: ShopStatus.SUSPENDED },
      adminService.options,
    );
    expect(suspended.shops.map((s) => s.id)).toEqual([ids[3], ids[1]]);
    const active = await services.shopAdmin.listAllShops(
      { query: tag, status: ShopStatus.ACTIVE },
      adminService.options,
    );
    expect(active.shops.map((s) => s.id)).toEqual([ids[4], ids[2], ids[0]]);
    const bySeller = await services.shopAdmin.listAllShops(
      { sellerId: seller.id, pageSize: 100 },
      adminService.options,
    );
    expect(bySeller.shops.every((s) => s.sellerId === seller.id)).toBe(true);
    expect(bySeller.shops.map((s) => s.id)).toEqual(expect.arrayContaining(ids));
  });

  it("when a page token was not handed out by ListAllShops, then it answers invalid_argument", async () => {
    const list = services.shopAdmin.listAllShops({ pageToken: "bm90LWEtdG9rZW4" }, adminService.options);
    expect((await failureOf(list)).code).toBe(Code.InvalidArgument);
  });
});

/** The events the product service wrote about a shop, decoded, oldest first. */
async function eventsAbout(shopId: string) {
  const rows = await db.selectFrom("outbox").select("payload").orderBy("id").execute();
  return rows.map((row) => fromBinary(EventSchema, row.payload)).filter((event) => event.subjectId === shopId);
}
