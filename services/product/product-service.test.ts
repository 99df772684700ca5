// ProductService's handlers in memory against a database of their own: who may call what, who
// may change which product, and which code each refusal answers.
import { Code } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProductOrder, ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { uuidv7 } from "../kit/ids.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { createTestTokens, oneOfEach, signedIn, type Callers, type SignedIn } from "../kit/testing/tokens.ts";
import type { ProductDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import {
  aProduct,
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
let otherSeller: SignedIn;
let buyer: SignedIn;
let shopId: string;
let categoryId: string;
let tokens: Awaited<ReturnType<typeof createTestTokens>>;

beforeAll(async () => {
  db = await migratedTestDatabase<ProductDatabase>("product_handlers", migrations);
  tokens = await createTestTokens();
  services = await productServicesInMemory(db, tokens.verifier);
  callers = await oneOfEach(tokens);
  [admin, seller, otherSeller, buyer] = await Promise.all([
    signedIn(tokens, "admin"),
    signedIn(tokens, "seller"),
    signedIn(tokens, "seller"),
    signedIn(tokens, "customer"),
  ]);
  shopId = await openedShop(services, seller);
  categoryId = await madeCategory(services, admin);
});

afterAll(async () => {
  await db?.destroy();
});

/** A product of the seller's shop. */
async function sellersProduct(overrides: Parameters<typeof aProduct>[2] = {}) {
  return (await services.products.createProduct({ product: aProduct(shopId, categoryId, overrides) }, seller.options))
    .product!;
}

describe("who may call the catalog", () => {
  it.each(
    accessMatrix(ProductService, {
      listProducts: "public",
      searchProducts: "public",
      getProduct: "public",
      batchGetProducts: "public",
      listCategories: "public",
      createProduct: "seller",
      updateProduct: "seller",
      deleteProduct: "seller",
      adjustStock: "seller",
      createCategory: "admin",
    }),
  )("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(services.server.transport, method, callers[caller])).toBe(expected);
  });
});

describe("who may change which product", () => {
  it("when a seller adds a product to another seller's shop, then CreateProduct answers permission_denied", async () => {
    const error = await failureOf(
      services.products.createProduct({ product: aProduct(shopId, categoryId) }, otherSeller.options),
    );
    expect(error.code).toBe(Code.PermissionDenied);
  });

  it("when a seller changes or deletes another seller's product, then permission_denied; an admin may", async () => {
    const product = await sellersProduct();
    const rename = { product: { id: product.id, name: "Gyokuro" }, updateMask: { paths: ["name"] } };
    expect((await failureOf(services.products.updateProduct(rename, otherSeller.options))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await failureOf(services.products.deleteProduct({ id: product.id }, otherSeller.options))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await services.products.updateProduct(rename, admin.options)).product?.name).toBe("Gyokuro");
  });

  it("when a seller features a product, then permission_denied: only admins feature products", async () => {
    const error = await failureOf(
      services.products.createProduct({ product: aProduct(shopId, categoryId, { featured: true }) }, seller.options),
    );
    expect(error.code).toBe(Code.PermissionDenied);
  });

  it("when a product is deactivated, then buyers get not_found and its seller still sees it", async () => {
    const product = await sellersProduct();
    const deactivate = { product: { id: product.id, active: false }, updateMask: { paths: ["active"] } };
    await services.products.updateProduct(deactivate, seller.options);
    expect((await failureOf(services.products.getProduct({ id: product.id }, buyer.options))).code).toBe(Code.NotFound);
    expect((await failureOf(services.products.getProduct({ id: product.id }))).code).toBe(Code.NotFound);
    expect((await services.products.getProduct({ id: product.id }, seller.options)).product?.active).toBe(false);
  });

  it("when another seller touches a deleted product, then it answers not_found, not permission_denied", async () => {
    const product = await sellersProduct();
    await services.products.deleteProduct({ id: product.id }, seller.options);
    expect((await failureOf(services.products.deleteProduct({ id: product.id }, otherSeller.options))).code).toBe(
      Code.NotFound,
    );
  });
});

describe("what a refused change answers", () => {
  it("when the shop does not exist, then CreateProduct answers not_found", async () => {
    const error = await failureOf(
      services.products.createProduct({ product: aProduct(uuidv7(), categoryId) }, seller.options),
    );
    expect(error.code).toBe(Code.NotFound);
  });

  it("when the category does not exist or the price is in another currency, then invalid_argument", async () => {
    const unknownCategory = services.products.createProduct({ product: aProduct(shopId, uuidv7()) }, seller.options);
    expect((await failureOf(unknownCategory)).code).toBe(Code.InvalidArgument);
    const inDollars = services.products.createProduct(
      { product: aProduct(shopId, categoryId, { currencyCode: "USD" }) },
      seller.options,
    );
    expect((await failureOf(inDollars)).code).toBe(Code.InvalidArgument);
  });

  it("when the mask names a field the product leaves empty, then UpdateProduct answers invalid_argument", async () => {
    const product = await sellersProduct();
    const emptyName = { product: { id: product.id, name: "" }, updateMask: { paths: ["name"] } };
    expect((await failureOf(services.products.updateProduct(emptyName, seller.options))).code).toBe(
      Code.InvalidArgument,
    );
  });

  it("when stock on hand would drop below what open orders hold, then AdjustStock answers failed_precondition", async () => {
    const product = await sellersProduct({ stockOnHand: 5 });
    const reservationId = uuidv7();
    await services.inventory.reserveStock(
      { reservationId, items: [{ productId: product.id, quantity: 4 }] },
      callers.service,
    );
    const error = await failureOf(services.products.adjustStock({ id: product.id, stockOnHand: 3 }, seller.options));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(
      (await services.products.adjustStock({ id: product.id, stockOnHand: 4 }, seller.options)).product,
    ).toMatchObject({ stockOnHand: 4, stockAvailable: 0 });
  });

  it("when a category's slug is taken, then CreateCategory answers already_exists", async () => {
    const slug = `green-${uuidv7().slice(-8)}`;
    await services.products.createCategory({ category: { name: "Green", slug } }, admin.options);
    const error = await failureOf(
      services.products.createCategory({ category: { name: "Green again", slug } }, admin.options),
    );
    expect(error.code).toBe(Code.AlreadyExists);
  });

  it("when the product does not exist, then GetProduct, UpdateProduct and DeleteProduct answer not_found", async () => {
    const id = uuidv7();
    expect((await failureOf(services.products.getProduct({ id }))).code).toBe(Code.NotFound);
    const rename = { product: { id, name: "Nothing" }, updateMask: { paths: ["name"] } };
    expect((await failureOf(services.products.updateProduct(rename, admin.options))).code).toBe(Code.NotFound);
    expect((await failureOf(services.products.deleteProduct({ id }, admin.options))).code).toBe(Code.NotFound);
  });
});

describe("a seller's own products, hidden ones included", () => {
  /** A seller of their own with one shop: on sale, inactive, deleted and low on stock. */
  async function sellerWithHiddenProducts() {
    const owner = await signedIn(tokens, "seller");
    const shop = await openedShop(services, owner);
    const add = async (name: string, stockOnHand = 10) =>
      (
        await services.products.createProduct(
          { product: aProduct(shop, categoryId, { name, stockOnHand }) },
          owner.options,
        )
      ).product!.id;
    const onSale = await add("On sale");
    const lowStock = await add("Low stock", 2);
    const inactive = await add("Inactive");
    await services.products.updateProduct(
      { product: { id: inactive, active: false }, updateMask: { paths: ["active"] } },
      owner.options,
    );
    const deleted = await add("Deleted");
    await services.products.deleteProduct({ id: deleted }, owner.options);
    return { owner, shop, onSale, lowStock, inactive, deleted };
  }
  const ids = (response: { products: Array<{ id: string }> }) => response.products.map((p) => p.id).sort();

  it("when their account is a customer's now (a demoted seller), then it sees their products as any customer: hidden ones are not found", async () => {
    const { owner, onSale, inactive } = await sellerWithHiddenProducts();
    const demoted = await signedIn(tokens, "customer", owner.id);
    expect((await services.products.getProduct({ id: onSale }, demoted.options)).product?.id).toBe(onSale);
    expect((await failureOf(services.products.getProduct({ id: inactive }, demoted.options))).code).toBe(Code.NotFound);
    const listing = services.products.listProducts({ sellerId: owner.id, includeInactive: true }, demoted.options);
    expect((await failureOf(listing)).code).toBe(Code.PermissionDenied);
  });

  it("when a seller asks for their inactive and deleted products, then ListProducts returns them with their state", async () => {
    const { owner, onSale, lowStock, inactive, deleted } = await sellerWithHiddenProducts();
    const all = await services.products.listProducts(
      { sellerId: owner.id, includeInactive: true, includeDeleted: true },
      owner.options,
    );
    expect(ids(all)).toEqual([onSale, lowStock, inactive, deleted].sort());
    const inactiveRead = all.products.find((p) => p.id === inactive);
    expect(inactiveRead?.active).toBe(false);
    expect(inactiveRead?.deleteTime).toBeUndefined();
    expect(all.products.find((p) => p.id === deleted)?.deleteTime).toBeDefined();

    const inactiveOnly = { sellerId: owner.id, includeInactive: true };
    expect(ids(await services.products.listProducts(inactiveOnly, owner.options))).toEqual(
      [onSale, lowStock, inactive].sort(),
    );
    const deletedOnly = { sellerId: owner.id, includeDeleted: true };
    expect(ids(await services.products.listProducts(deletedOnly, owner.options))).toEqual(
      [onSale, lowStock, deleted].sort(),
    );
    const asAdmin = await services.products.listProducts(
      { sellerId: owner.id, includeInactive: true, includeDeleted: true },
      admin.options,
    );
    expect(ids(asAdmin)).toEqual(ids(all));
  });

  it("when another seller, a buyer or nobody asks for a seller's hidden products, then they are refused and see none", async () => {
    const { owner, shop, onSale, lowStock } = await sellerWithHiddenProducts();
    const hidden = { sellerId: owner.id, includeInactive: true, includeDeleted: true };
    expect((await failureOf(services.products.listProducts(hidden, otherSeller.options))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await failureOf(services.products.listProducts(hidden, buyer.options))).code).toBe(Code.PermissionDenied);
    expect((await failureOf(services.products.listProducts(hidden))).code).toBe(Code.Unauthenticated);
    // Naming their own id does not widen another seller's view of this seller's shop.
    const ownIdOtherShop = { ...hidden, sellerId: otherSeller.id, shopId: shop };
    expect((await services.products.listProducts(ownIdOtherShop, otherSeller.options)).products).toEqual([]);
    // Without the flags everyone sees what buyers see.
    for (const options of [otherSeller.options, buyer.options, owner.options, undefined])
      expect(ids(await services.products.listProducts({ sellerId: owner.id }, options))).toEqual(
        [onSale, lowStock].sort(),
      );
    expect((await failureOf(services.products.listProducts({ includeInactive: true }, admin.options))).code).toBe(
      Code.InvalidArgument,
    );
  });

  it("when a seller asks for products below 3 units available, then only those come, hidden ones as asked", async () => {
    const { owner, shop, lowStock } = await sellerWithHiddenProducts();
    const inactiveLow = (
      await services.products.createProduct(
        { product: aProduct(shop, categoryId, { name: "Inactive low", stockOnHand: 1 }) },
        owner.options,
      )
    ).product!.id;
    await services.products.updateProduct(
      { product: { id: inactiveLow, active: false }, updateMask: { paths: ["active"] } },
      owner.options,
    );
    expect(ids(await services.products.listProducts({ sellerId: owner.id, lowStockBelow: 3 }))).toEqual([lowStock]);
    const withHidden = { sellerId: owner.id, lowStockBelow: 3, includeInactive: true };
    expect(ids(await services.products.listProducts(withHidden, owner.options))).toEqual(
      [lowStock, inactiveLow].sort(),
    );
  });
});

describe("page tokens", () => {
  it("when a page token continues the list it came from, then the next page follows; under another order, invalid_argument", async () => {
    for (let i = 0; i < 3; i++) await sellersProduct({ priceMinor: BigInt(100 + i) });
    const request = { shopId, orderBy: ProductOrder.PRICE_ASC, pageSize: 2 };
    const first = await services.products.listProducts(request);
    const second = await services.products.listProducts({ ...request, pageToken: first.nextPageToken });
    const prices = [...first.products, ...second.products].map((p) => p.price!.amountMinor);
    expect(prices.slice(0, 3)).toEqual([100n, 101n, 102n]);

    const otherOrder = { ...request, orderBy: ProductOrder.NEWEST, pageToken: first.nextPageToken };
    expect((await failureOf(services.products.listProducts(otherOrder))).code).toBe(Code.InvalidArgument);
  });

  it("when a search page token is used for another query, then SearchProducts answers invalid_argument", async () => {
    for (let i = 0; i < 2; i++) await sellersProduct({ name: `Matcha ceremonial grade ${i}` });
    const first = await services.products.searchProducts({ query: "matcha", pageSize: 1 });
    expect(first.nextPageToken).not.toBe("");
    const other = services.products.searchProducts({ query: "sencha", pageSize: 1, pageToken: first.nextPageToken });
    expect((await failureOf(other)).code).toBe(Code.InvalidArgument);
  });
});
