// ShopService's handlers in memory against a database of their own: who may call what, who may
// change which shop, and which code each refusal answers.
import { Code } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShopService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { uuidv7 } from "../kit/ids.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { createTestTokens, oneOfEach, signedIn, type Callers, type SignedIn } from "../kit/testing/tokens.ts";
import type { ProductDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { aShop, openedShop, productServicesInMemory, type ProductServices } from "./product-builders.ts";

let db: Kysely<ProductDatabase>;
let services: ProductServices;
let callers: Callers;
let admin: SignedIn;
let seller: SignedIn;
let otherSeller: SignedIn;

beforeAll(async () => {
  db = await migratedTestDatabase<ProductDatabase>("shop_handlers", migrations);
  const tokens = await createTestTokens();
  services = await productServicesInMemory(db, tokens.verifier);
  callers = await oneOfEach(tokens);
  [admin, seller, otherSeller] = await Promise.all([
    signedIn(tokens, "admin"),
    signedIn(tokens, "seller"),
    signedIn(tokens, "seller"),
  ]);
});

afterAll(async () => {
  await db?.destroy();
});

const rename = (id: string, name: string) => ({ shop: { id, name }, updateMask: { paths: ["name"] } });

describe("who may call the shops", () => {
  it.each(
    accessMatrix(ShopService, { getShop: "public", listShops: "public", createShop: "seller", updateShop: "seller" }),
  )("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(services.server.transport, method, callers[caller])).toBe(expected);
  });
});

describe("who may change which shop", () => {
  it("when a seller renames another seller's shop, then UpdateShop answers permission_denied; an admin may", async () => {
    const shopId = await openedShop(services, seller);
    expect((await failureOf(services.shops.updateShop(rename(shopId, "Mine now"), otherSeller.options))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await services.shops.updateShop(rename(shopId, "Tea house"), admin.options)).shop?.name).toBe("Tea house");
  });

  it("when a seller opens a shop, then it is theirs whatever the request says", async () => {
    const { shop } = await services.shops.createShop(
      { shop: { ...aShop(), sellerId: otherSeller.id } },
      seller.options,
    );
    expect(shop?.sellerId).toBe(seller.id);
  });
});

describe("what a refused call answers", () => {
  it("when the shop does not exist, then GetShop and UpdateShop answer not_found", async () => {
    const id = uuidv7();
    expect((await failureOf(services.shops.getShop({ id }))).code).toBe(Code.NotFound);
    expect((await failureOf(services.shops.updateShop(rename(id, "Nobody's"), admin.options))).code).toBe(
      Code.NotFound,
    );
  });

  it("when the mask names a field the shop leaves empty, then UpdateShop answers invalid_argument", async () => {
    const shopId = await openedShop(services, seller);
    expect((await failureOf(services.shops.updateShop(rename(shopId, ""), seller.options))).code).toBe(
      Code.InvalidArgument,
    );
    const noLocation = { shop: { id: shopId }, updateMask: { paths: ["location"] } };
    expect((await failureOf(services.shops.updateShop(noLocation, seller.options))).code).toBe(Code.InvalidArgument);
  });

  it("when a page token continues the list near a place, then the next shops follow; a forged one answers invalid_argument", async () => {
    // Far from the other tests' shops, so this list holds exactly these three.
    for (const longitude of [100.001, 100.002, 100.003]) {
      await openedShop(services, seller, aShop({ latitude: 10, longitude }));
    }
    const near = { location: { latitude: 10, longitude: 100 }, radiusKm: 5, pageSize: 2 };
    const first = await services.shops.listShops(near);
    const second = await services.shops.listShops({ ...near, pageToken: first.nextPageToken });
    const distances = [...first.shops, ...second.shops].map((s) => s.distanceKm);
    expect(distances).toHaveLength(3);
    expect([...distances].sort((a, b) => a - b)).toEqual(distances);

    const forged = Buffer.from(JSON.stringify({ d: "0; DROP TABLE shops", i: uuidv7() })).toString("base64url");
    expect((await failureOf(services.shops.listShops({ ...near, pageToken: forged }))).code).toBe(Code.InvalidArgument);
  });
});
