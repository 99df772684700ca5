// The REST routes of the edge, as a seed-style client (curl, fetch, any HTTP library) uses them:
// every route of the google.api.http annotations answers; path, query and body mapping with
// proto3 JSON names; JSON errors with the matching HTTP status; caching headers; and a whole
// purchase — login, search, cart, order, its live status as NDJSON — over plain HTTP/1.1 JSON.
// Every answer goes through tests/support/rest.ts, which checks it against /openapi.json.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getOption } from "@bufbuild/protobuf";
import { AuthService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { AdminService } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { OrderService, ShopOrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { ProductService, ShopService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { http as httpRule } from "../../gen/google/api/annotations_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { connectJson, startTestMesh, type TestMesh } from "../support/mesh.ts";
import { callRest, openRestStream, type RestAnswer, type RestRequest } from "../support/rest.ts";

let mesh: TestMesh;
let adminToken: string;

const rest = (method: string, path: string, request?: RestRequest): Promise<RestAnswer> =>
  callRest(mesh.edgeUrl, method, path, request);

const login = async (account: { email: string; password: string }) =>
  (await rest("POST", "/v1/auth/login", { body: { email: account.email, password: account.password } })).body.tokens
    .accessToken as string;

beforeAll(async () => {
  mesh = await startTestMesh();
  adminToken = await login(devAccounts.admin);
});
afterAll(() => mesh?.stop());

describe("the route table", () => {
  const publicServices = [
    AuthService,
    ProductService,
    ShopService,
    CartService,
    OrderService,
    ShopOrderService,
    AdminService,
  ];
  const routes = publicServices.flatMap((service) =>
    service.methods.flatMap((method) => {
      const rule = getOption(method, httpRule);
      if (rule.pattern.case === undefined || rule.pattern.case === "custom") return [];
      return [
        {
          rpc: `${service.name}.${method.name}`,
          verb: rule.pattern.case.toUpperCase(),
          template: rule.pattern.value,
          streams: method.methodKind === "server_streaming",
        },
      ];
    }),
  );

  it("covers every RPC of the public services", () => {
    const rpcs = publicServices.flatMap((service) => service.methods.map((method) => `${service.name}.${method.name}`));
    expect(routes.map((route) => route.rpc).sort()).toEqual(rpcs.sort());
  });

  it("when each annotated route is called, then its backend answers (never the edge's no-route)", {
    timeout: 60_000,
  }, async () => {
    const unanswered: string[] = [];
    for (const route of routes) {
      // Every path variable is an id: a random UUID reaches the handler, which may say not_found.
      const path = route.template.replace(/\{[\w.]+\}/g, randomUUID());
      const request = { token: adminToken, body: route.verb === "GET" || route.verb === "DELETE" ? undefined : {} };
      let answer: RestAnswer;
      if (route.streams) {
        const stream = await openRestStream(mesh.edgeUrl, route.verb, path, request);
        await stream.cancel();
        answer = { status: stream.status, headers: stream.headers, body: stream.error };
      } else {
        answer = await rest(route.verb, path, request);
      }
      // The edge's own refusals: a route it does not know, a method it does not allow.
      if (answer.status === 405 || /^no route/.test(answer.body?.message ?? ""))
        unanswered.push(`${route.verb} ${route.template} → ${answer.status} ${JSON.stringify(answer.body)}`);
      expect(answer.headers.get("content-type"), `${route.verb} ${route.template}`).toMatch(
        /^application\/(json|x-ndjson)/,
      );
    }
    expect(unanswered).toEqual([]);
  });

  it("when a path is unknown or a method is not the route's, then 404 or 405 as JSON", async () => {
    const unknown = await rest("GET", "/v1/nothing-here");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: "not_found" });
    const wrongMethod = await rest("PUT", "/v1/products");
    expect(wrongMethod.status).toBe(405);
    expect((await rest("POST", "/.well-known/jwks.json")).status).toBe(405);
  });
});

describe("mapping requests and answers", () => {
  it("when query parameters use JSON or proto names, then both filter; numbers and enums come as text", async () => {
    const camel = await rest("GET", "/v1/products?pageSize=2&orderBy=PRODUCT_ORDER_PRICE_ASC");
    expect(camel.status).toBe(200);
    expect(camel.body.products).toHaveLength(2);
    expect(Number(camel.body.products[0].price.amountMinor)).toBeLessThanOrEqual(
      Number(camel.body.products[1].price.amountMinor),
    );
    const snake = await rest("GET", "/v1/products?page_size=3");
    expect(snake.body.products).toHaveLength(3);
    // Paging through the REST route: the token of one page gives the next, without repeats.
    const next = await rest("GET", `/v1/products?pageSize=3&pageToken=${encodeURIComponent(snake.body.nextPageToken)}`);
    expect(next.body.products.map((p: any) => p.id)).not.toContain(snake.body.products[0].id);
  });

  it("when a path variable names a product, then GET /v1/products/{id} is that product, in the same JSON as Connect answers", async () => {
    const [first] = (await rest("GET", "/v1/products?pageSize=1")).body.products;
    const one = await rest("GET", `/v1/products/${first.id}`);
    expect(one.status).toBe(200);
    expect(one.body.product.id).toBe(first.id);
    expect(one.body.product).toHaveProperty("name", first.name);
    const viaConnect = await connectJson(mesh.edgeUrl, "bazaar.product.v1.ProductService/GetProduct", { id: first.id });
    expect(one.body).toEqual(viaConnect.body);
  });

  it("when a field is at its zero value, then the answer leaves it out: a top-level category has no parentId, not an empty one", async () => {
    const { categories } = (await rest("GET", "/v1/categories")).body;
    const topLevel = categories.filter((category: any) => !("parentId" in category));
    expect(topLevel.length).toBeGreaterThan(0);
    const children = categories.filter((category: any) => "parentId" in category);
    expect(children.map((child: any) => child.parentId)).toEqual(
      expect.arrayContaining(topLevel.map((parent: any) => parent.id)),
    );
    expect(categories.filter((category: any) => category.parentId === "")).toEqual([]);
  });

  it("when a request is invalid, then 400 with the field at fault in the details; unknown parameters are named", async () => {
    const badId = await rest("GET", "/v1/products/not-a-uuid");
    expect(badId.status).toBe(400);
    expect(badId.body.code).toBe("invalid_argument");
    expect(JSON.stringify(badId.body.details)).toContain("id");
    const unknown = await rest("GET", "/v1/products?colour=red");
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('"colour"');
    const wrongType = await rest("GET", "/v1/products?pageSize=many");
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.message).toMatch(/page_size|pageSize/);
    const notJson = await rest("POST", "/v1/auth/login", {
      rawBody: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toContain("not valid JSON");
  });

  it("when the caller is not signed in or asks for another's order, then 401 and 404", async () => {
    expect((await rest("GET", "/v1/orders")).status).toBe(401);
    expect((await rest("GET", "/v1/cart", { token: "garbage" })).status).toBe(401);
    const customer = await login(devAccounts.customer);
    expect((await rest("GET", `/v1/orders/${randomUUID()}`, { token: customer })).status).toBe(404);
    expect((await rest("GET", "/v1/admin/users", { token: customer })).status).toBe(403);
  });

  it("when catalog reads are anonymous, then they may be cached publicly; an admin's and personal answers may not", async () => {
    const [first] = (await rest("GET", "/v1/products?pageSize=1")).body.products;
    expect((await rest("GET", `/v1/products/${first.id}`)).headers.get("cache-control")).toMatch(
      /^public, max-age=\d+$/,
    );
    expect((await rest("GET", `/v1/products/${first.id}`, { token: adminToken })).headers.get("cache-control")).toBe(
      "private, no-store",
    );
    expect((await rest("GET", "/v1/cart", { token: adminToken })).headers.get("cache-control")).toBe(
      "private, no-store",
    );
    // The same rule over Connect GET.
    const message = encodeURIComponent(JSON.stringify({ id: first.id }));
    const viaGet = await fetch(
      `${mesh.edgeUrl}/bazaar.product.v1.ProductService/GetProduct?connect=v1&encoding=json&message=${message}`,
    );
    expect(viaGet.status).toBe(200);
    expect(viaGet.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    const personal = await fetch(
      `${mesh.edgeUrl}/bazaar.cart.v1.CartService/GetCart?connect=v1&encoding=json&message=%7B%7D`,
      {
        headers: { authorization: `Bearer ${adminToken}` },
      },
    );
    expect(personal.status).toBe(200);
    expect(personal.headers.get("cache-control")).toBe("private, no-store");
  });

  it("answers with the request id it was given, or one of its own", async () => {
    expect(
      (await rest("GET", "/v1/categories", { headers: { "x-request-id": "req-from-client-1" } })).headers.get(
        "x-request-id",
      ),
    ).toBe("req-from-client-1");
    expect((await rest("GET", "/v1/categories")).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("a purchase over REST", () => {
  it("registers, searches, fills the cart, orders by card, sees it CONFIRMED on the NDJSON watch, and cancels", async () => {
    const email = `rest-${randomUUID().slice(0, 8)}@example.test`;
    const registered = await rest("POST", "/v1/auth/register", {
      body: { email, password: "password-123", displayName: "Rest Buyer" },
    });
    expect(registered.status).toBe(200);
    const token = registered.body.tokens.accessToken as string;
    expect((await rest("GET", "/v1/auth/me", { token })).body.user.email).toBe(email);

    const [product] = (await rest("GET", "/v1/products?pageSize=1")).body.products;
    const word = String(product.name).split(/\s+/)[0]!;
    const found = await rest("GET", `/v1/products:search?query=${encodeURIComponent(word)}`);
    expect(found.status).toBe(200);
    expect(found.body.products.map((p: any) => p.id)).toContain(product.id);

    expect((await rest("POST", "/v1/cart/items", { token, body: { productId: product.id, quantity: 2 } })).status).toBe(
      200,
    );
    const changed = await rest("PATCH", `/v1/cart/items/${product.id}`, { token, body: { quantity: 1 } });
    expect(changed.status).toBe(200);
    expect((await rest("GET", "/v1/cart", { token })).body.cart.items).toEqual([
      expect.objectContaining({ productId: product.id, quantity: 1 }),
    ]);

    // The watch opens first, so the order's changes arrive live.
    const watch = await openRestStream(mesh.edgeUrl, "GET", "/v1/orders:watch", { token });
    expect(watch.status).toBe(200);
    expect(watch.headers.get("content-type")).toBe("application/x-ndjson");
    const placed = await rest("POST", "/v1/orders", {
      token,
      body: {
        idempotencyKey: randomUUID(),
        shippingAddress: {
          recipientName: "Rest Buyer",
          line1: "1 Rest Street",
          city: "Berlin",
          postalCode: "10115",
          countryCode: "DE",
        },
        payment: { method: "PAYMENT_METHOD_CARD", cardToken: "tok_visa" },
      },
    });
    expect(placed.status).toBe(200);
    const orderId = placed.body.order.id as string;
    expect(placed.body.order.status).toBe("ORDER_STATUS_CONFIRMED");

    const seen: string[] = [];
    for await (const update of watch.lines) {
      if (update.result.order.id === orderId) seen.push(update.result.order.status);
      if (seen.includes("ORDER_STATUS_CONFIRMED")) break;
    }
    await watch.cancel();
    expect(seen).toEqual(["ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED"]);

    expect((await rest("GET", `/v1/orders/${orderId}`, { token })).body.order.status).toBe("ORDER_STATUS_CONFIRMED");
    const cancelled = await rest("POST", `/v1/orders/${orderId}:cancel`, { token, body: {} });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.order.status).toBe("ORDER_STATUS_CANCELLED");
    const again = await rest("POST", `/v1/orders/${orderId}:cancel`, { token, body: {} });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe("failed_precondition");
  });
});
