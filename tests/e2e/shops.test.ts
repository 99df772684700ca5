import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { haversineKm } from "../../services/product/domain/shops.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { expectEvents } from "../support/events.ts";
import { registerSeller, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh({ httpVersion: "1.1" });
const { auth, shops } = e2e;
let asSeller: ReturnType<typeof bearer>;
let asOtherSeller: ReturnType<typeof bearer>;
let asCustomer: ReturnType<typeof bearer>;
// A town of its own far from the demo shops, so this file's shops are the only ones around.
const town = {
  latitude: Number((-33.8 + Math.random()).toFixed(6)),
  longitude: Number((151.2 + Math.random()).toFixed(6)),
};

beforeAll(async () => {
  asSeller = await signIn(auth, devAccounts.seller);
  asCustomer = await signIn(auth, devAccounts.customer);
  asOtherSeller = await registerSeller(auth, "shop-rival");
});

const address = { line1: "1 Test Street", city: "Testville", countryCode: "AU" };
const newShop = (name: string, location: { latitude: number; longitude: number }) => ({
  shop: { name, description: "A test shop", address, location },
});

describe("opening and changing shops", () => {
  it("when a seller opens a shop, then it is theirs and ShopCreated is emitted; a customer cannot open one", async () => {
    const { shop } = await shops.createShop(newShop("Corner Store", town), asSeller);
    expect(shop).toMatchObject({
      sellerId: devAccounts.seller.id,
      name: "Corner Store",
      address: expect.objectContaining(address),
    });
    // Stored to the micro-degree (about 10 cm).
    const stored = (await shops.getShop({ id: shop!.id })).shop!.location!;
    expect(stored.latitude).toBeCloseTo(town.latitude, 6);
    expect(stored.longitude).toBeCloseTo(town.longitude, 6);
    expect((await failureOf(shops.createShop(newShop("Nope", town), asCustomer))).code).toBe(Code.PermissionDenied);
    await expectEvents(e2e.mesh.natsUrl, shop!.id, "bazaar.product.>", ["bazaar.product.shop_created"]);
  });

  it("when its owner renames it, then it changes; another seller gets permission_denied", async () => {
    const { shop } = await shops.createShop(newShop("Old Name", town), asSeller);
    const rename = (name: string) => ({ shop: { id: shop!.id, name }, updateMask: { paths: ["name"] } });
    expect((await shops.updateShop(rename("New Name"), asSeller)).shop!.name).toBe("New Name");
    expect((await failureOf(shops.updateShop(rename("Hijacked"), asOtherSeller))).code).toBe(Code.PermissionDenied);
    expect((await shops.getShop({ id: shop!.id })).shop!.name).toBe("New Name");
  });

  it("when a location is off the globe, then invalid_argument names the field", async () => {
    const error = await failureOf(shops.createShop(newShop("Nowhere", { latitude: 91, longitude: 0 }), asSeller));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/latitude/);
  });
});

describe("shops near a point", () => {
  it("when a buyer searches around a point, then shops within the radius come nearest first with the exact distance, page by page", async () => {
    const spot = { latitude: town.latitude + 0.5, longitude: town.longitude + 0.5 };
    const placed: Array<{ id: string; location: { latitude: number; longitude: number } }> = [];
    for (let i = 0; i < 12; i++) {
      // Up to ~30 km away in every direction.
      // Rounded as the database stores them, so the reference distances are exact.
      const location = {
        latitude: Number((spot.latitude + (Math.random() - 0.5) * 0.5).toFixed(6)),
        longitude: Number((spot.longitude + (Math.random() - 0.5) * 0.6).toFixed(6)),
      };
      placed.push({ id: (await shops.createShop(newShop(`Nearby ${i}`, location), asSeller)).shop!.id, location });
    }
    const radiusKm = 12;
    const expected = placed
      .map((p) => ({ id: p.id, distanceKm: haversineKm(spot, p.location) }))
      .filter((p) => p.distanceKm <= radiusKm)
      .sort((a, b) => a.distanceKm - b.distanceKm);

    const found: Array<{ id: string; distanceKm: number }> = [];
    let pageToken = "";
    do {
      const page = await shops.listShops({ location: spot, radiusKm, pageSize: 2, pageToken });
      found.push(...page.shops.map((s) => ({ id: s.shop!.id, distanceKm: s.distanceKm })));
      pageToken = page.nextPageToken;
    } while (pageToken);

    expect(found.map((f) => f.id)).toEqual(expected.map((e) => e.id));
    for (const [i, f] of found.entries()) expect(f.distanceKm).toBeCloseTo(expected[i]!.distanceKm, 6);
  });

  it("when a name is given, then only matching shops within the radius come back", async () => {
    const spot = { latitude: town.latitude - 0.5, longitude: town.longitude - 0.5 };
    await shops.createShop(newShop("Bakery Blue", spot), asSeller);
    await shops.createShop(newShop("Hardware Hub", spot), asSeller);
    const { shops: found } = await shops.listShops({ location: spot, radiusKm: 1, query: "bakery" });
    expect(found.map((s) => s.shop!.name)).toEqual(["Bakery Blue"]);
  });

  it("when the radius is zero or over 100 km, then invalid_argument", async () => {
    expect((await failureOf(shops.listShops({ location: town, radiusKm: 0 }))).code).toBe(Code.InvalidArgument);
    expect((await failureOf(shops.listShops({ location: town, radiusKm: 101 }))).code).toBe(Code.InvalidArgument);
  });
});
