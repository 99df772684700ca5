// Moderation against the real mesh: an admin suspends a shop and its products vanish from
// listings and search within a second and can be neither added to a cart nor bought; orders
// already placed go on; nobody else can suspend; reactivation brings everything back. Admins
// edit the category tree, and a category in use is deleted only by moving its products.
import { randomBytes, randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { OrderStatus, PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { ShopStatus } from "../../gen/bazaar/product/v1/product_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { errorInfoOf } from "../../services/kit/error-info.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { callRest } from "../support/rest.ts";
import { devSellerShelf, registerCustomer, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const { auth, admin, carts, orders, products, shops } = e2e;
let asAdmin: ReturnType<typeof bearer>;
let asSeller: ReturnType<typeof bearer>;
let asCustomer: ReturnType<typeof bearer>;
let adminToken = "";
let shopId = "";
let productId = "";
/** A word only this file's product has, to search for. */
const word = `zmod${randomBytes(3).toString("hex")}`;

const address = { recipientName: "Ada", line1: "1 Market St", city: "Berlin", postalCode: "10999", countryCode: "DE" };
const checkout = (me: ReturnType<typeof bearer>) =>
  orders.placeOrder(
    {
      idempotencyKey: randomUUID(),
      shippingAddress: address,
      payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
    },
    me,
  );

beforeAll(async () => {
  adminToken = (await auth.login(devAccounts.admin)).tokens!.accessToken;
  asAdmin = await signIn(auth, devAccounts.admin);
  asCustomer = await signIn(auth, devAccounts.customer);
  const shelf = await devSellerShelf(auth, products);
  asSeller = shelf.asSeller;
  const { shop } = await shops.createShop(
    {
      shop: {
        name: `Moderated ${word}`,
        address: { line1: "2 Market St", city: "Berlin", postalCode: "10999", countryCode: "DE" },
        location: { latitude: 52.5, longitude: 13.4 },
      },
    },
    asSeller,
  );
  shopId = shop!.id;
  const { product } = await products.createProduct(
    {
      product: {
        shopId,
        categoryId: shelf.categoryId,
        name: `${word} lantern`,
        price: { currencyCode: "USD", amountMinor: 1250n },
        stockOnHand: 50,
      },
    },
    asSeller,
  );
  productId = product!.id;
});

/** What an anonymous buyer finds of the product through the edge (its cache included). */
async function buyersFind(): Promise<{ listed: boolean; searched: boolean }> {
  const [listed, searched] = await Promise.all([
    products.listProducts({ shopId }),
    products.searchProducts({ query: word }),
  ]);
  return {
    listed: listed.products.some((p) => p.id === productId),
    searched: searched.products.some((p) => p.id === productId),
  };
}

/** Milliseconds until buyers find the product (or stop finding it) in both list and search. */
async function untilBuyersFind(visible: boolean, since: number): Promise<number> {
  const found = await eventually(buyersFind, (f) => f.listed === visible && f.searched === visible, 5_000, 20);
  expect(found).toEqual({ listed: visible, searched: visible });
  return Date.now() - since;
}

describe("suspending a shop", () => {
  let placedBefore = "";
  let buyerWithCart: ReturnType<typeof bearer> & { id: string };

  it("when a seller or a customer suspends a shop, then permission_denied and buyers still find its products", async () => {
    expect(await buyersFind()).toEqual({ listed: true, searched: true });
    for (const caller of [asSeller, asCustomer]) {
      expect((await failureOf(admin.suspendShop({ id: shopId, reason: "spam" }, caller))).code).toBe(
        Code.PermissionDenied,
      );
    }
    expect((await failureOf(admin.suspendShop({ id: shopId, reason: "spam" }))).code).toBe(Code.Unauthenticated);
    expect(await buyersFind()).toEqual({ listed: true, searched: true });
    const { shops: listed } = await admin.listShops({ sellerId: devAccounts.seller.id, query: word }, asAdmin);
    expect(listed.map((s) => [s.id, s.status])).toEqual([[shopId, ShopStatus.ACTIVE]]);
  });

  it("when an admin suspends a shop over REST, then its products vanish from ListProducts and SearchProducts within a second", async () => {
    // An order placed before, and a cart holding the product, for the stories below.
    const earlier = await registerCustomer(auth, "moderation");
    await carts.addCartItem({ productId, quantity: 1 }, earlier);
    placedBefore = (await checkout(earlier)).order!.id;
    buyerWithCart = await registerCustomer(auth, "moderation");
    await carts.addCartItem({ productId, quantity: 2 }, buyerWithCart);
    // The edge's public cache holds the anonymous answers now.
    expect(await buyersFind()).toEqual({ listed: true, searched: true });

    const answer = await callRest(e2e.mesh.edgeUrl, "POST", `/v1/admin/shops/${shopId}:suspend`, {
      token: adminToken,
      body: { reason: "counterfeit goods" },
    });
    // From the admin's answer: how long the write itself takes on a loaded box is not how long
    // buyers go on seeing the shop after it.
    const since = Date.now();
    expect(answer.status).toBe(200);
    expect(answer.body.shop).toMatchObject({
      id: shopId,
      status: "SHOP_STATUS_SUSPENDED",
      suspendReason: "counterfeit goods",
    });
    expect(await untilBuyersFind(false, since)).toBeLessThan(1_000);
  });

  it("when a buyer adds a product of the suspended shop to a cart or checks it out, then failed_precondition PRODUCT_UNAVAILABLE naming it", async () => {
    const newBuyer = await registerCustomer(auth, "moderation");
    const adding = await failureOf(carts.addCartItem({ productId, quantity: 1 }, newBuyer));
    expect(adding.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(adding)).toEqual({
      reason: "PRODUCT_UNAVAILABLE",
      metadata: { product_id: productId, product_ids: productId },
    });

    const buying = await failureOf(checkout(buyerWithCart));
    expect(buying.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(buying)).toMatchObject({ reason: "PRODUCT_UNAVAILABLE", metadata: { product_id: productId } });
    // The cart shows the line unavailable, with the name it had, once the event reaches it.
    const cart = await eventually(
      async () => (await carts.getCart({}, buyerWithCart)).cart!,
      (c) => c.items.every((item) => !item.available),
    );
    expect(cart.items.map((item) => [item.productId, item.name, item.available])).toEqual([
      [productId, `${word} lantern`, false],
    ]);
  });

  it("when the shop is suspended, then buyers get not_found for its product while its seller and admins still read it", async () => {
    expect((await failureOf(products.getProduct({ id: productId }, asCustomer))).code).toBe(Code.NotFound);
    expect((await failureOf(products.getProduct({ id: productId }))).code).toBe(Code.NotFound);
    for (const reader of [asSeller, asAdmin]) {
      expect((await products.getProduct({ id: productId }, reader)).product).toMatchObject({ shopSuspended: true });
    }
    const { shop } = await shops.getShop({ id: shopId }, asSeller);
    expect(shop).toMatchObject({ status: ShopStatus.SUSPENDED, suspendReason: "counterfeit goods" });
  });

  it("when an order was placed before the suspension, then it goes on", async () => {
    const { order } = await admin.updateOrderStatus({ id: placedBefore, status: OrderStatus.PROCESSING }, asAdmin);
    expect(order?.status).toBe(OrderStatus.PROCESSING);
  });

  it("when an admin suspends a shop, then the audit trail names the admin, and ListShops finds it by status", async () => {
    const { events } = await eventually(
      () => admin.listAuditEvents({ subjectId: shopId, eventType: "admin_action_performed" }, asAdmin),
      (page) => page.events.length > 0,
    );
    expect(events.map((e) => [e.actorId, JSON.parse(e.payloadJson).action])).toEqual([
      [devAccounts.admin.id, "SuspendShop"],
    ]);
    const { shops: suspended } = await admin.listShops({ status: ShopStatus.SUSPENDED }, asAdmin);
    expect(suspended.map((s) => s.id)).toContain(shopId);
    const { shops: active } = await admin.listShops({ status: ShopStatus.ACTIVE, pageSize: 100 }, asAdmin);
    expect(active.map((s) => s.id)).not.toContain(shopId);
  });

  it("when an admin reactivates the shop, then its products are back in lists and search within a second, in carts and for sale", async () => {
    const { shop } = await admin.reactivateShop({ id: shopId }, asAdmin);
    const since = Date.now();
    expect(shop?.status).toBe(ShopStatus.ACTIVE);
    expect(await untilBuyersFind(true, since)).toBeLessThan(1_000);

    const cart = await eventually(
      async () => (await carts.getCart({}, buyerWithCart)).cart!,
      (c) => c.items.every((item) => item.available),
    );
    expect(cart.items.map((item) => [item.productId, item.available])).toEqual([[productId, true]]);
    expect((await checkout(buyerWithCart)).order?.status).toBe(OrderStatus.CONFIRMED);
    const newBuyer = await registerCustomer(auth, "moderation");
    expect((await carts.addCartItem({ productId, quantity: 1 }, newBuyer)).cart?.items).toHaveLength(1);
    expect((await products.getProduct({ id: productId })).product?.shopSuspended).toBe(false);
  });
});

describe("editing categories", () => {
  let categoryId = "";
  let targetId = "";
  let productIds: string[] = [];

  beforeAll(async () => {
    const made = async (name: string) =>
      (
        await products.createCategory(
          { category: { name, slug: `${name.toLowerCase()}-${randomBytes(4).toString("hex")}` } },
          asAdmin,
        )
      ).category!.id;
    categoryId = await made("Lamps");
    targetId = await made("Lighting");
    productIds = [];
    for (const name of ["desk lamp", "floor lamp"]) {
      const { product } = await products.createProduct(
        {
          product: { shopId, categoryId, name, price: { currencyCode: "USD", amountMinor: 3000n }, stockOnHand: 5 },
        },
        asSeller,
      );
      productIds.push(product!.id);
    }
  });

  const nameInTree = async () => (await products.listCategories({})).categories.find((c) => c.id === categoryId)?.name;

  it("when a seller renames a category, then permission_denied and it keeps its name; when an admin does, anonymous readers see the new name at once", async () => {
    const rename = (name: string) => ({ category: { id: categoryId, name }, updateMask: { paths: ["name"] } });
    expect((await failureOf(admin.updateCategory(rename("Mine"), asSeller))).code).toBe(Code.PermissionDenied);
    // Read anonymously first, so the edge's public cache holds the tree.
    expect(await nameInTree()).toBe("Lamps");
    expect((await admin.updateCategory(rename("Lamps and lights"), asAdmin)).category?.name).toBe("Lamps and lights");
    expect(await nameInTree()).toBe("Lamps and lights");
  });

  it("when an admin deletes a category in use over REST, then failed_precondition CATEGORY_IN_USE with the count, and nothing changes", async () => {
    const answer = await callRest(e2e.mesh.edgeUrl, "DELETE", `/v1/admin/categories/${categoryId}`, {
      token: adminToken,
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      code: "failed_precondition",
      reason: "CATEGORY_IN_USE",
    });
    expect(await nameInTree()).toBe("Lamps and lights");
    const listed = await products.listProducts({ categoryId });
    expect(listed.products.map((p) => p.id).sort()).toEqual([...productIds].sort());
  });

  it("when an admin deletes it moving its products, then they are listed under the target, the category is gone and the action audited", async () => {
    const answer = await callRest(
      e2e.mesh.edgeUrl,
      "DELETE",
      `/v1/admin/categories/${categoryId}?moveProductsTo=${targetId}`,
      { token: adminToken },
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ movedProductCount: 2 });
    expect(await nameInTree()).toBeUndefined();
    const listed = await products.listProducts({ categoryId: targetId });
    expect(listed.products.map((p) => p.id).sort()).toEqual([...productIds].sort());
    const { events } = await eventually(
      () => admin.listAuditEvents({ subjectId: categoryId, eventType: "admin_action_performed" }, asAdmin),
      (page) => page.events.length >= 2,
    );
    expect(events.map((e) => [e.actorId, JSON.parse(e.payloadJson).action])).toEqual([
      [devAccounts.admin.id, "DeleteCategory"],
      [devAccounts.admin.id, "UpdateCategory"],
    ]);
  });
});
