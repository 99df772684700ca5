// The M1 vertical slice, end to end: real service and edge processes, real MariaDB and NATS,
// the demo seed, and clients speaking each protocol the edge and the mesh promise.
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { connectJson } from "../support/mesh.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();

const listProducts = (body: unknown) =>
  connectJson(e2e.mesh.edgeUrl, "bazaar.product.v1.ProductService/ListProducts", body);

describe("the product slice through the edge, Connect JSON over plain fetch", () => {
  it("when a browser lists products, then it gets seeded products with prices in minor units and stock", async () => {
    const { status, body } = await listProducts({});
    expect(status).toBe(200);
    expect(body.products).toHaveLength(20);
    for (const product of body.products) {
      expect(product.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(product.name).toBeTruthy();
      expect(product.price.currencyCode).toBe("USD");
      expect(BigInt(product.price.amountMinor)).toBeGreaterThan(0n);
      expect(product.stockAvailable).toBeGreaterThan(0);
    }
    expect(body.nextPageToken).toBeTruthy();
  });

  it("when the categories are listed, then they form a tree at least two levels deep", async () => {
    const { status, body } = await connectJson(e2e.mesh.edgeUrl, "bazaar.product.v1.ProductService/ListCategories", {});
    expect(status).toBe(200);
    const categories: Array<{ id: string; parentId?: string; name: string }> = body.categories;
    expect(categories.length).toBeGreaterThanOrEqual(10);
    const roots = categories.filter((c) => !c.parentId);
    const children = categories.filter((c) => c.parentId);
    expect(roots.length).toBeGreaterThan(0);
    expect(children.every((c) => roots.some((r) => r.id === c.parentId))).toBe(true);
  });

  it("when filtering by a parent category, then its subcategories' products come back, page after page without repeats", async () => {
    const { body: tree } = await connectJson(e2e.mesh.edgeUrl, "bazaar.product.v1.ProductService/ListCategories", {});
    const electronics = tree.categories.find((c: { name: string }) => c.name === "Electronics");
    const subcategoryIds = new Set(
      tree.categories
        .filter((c: { parentId?: string }) => c.parentId === electronics.id)
        .map((c: { id: string }) => c.id),
    );
    const seen: string[] = [];
    let pageToken = "";
    do {
      const { status, body } = await listProducts({ categoryId: electronics.id, pageSize: 5, pageToken });
      expect(status).toBe(200);
      for (const product of body.products) {
        expect(subcategoryIds.has(product.categoryId)).toBe(true);
        seen.push(product.id);
      }
      pageToken = body.nextPageToken ?? "";
    } while (pageToken);
    expect(seen.length).toBe(18);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("when ordering by price ascending, then prices never decrease across pages", async () => {
    const prices: bigint[] = [];
    let pageToken = "";
    do {
      const { body } = await listProducts({ orderBy: "PRODUCT_ORDER_PRICE_ASC", pageSize: 25, pageToken });
      prices.push(...body.products.map((p: { price: { amountMinor: string } }) => BigInt(p.price.amountMinor)));
      pageToken = body.nextPageToken ?? "";
    } while (pageToken);
    expect(prices.length).toBeGreaterThanOrEqual(60);
    expect(prices.every((price, i) => i === 0 || prices[i - 1]! <= price)).toBe(true);
  });

  it("when a product is fetched by id, then it is returned; an unknown id is not_found, a malformed one invalid_argument", async () => {
    const { body: page } = await listProducts({ pageSize: 1 });
    const id = page.products[0].id;
    const found = await connectJson(e2e.mesh.edgeUrl, "bazaar.product.v1.ProductService/GetProduct", { id });
    expect(found.status).toBe(200);
    expect(found.body.product.id).toBe(id);

    const missing = await connectJson(e2e.mesh.edgeUrl, "bazaar.product.v1.ProductService/GetProduct", {
      id: "0193a000-0000-7000-8000-00000000dead",
    });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("not_found");

    const malformed = await connectJson(e2e.mesh.edgeUrl, "bazaar.product.v1.ProductService/GetProduct", {
      id: "42; DROP TABLE",
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("invalid_argument");
    expect(malformed.body.message).toMatch(/id/);
  });

  it("when a page token is tampered with, then the answer is invalid_argument, not a server error", async () => {
    const { status, body } = await listProducts({ pageToken: "bm90LWEtdG9rZW4" });
    expect(status).toBe(400);
    expect(body.code).toBe("invalid_argument");
  });

  it("when a client calls an internal service through the edge, then there is no such route", async () => {
    for (const path of [
      "bazaar.product.v1.InventoryService/ReserveStock",
      "bazaar.auth.v1.UserDirectoryService/ListUsers",
      "bazaar.order.v1.OrderAdminService/ListAllOrders",
      "bazaar.events.v1.DeadLetterService/ListDeadLetters",
      "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ]) {
      const { status } = await connectJson(e2e.mesh.edgeUrl, path, {});
      expect(status, path).toBe(404);
    }
  });
});

describe("the same slice over every protocol the edge speaks", () => {
  const transports = () => ({
    "Connect binary, HTTP/1.1": createConnectTransport({
      baseUrl: e2e.mesh.edgeUrl,
      httpVersion: "1.1",
      useBinaryFormat: true,
    }),
    "Connect JSON, h2c": createConnectTransport({ baseUrl: e2e.mesh.edgeUrl, httpVersion: "2" }),
    "gRPC-Web, HTTP/1.1": createGrpcWebTransport({ baseUrl: e2e.mesh.edgeUrl, httpVersion: "1.1" }),
    "gRPC, h2c": createGrpcTransport({ baseUrl: e2e.mesh.edgeUrl }),
  });

  it("when each protocol asks for the first page, then each gets the same products", async () => {
    const ids = new Set<string>();
    for (const [name, transport] of Object.entries(transports())) {
      const response = await createClient(ProductService, transport).listProducts({ pageSize: 3 });
      expect(response.products, name).toHaveLength(3);
      ids.add(response.products.map((p) => p.id).join(","));
    }
    expect(ids.size).toBe(1);
  });
});

describe("the product service on its own port, for any gRPC client", () => {
  it("when an independent grpc-js client loads proto/ and calls GetProduct and Health/Check, then both answer", async () => {
    const definition = protoLoader.loadSync(["bazaar/product/v1/product.proto", "grpc/health/v1/health.proto"], {
      includeDirs: ["proto", "proto/vendor"],
      keepCase: true,
      enums: String,
      longs: String,
      defaults: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as any;
    const address = e2e.mesh.addresses.product;
    const products = new loaded.bazaar.product.v1.ProductService(address, grpc.credentials.createInsecure());
    const health = new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
    const call = <T>(client: any, method: string, request: unknown) =>
      new Promise<T>((resolve, reject) =>
        client[method](request, { deadline: Date.now() + 5_000 }, (error: Error | null, response: T) =>
          error ? reject(error) : resolve(response),
        ),
      );
    try {
      const page = await call<any>(products, "ListProducts", { page_size: 1 });
      const product = await call<any>(products, "GetProduct", { id: page.products[0].id });
      expect(product.product.id).toBe(page.products[0].id);
      expect(Number(product.product.price.amount_minor)).toBeGreaterThan(0);

      const status = await call<any>(health, "Check", { service: "" });
      expect(status.status).toBe("SERVING");
      const productStatus = await call<any>(health, "Check", { service: "bazaar.product.v1.ProductService" });
      expect(productStatus.status).toBe("SERVING");

      const failure = await call<any>(products, "GetProduct", { id: "not-a-uuid" }).catch((error) => error);
      expect(failure.code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      products.close();
      health.close();
    }
  });
});
