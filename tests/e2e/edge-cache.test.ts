// The edge's cache of public catalog answers, against a real mesh: who shares an answer
// (anonymous visitors and customers), who never gets one from the cache (a product's seller,
// other sellers, admins), and how fast a write made anywhere — straight at the product service,
// through another edge — reaches every cached read (the catalog's events evict it).
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProductService, ShopService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { freePort } from "../../deploy/local/ports.ts";
import { scrapeMetrics, totalOf } from "../support/metrics.ts";
import { unthrottled } from "../support/mesh.ts";
import { devSellerShelf, registerCustomer, registerSeller, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const { auth, products, shops, admin } = e2e;

let shelf: Awaited<ReturnType<typeof devSellerShelf>>;
let customer: Awaited<ReturnType<typeof registerCustomer>>;
let rival: Awaited<ReturnType<typeof registerSeller>>;
let asAdmin: ReturnType<typeof bearer>;

beforeAll(async () => {
  shelf = await devSellerShelf(auth, products);
  customer = await registerCustomer(auth, "cache-buyer");
  rival = await registerSeller(auth, "cache-rival");
  asAdmin = await signIn(auth, devAccounts.admin);
});

async function aProduct(name: string) {
  const { product } = await products.createProduct(
    {
      product: {
        shopId: shelf.shopId,
        categoryId: shelf.categoryId,
        name,
        description: "as first written",
        price: { currencyCode: "USD", amountMinor: 1_250n },
        stockOnHand: 5,
      },
    },
    shelf.asSeller,
  );
  return product!;
}

/**
 * How many reads the edge answered from its shared cache, and how many GetProduct calls reached
 * the product service (which keeps its own read cache, for every kind of reader).
 */
async function whoAnswered() {
  const [edge, product] = await Promise.all([
    scrapeMetrics(e2e.mesh.metricsUrl("edge")),
    scrapeMetrics(e2e.mesh.metricsUrl("product")),
  ]);
  return {
    edgeCache: totalOf(edge, "bazaar_edge_public_cache_lookups_total", { outcome: "hit" }),
    productService: totalOf(product, "grpc_server_handled_total", { grpc_method: "GetProduct" }),
  };
}

describe("who shares the edge's cached answers", () => {
  it("when a customer reads a product an anonymous visitor read, then both get the cached public view; its seller, a rival seller and an admin are answered by the product service", async () => {
    // A demo product, not a new one: a new product's ProductCreated may reach the edge after the
    // first read below and rightly evict it.
    const [product] = (await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 1 })).products;
    const read = async (options?: ReturnType<typeof bearer>) =>
      (await products.getProduct({ id: product!.id }, options)).product!;
    const first = await read();

    const before = await whoAnswered();
    expect(await read(), "anonymous").toEqual(first);
    expect(await read(customer), "a customer: the same public view").toEqual(first);
    const shared = await whoAnswered();
    expect(shared, "both from the edge's cache").toEqual({ ...before, edgeCache: before.edgeCache + 2 });

    for (const [who, options] of [
      ["its seller", shelf.asSeller],
      ["a rival seller", rival],
      ["an admin", asAdmin],
    ] as const) {
      expect(await read(options), who).toEqual(first);
    }
    expect(await whoAnswered(), "never from the edge's cache").toEqual({
      edgeCache: shared.edgeCache,
      productService: shared.productService + 3,
    });
  });

  it("when the seller reads their hidden product, then their view never reaches the cache: customers and anonymous visitors still get not_found", async () => {
    const product = await aProduct(`Hidden ${randomUUID().slice(0, 8)}`);
    await products.updateProduct(
      { product: { id: product.id, active: false }, updateMask: { paths: ["active"] } },
      shelf.asSeller,
    );
    for (let i = 0; i < 3; i++) {
      const { product: seen } = await products.getProduct({ id: product.id }, shelf.asSeller);
      expect(seen!.active).toBe(false);
    }
    for (const options of [customer, rival, undefined]) {
      const refused = await failureOf(products.getProduct({ id: product.id }, options));
      expect(refused.code).toBe(Code.NotFound);
    }
  });

  it("when catalog reads are answered, then Cache-Control is public for anonymous visitors, private with a max-age for customers, no-store for sellers", async () => {
    const product = await aProduct(`Headers ${randomUUID().slice(0, 8)}`);
    const read = (authorization?: string) =>
      fetch(`${e2e.mesh.edgeUrl}/bazaar.product.v1.ProductService/GetProduct`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization && { authorization }) },
        body: JSON.stringify({ id: product.id }),
      });
    const authorizationOf = (options: ReturnType<typeof bearer>) => new Headers(options.headers).get("authorization")!;
    expect((await read()).headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    expect((await read(authorizationOf(customer))).headers.get("cache-control")).toMatch(/^private, max-age=\d+$/);
    expect((await read(authorizationOf(shelf.asSeller))).headers.get("cache-control")).toBe("private, no-store");
  });

  it("when an admin deactivates a customer, then the edge refuses their token within a second, cached answers included", async () => {
    const product = await aProduct(`Deny ${randomUUID().slice(0, 8)}`);
    const soon = await registerCustomer(auth, "cache-deactivated");
    await products.getProduct({ id: product.id }, soon);
    await admin.setUserActive({ id: soon.id, active: false }, asAdmin);
    const deactivatedAt = Date.now();
    const refused = await eventually(
      () => failureOf(products.getProduct({ id: product.id }, soon)).catch(() => undefined),
      (failure) => failure?.code === Code.Unauthenticated || failure?.code === Code.PermissionDenied,
      5_000,
    );
    expect(Date.now() - deactivatedAt).toBeLessThan(1_000);
    expect(refused!.message).toContain("deactivated");
  });
});

describe("how fast a write reaches every cached read", () => {
  let secondEdge: ChildProcess | undefined;
  let secondEdgeUrl = "";

  beforeAll(async () => {
    // A second edge in front of the same services, as a second replica would be.
    const port = await freePort();
    secondEdgeUrl = `http://127.0.0.1:${port}`;
    secondEdge = spawn(process.execPath, ["edge/main.ts"], {
      env: {
        ...e2e.mesh.env,
        ...unthrottled,
        ...Object.fromEntries(
          Object.entries(e2e.mesh.addresses).map(([name, address]) => [`BAZAAR_${name.toUpperCase()}_ADDR`, address]),
        ),
        BAZAAR_EDGE_ADDR: `127.0.0.1:${port}`,
        BAZAAR_EDGE_METRICS_ADDR: `127.0.0.1:${await freePort()}`,
        BAZAAR_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    await eventually(
      () =>
        fetch(`${secondEdgeUrl}/readyz`).then(
          (r) => r.status,
          () => 0,
        ),
      (status) => status === 200,
      30_000,
    );
  }, 40_000);

  afterAll(async () => {
    if (!secondEdge || secondEdge.exitCode !== null) return;
    secondEdge.kill("SIGTERM");
    await once(secondEdge, "exit");
  });

  /** How long until `read` answers `expected`, polled every 20 ms for up to 5 s. */
  async function msUntil<T>(read: () => Promise<T>, expected: T): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < 5_000) {
      if ((await read()) === expected) return Date.now() - start;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return Number.POSITIVE_INFINITY;
  }

  it("when stock is adjusted straight at the product service, then cached reads through both edges show it within a second", async () => {
    const product = await aProduct(`Fresh ${randomUUID().slice(0, 8)}`);
    const throughSecond = createClient(
      ProductService,
      createConnectTransport({ baseUrl: secondEdgeUrl, httpVersion: "1.1" }),
    );
    const stockThrough = (client: typeof products, options?: ReturnType<typeof bearer>) => async () =>
      (await client.getProduct({ id: product.id }, options)).product!.stockOnHand;
    // Cached in both edges, for anonymous visitors and customers alike.
    for (const read of [stockThrough(products), stockThrough(throughSecond, customer)]) {
      expect(await read()).toBe(5);
      expect(await read()).toBe(5);
    }
    const direct = e2e.internal(ProductService, "product");
    await direct.adjustStock({ id: product.id, stockOnHand: 9 }, shelf.asSeller);
    const waits = await Promise.all([
      msUntil(stockThrough(products), 9),
      msUntil(stockThrough(throughSecond, customer), 9),
    ]);
    expect(Math.max(...waits), `ms until each edge showed the change: ${waits.join(", ")}`).toBeLessThan(1_000);
  });

  it("when a product is renamed through one edge, then a cached search and list through the other show the new name within a second", async () => {
    const word = `Zephyr${randomUUID().slice(0, 6)}`;
    const product = await aProduct(`${word} kettle`);
    const throughSecond = createClient(
      ProductService,
      createConnectTransport({ baseUrl: secondEdgeUrl, httpVersion: "1.1" }),
    );
    const namesFound = async () =>
      (await throughSecond.searchProducts({ query: word })).products.map((p) => p.name).join(",");
    expect(await namesFound()).toBe(`${word} kettle`);
    await products.updateProduct(
      { product: { id: product.id, name: `${word} teapot` }, updateMask: { paths: ["name"] } },
      shelf.asSeller,
    );
    expect(await msUntil(namesFound, `${word} teapot`)).toBeLessThan(1_000);
  });

  it("when a shop is renamed or a category changes, then cached shop and category reads through the other edge follow within a second", async () => {
    const throughSecond = createConnectTransport({ baseUrl: secondEdgeUrl, httpVersion: "1.1" });
    const shopsThere = createClient(ShopService, throughSecond);
    const productsThere = createClient(ProductService, throughSecond);
    const shopName = async () => (await shopsThere.getShop({ id: shelf.shopId })).shop!.name;
    const original = await shopName();
    const renamed = `${original.replace(/ \(renamed [^)]*\)$/, "")} (renamed ${randomUUID().slice(0, 6)})`;
    await shops.updateShop(
      { shop: { id: shelf.shopId, name: renamed }, updateMask: { paths: ["name"] } },
      shelf.asSeller,
    );
    expect(await msUntil(shopName, renamed)).toBeLessThan(1_000);

    const slug = `cache-${randomUUID().slice(0, 8)}`;
    const { category } = await products.createCategory({ category: { name: "Cache test", slug } }, asAdmin);
    const categoryName = async () =>
      (await productsThere.listCategories({})).categories.find((c) => c.id === category!.id)?.name ?? "";
    expect(await msUntil(categoryName, "Cache test")).toBeLessThan(1_000);
    await admin.updateCategory(
      { category: { id: category!.id, name: "Cache test, renamed" }, updateMask: { paths: ["name"] } },
      asAdmin,
    );
    expect(await msUntil(categoryName, "Cache test, renamed")).toBeLessThan(1_000);
  });
});
