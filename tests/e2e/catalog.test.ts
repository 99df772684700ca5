// Sellers and admins changing the catalog through the edge: who may change what, soft-delete
// visibility, batch reads and the events each change emits.
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { expectEvents } from "../support/events.ts";
import { callRest } from "../support/rest.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh({ httpVersion: "1.1" });
const { auth, products } = e2e;
const tokens = { seller: "", otherSeller: "", admin: "", customer: "" };
let shopId = "";
let categoryId = "";

beforeAll(async () => {
  const signIn = async (account: { email: string; password: string }) =>
    (await auth.login({ email: account.email, password: account.password })).tokens!.accessToken;
  tokens.seller = await signIn(devAccounts.seller);
  tokens.admin = await signIn(devAccounts.admin);
  tokens.customer = await signIn(devAccounts.customer);
  const other = await auth.register({
    email: `other-seller-${randomBytes(4).toString("hex")}@example.test`,
    password: "password-123",
    displayName: "Other Seller",
    role: Role.SELLER,
  });
  tokens.otherSeller = other.tokens!.accessToken;
  const sample = (await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 1 })).products[0]!;
  shopId = sample.shopId;
  categoryId = sample.categoryId;
});

const draft = (name: string) => ({
  product: {
    shopId,
    categoryId,
    name,
    description: "Test item",
    price: { currencyCode: "USD", amountMinor: 1234n },
    tags: ["test"],
    stockOnHand: 7,
  },
});

describe("who may add products to a shop", () => {
  it.each([
    ["the shop's seller", "seller", undefined],
    ["an admin", "admin", undefined],
    ["another seller", "otherSeller", Code.PermissionDenied],
    ["a customer", "customer", Code.PermissionDenied],
  ] as const)("when %s adds one, then %s", async (_, who, expected) => {
    const call = products.createProduct(draft(`Widget by ${who}`), bearer(tokens[who]));
    if (expected === undefined) {
      const { product } = await call;
      expect(product).toMatchObject({ shopId, sellerId: devAccounts.seller.id, stockAvailable: 7, active: true });
    } else {
      expect((await failureOf(call)).code).toBe(expected);
    }
  });

  it("when nobody is signed in, then unauthenticated; a missing shop is not_found; a foreign currency invalid_argument", async () => {
    expect((await failureOf(products.createProduct(draft("Anonymous")))).code).toBe(Code.Unauthenticated);
    const noShop = { product: { ...draft("x").product, shopId: "0193a000-0000-7000-8000-00000000dead" } };
    expect((await failureOf(products.createProduct(noShop, bearer(tokens.seller)))).code).toBe(Code.NotFound);
    const euros = { product: { ...draft("x").product, price: { currencyCode: "EUR", amountMinor: 100n } } };
    const error = await failureOf(products.createProduct(euros, bearer(tokens.seller)));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/currency_code/);
  });
});

describe("who may change and delete a product of the seller's shop", () => {
  it.each([
    ["the shop's seller", "seller", undefined],
    ["an admin", "admin", undefined],
    ["another seller", "otherSeller", Code.PermissionDenied],
    ["a customer", "customer", Code.PermissionDenied],
  ] as const)("when %s renames and deletes it, then %s", async (_, who, expected) => {
    const { product } = await products.createProduct(draft(`Matrix ${who}`), bearer(tokens.seller));
    const rename = products.updateProduct(
      { product: { id: product!.id, name: `Renamed by ${who}` }, updateMask: { paths: ["name"] } },
      bearer(tokens[who]),
    );
    const remove = () => products.deleteProduct({ id: product!.id }, bearer(tokens[who]));
    if (expected === undefined) {
      expect((await rename).product!.name).toBe(`Renamed by ${who}`);
      await remove();
      expect((await failureOf(products.getProduct({ id: product!.id }))).code).toBe(Code.NotFound);
    } else {
      expect((await failureOf(rename)).code).toBe(expected);
      expect((await failureOf(remove())).code).toBe(expected);
      expect((await products.getProduct({ id: product!.id })).product!.name).toBe(`Matrix ${who}`);
    }
  });
});

describe("changing and deleting a product", () => {
  it("when its seller changes the price, then everyone sees it and ProductUpdated carries old and new price", async () => {
    const { product } = await products.createProduct(draft("Repriced"), bearer(tokens.seller));
    const { product: updated } = await products.updateProduct(
      {
        product: { id: product!.id, price: { currencyCode: "USD", amountMinor: 999n } },
        updateMask: { paths: ["price"] },
      },
      bearer(tokens.seller),
    );
    expect(updated!.price!.amountMinor).toBe(999n);
    expect((await products.getProduct({ id: product!.id })).product!.price!.amountMinor).toBe(999n);
    await expectEvents(e2e.mesh.natsUrl, product!.id, "bazaar.product.>", [
      "bazaar.product.product_created",
      "bazaar.product.product_updated",
    ]);
  });

  it("when another seller tries to change or delete it, then permission_denied and nothing changes", async () => {
    const { product } = await products.createProduct(draft("Guarded"), bearer(tokens.seller));
    const change = { product: { id: product!.id, name: "Stolen" }, updateMask: { paths: ["name"] } };
    expect((await failureOf(products.updateProduct(change, bearer(tokens.otherSeller)))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await failureOf(products.deleteProduct({ id: product!.id }, bearer(tokens.otherSeller)))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await products.getProduct({ id: product!.id })).product!.name).toBe("Guarded");
  });

  it("when only an admin may feature a product, then a seller's attempt is refused and an admin's works", async () => {
    const { product } = await products.createProduct(draft("Star"), bearer(tokens.seller));
    const feature = { product: { id: product!.id, featured: true }, updateMask: { paths: ["featured"] } };
    expect((await failureOf(products.updateProduct(feature, bearer(tokens.seller)))).code).toBe(Code.PermissionDenied);
    expect((await products.updateProduct(feature, bearer(tokens.admin))).product!.featured).toBe(true);
  });

  it("when a product is deleted, then it is gone for buyers but its seller and admins still see it", async () => {
    const { product } = await products.createProduct(draft("Ephemeral"), bearer(tokens.seller));
    const id = product!.id;
    await products.deleteProduct({ id }, bearer(tokens.seller));

    expect((await failureOf(products.getProduct({ id }))).code).toBe(Code.NotFound);
    expect((await failureOf(products.getProduct({ id }, bearer(tokens.customer)))).code).toBe(Code.NotFound);
    expect((await products.getProduct({ id }, bearer(tokens.seller))).product!.id).toBe(id);
    expect((await products.getProduct({ id }, bearer(tokens.admin))).product!.id).toBe(id);

    const listed = await products.listProducts({ shopId, pageSize: 100 });
    expect(listed.products.map((p) => p.id)).not.toContain(id);
    const batch = await products.batchGetProducts({ ids: [listed.products[0]!.id, id] });
    expect(batch.products.map((p) => p.id)).toEqual([listed.products[0]!.id]);
    expect(batch.missingIds).toEqual([id]);
    expect((await failureOf(products.deleteProduct({ id }, bearer(tokens.seller)))).code).toBe(Code.NotFound);
    await expectEvents(e2e.mesh.natsUrl, id, "bazaar.product.>", ["bazaar.product.product_deleted"]);
  });

  it("when stock is adjusted, then availability follows and StockChanged is emitted; negative stock is invalid", async () => {
    const { product } = await products.createProduct(draft("Stocked"), bearer(tokens.seller));
    const { product: adjusted } = await products.adjustStock(
      { id: product!.id, stockOnHand: 42 },
      bearer(tokens.seller),
    );
    expect(adjusted).toMatchObject({ stockOnHand: 42, stockAvailable: 42 });
    expect(
      (await failureOf(products.adjustStock({ id: product!.id, stockOnHand: -1 }, bearer(tokens.seller)))).code,
    ).toBe(Code.InvalidArgument);
    await expectEvents(e2e.mesh.natsUrl, product!.id, "bazaar.product.>", ["bazaar.product.stock_changed"]);
  });
});

describe("a seller's own products", () => {
  it("when the seller lists their products with hidden ones, then inactive, deleted and low-stock ones come; nobody else sees them", async () => {
    const seller = bearer(tokens.seller);
    const add = async (name: string, stockOnHand = 7) =>
      (await products.createProduct({ product: { ...draft(name).product, stockOnHand } }, seller)).product!.id;
    const inactive = await add("Hidden: inactive");
    await products.updateProduct(
      { product: { id: inactive, active: false }, updateMask: { paths: ["active"] } },
      seller,
    );
    const deleted = await add("Hidden: deleted");
    await products.deleteProduct({ id: deleted }, seller);
    const lowStock = await add("Nearly sold out", 1);
    const sellerId = devAccounts.seller.id;
    const allIds = async (request: Parameters<typeof products.listProducts>[0], options = seller) => {
      const ids: string[] = [];
      for (let pageToken = ""; ; ) {
        const page = await products.listProducts({ ...request, pageSize: 100, pageToken }, options);
        ids.push(...page.products.map((p) => p.id));
        if (!page.nextPageToken) return ids;
        pageToken = page.nextPageToken;
      }
    };

    const own = await allIds({ sellerId, includeInactive: true, includeDeleted: true });
    expect(own).toEqual(expect.arrayContaining([inactive, deleted, lowStock]));
    const low = await allIds({ sellerId, lowStockBelow: 2, includeInactive: true });
    expect(low).toContain(lowStock);
    expect(low).not.toContain(inactive);

    const hidden = { sellerId, includeInactive: true, includeDeleted: true };
    for (const who of ["otherSeller", "customer"] as const)
      expect((await failureOf(products.listProducts(hidden, bearer(tokens[who])))).code).toBe(Code.PermissionDenied);
    expect((await failureOf(products.listProducts(hidden))).code).toBe(Code.Unauthenticated);
    for (const options of [bearer(tokens.otherSeller), bearer(tokens.customer), undefined]) {
      const seen = await allIds({ sellerId }, options);
      expect(seen).toContain(lowStock);
      expect(seen).not.toContain(inactive);
      expect(seen).not.toContain(deleted);
    }

    // The same through REST: query parameters as documented, refused anonymously, never cached.
    const query = `/v1/products?sellerId=${sellerId}&includeInactive=true&includeDeleted=true&pageSize=100`;
    expect((await callRest(e2e.mesh.edgeUrl, "GET", query)).status).toBe(401);
    const rest = await callRest(e2e.mesh.edgeUrl, "GET", query, { token: tokens.seller });
    expect(rest.status).toBe(200);
    expect(rest.headers.get("cache-control")).toMatch(/no-store/);
    expect(rest.body.products.find((p: { id: string }) => p.id === deleted)?.deleteTime).toBeDefined();
  });
});

describe("batch reads", () => {
  it("when ids are asked in an order, then products come back in that order", async () => {
    const page = await products.listProducts({ pageSize: 5 });
    const ids = page.products.map((p) => p.id).reverse();
    expect((await products.batchGetProducts({ ids })).products.map((p) => p.id)).toEqual(ids);
  });

  it("when more than 100 ids are asked, then invalid_argument", async () => {
    const ids = Array.from({ length: 101 }, () => "0193a000-0000-7000-8000-000000000001");
    expect((await failureOf(products.batchGetProducts({ ids }))).code).toBe(Code.InvalidArgument);
  });
});

describe("categories", () => {
  it("when an admin adds one under a parent, then it is listed; a seller may not; a taken slug is already_exists", async () => {
    const slug = `test-${randomBytes(3).toString("hex")}`;
    const category = { category: { parentId: categoryId, name: "Test Category", slug, sortOrder: 9 } };
    expect((await failureOf(products.createCategory(category, bearer(tokens.seller)))).code).toBe(
      Code.PermissionDenied,
    );
    const { category: created } = await products.createCategory(category, bearer(tokens.admin));
    expect(created).toMatchObject({ parentId: categoryId, slug });
    expect((await products.listCategories({})).categories.map((c) => c.id)).toContain(created!.id);
    expect((await failureOf(products.createCategory(category, bearer(tokens.admin)))).code).toBe(Code.AlreadyExists);
  });
});

describe("search", () => {
  it("when a buyer searches a product's exact name, then it ranks first, above partial matches", async () => {
    const word = `zq${randomBytes(3).toString("hex")}`;
    const create = (name: string, description = "", cents = 1000n, tags: string[] = []) =>
      products.createProduct(
        {
          product: { shopId, categoryId, name, description, price: { currencyCode: "USD", amountMinor: cents }, tags },
        },
        bearer(tokens.seller),
      );
    await create(`${word} teapot deluxe`, `The ${word} teapot, deluxe`, 3000n, [word]);
    await create(`Cozy for the ${word} teapot`, `${word} ${word} teapot cozy`, 900n, [word, "teapot"]);
    const { product: exact } = await create(`${word} teapot`, "plain", 1500n);

    const results = await products.searchProducts({ query: `${word} teapot` });
    expect(results.products[0]!.id).toBe(exact!.id);
    expect(results.products).toHaveLength(3);

    const cheap = await products.searchProducts({ query: `${word} teapot`, maxPriceMinor: 1000n });
    expect(cheap.products.map((p) => p.name)).toEqual([`Cozy for the ${word} teapot`]);

    const paged: string[] = [];
    let pageToken = "";
    do {
      const page = await products.searchProducts({ query: `${word} teapot`, pageSize: 1, pageToken });
      paged.push(...page.products.map((p) => p.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(paged).toEqual(results.products.map((p) => p.id));

    await products.deleteProduct({ id: exact!.id }, bearer(tokens.seller));
    expect((await products.searchProducts({ query: `${word} teapot` })).products.map((p) => p.id)).not.toContain(
      exact!.id,
    );
  });

  it("when a page token from another query is replayed, then invalid_argument", async () => {
    const first = await products.searchProducts({ query: "coffee", pageSize: 1 });
    expect(first.products.length).toBe(1);
    expect((await failureOf(products.searchProducts({ query: "tea", pageToken: first.nextPageToken }))).code).toBe(
      Code.InvalidArgument,
    );
  });
});
