// The OpenAPI document of the REST API (gen/openapi/, from edge/openapi/protoc-gen-openapi.ts):
// valid OpenAPI 3.1, one operation for each google.api.http annotation of the public services
// (read here from the generated descriptors, not through the generator's code) and no other, and
// served by a running edge together with its docs page; and every GET route of it, walked against
// a seeded mesh, answers as the document says (tests/support/openapi-contract.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { globSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { getOption, hasOption, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../deploy/local/ports.ts";
import { http } from "../../gen/google/api/annotations_pb.ts";
import { ServiceIdentityService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { PaymentService } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { createMeshClient } from "../../services/kit/clients.ts";
import { devServiceSecret } from "../../services/kit/config.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { bearer } from "../../services/kit/testing/calls.ts";
import { startTestMesh, type TestMesh } from "../support/mesh.ts";
import { answerViolations, assertAsDocumented, documentedOperations } from "../support/openapi-contract.ts";
import { callRest, openRestStream, type RestAnswer } from "../support/rest.ts";

const root = new URL("../../", import.meta.url);
const committed = readFileSync(new URL("gen/openapi/bazaar.openapi.json", root));
const document = JSON.parse(committed.toString("utf8"));

// Every service of our protos, internal ones included.
const services: DescService[] = [];
for (const path of globSync("gen/bazaar/*/v1/*_pb.ts", { cwd: fileURLToPath(root) }).sort()) {
  const module: Record<string, unknown> = await import(new URL(path, root).href);
  services.push(...Object.values(module).filter(isService));
}

function isService(value: unknown): value is DescService {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "service";
}

const httpMethods = ["get", "put", "post", "delete", "patch"];

/** "GET /v1/products/{id} ProductService_GetProduct" for every operation of the document. */
function documentedRoutes(): string[] {
  return Object.entries(document.paths as Record<string, Record<string, { operationId: string }>>).flatMap(
    ([path, item]) =>
      Object.entries(item)
        .filter(([method]) => httpMethods.includes(method))
        .map(([method, operation]) => `${method.toUpperCase()} ${path} ${operation.operationId}`),
  );
}

/** The same for every annotated method: the template with `{product.id}` named by JSON names. */
function annotatedRoutes(): string[] {
  return services.flatMap((service) =>
    service.methods
      .filter((method) => hasOption(method, http))
      .map((method) => {
        const { pattern } = getOption(method, http);
        if (pattern.case === undefined || pattern.case === "custom") throw new Error(`${method.name}: no HTTP method`);
        const path = pattern.value.replace(
          /\{([^}=]+)(=[^}]*)?\}/g,
          (_, fieldPath: string) => `{${jsonFieldPath(method.input, fieldPath)}}`,
        );
        return `${pattern.case.toUpperCase()} ${path} ${service.name}_${method.name}`;
      }),
  );
}

function jsonFieldPath(message: DescMessage, fieldPath: string): string {
  let current: DescMessage | undefined = message;
  return fieldPath
    .split(".")
    .map((name) => {
      const field = current?.fields.find((candidate) => candidate.name === name);
      if (field === undefined) throw new Error(`${fieldPath} is not a field path of ${message.typeName}`);
      current = field.message;
      return field.jsonName;
    })
    .join(".");
}

/** Every `$ref` in a JSON value. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, member]) => (key === "$ref" ? [member as string] : refsIn(member)));
}

function resolvePointer(ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  return ref
    .slice(2)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<unknown>((node, token) => (node as Record<string, unknown> | undefined)?.[token], document);
}

const operation = (path: string, method: string) => document.paths[path][method];
const parameter = (path: string, method: string, name: string) =>
  operation(path, method).parameters.find((candidate: { name: string }) => candidate.name === name);

describe("the committed OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("has one operation for each google.api.http annotation, at the same path and method, and beside them only the edge's own routes", () => {
    const annotated = annotatedRoutes();
    expect(annotated.length).toBeGreaterThan(30);
    const edgeOwn = [
      "GET /.well-known/jwks.json Edge_GetJwks",
      "POST /v1/webhooks/{provider} Edge_ReceiveWebhook",
      "GET /pay/test/{paymentId} Edge_GetTestCheckoutPage",
      "POST /pay/test/{paymentId} Edge_ConfirmTestCheckout",
    ];
    expect(documentedRoutes().sort()).toEqual([...annotated, ...edgeOwn].sort());
  });

  it("describes /.well-known/jwks.json as the key set itself, and GetJwks's own route as the set inside a string", () => {
    expect(operation("/.well-known/jwks.json", "get").responses["200"].content["application/json"].schema.$ref).toBe(
      "#/components/schemas/JsonWebKeySet",
    );
    expect(operation("/v1/auth/jwks", "get").responses["200"].content["application/json"].schema.$ref).toBe(
      "#/components/schemas/bazaar.auth.v1.GetJwksResponse",
    );
  });

  it("describes the nine public services and no internal one, though both kinds were read", () => {
    const annotatedServices = services.filter((service) => service.methods.some((method) => hasOption(method, http)));
    const publicServices = [
      "AdminService",
      "AuthService",
      "CartService",
      "MediaService",
      "NotificationService",
      "OrderService",
      "ProductService",
      "ShopOrderService",
      "ShopService",
    ];
    expect(annotatedServices.map((service) => service.name).sort()).toEqual(publicServices);
    expect(document.tags.map((tag: { name: string }) => tag.name)).toEqual(publicServices);
    expect(services.map((service) => service.name)).toEqual(
      expect.arrayContaining(["InventoryService", "OrderAdminService"]),
    );
  });

  it("resolves every $ref inside the document", () => {
    const refs = [...new Set(refsIn(document))];
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.filter((ref) => resolvePointer(ref) === undefined)).toEqual([]);
  });

  it("when a product is updated, then product.id is in the path, the mask in the query and the product in the body", () => {
    const update = operation("/v1/products/{product.id}", "patch");
    expect(update.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual([
      "path:product.id",
      "query:updateMask",
    ]);
    expect(update.requestBody.required).toBe(true);
    expect(update.requestBody.content["application/json"].schema.$ref).toBe(
      "#/components/schemas/bazaar.product.v1.Product",
    );
    expect(parameter("/v1/products/{product.id}", "patch", "updateMask").description).toContain("`stockOnHand`");
  });

  it('when stock is adjusted with body "*", then the body holds every field but the id from the path', () => {
    const adjust = operation("/v1/products/{id}:adjustStock", "post");
    expect(adjust.parameters).toEqual([expect.objectContaining({ name: "id", in: "path", required: true })]);
    expect(Object.keys(adjust.requestBody.content["application/json"].schema.properties)).toEqual(["stockOnHand"]);
  });

  it("when products are listed, then every filter is a query parameter in proto3 JSON form", () => {
    expect(parameter("/v1/products", "get", "minPriceMinor").schema).toEqual({ type: "string", format: "int64" });
    expect(parameter("/v1/products", "get", "orderBy").schema.$ref).toBe(
      "#/components/schemas/bazaar.product.v1.ProductOrder",
    );
    expect(document.components.schemas["bazaar.product.v1.ProductOrder"].enum).toContain("PRODUCT_ORDER_PRICE_ASC");
    // A uuid that may be left empty (IGNORE_IF_ZERO_VALUE) keeps its format but asserts nothing.
    expect(parameter("/v1/products", "get", "categoryId").schema).toEqual({ type: "string", format: "uuid" });
    expect(parameter("/v1/shops", "get", "location.latitude").schema).toMatchObject({ minimum: -90, maximum: 90 });
    expect(parameter("/v1/products:batchGet", "get", "ids").schema).toMatchObject({
      type: "array",
      minItems: 1,
      maxItems: 100,
    });
  });

  it("when orders are watched, then the answer is newline-delimited JSON, one {result} per line", () => {
    const watch = operation("/v1/orders:watch", "get");
    const line = watch.responses["200"].content["application/x-ndjson"].schema;
    expect(line.properties.result.$ref).toBe("#/components/schemas/bazaar.order.v1.WatchOrdersResponse");
    expect(line.properties.error.$ref).toBe("#/components/schemas/Error");
  });

  it("carries buf.validate rules: required fields, lengths, timestamps as RFC 3339 strings", () => {
    const schemas = document.components.schemas;
    expect(schemas["bazaar.auth.v1.RegisterRequest"].properties.password).toMatchObject({
      minLength: 8,
      maxLength: 128,
    });
    expect(schemas["bazaar.auth.v1.RegisterRequest"].required).toBeUndefined();
    expect(schemas["bazaar.order.v1.PlaceOrderRequest"].required).toEqual([
      "idempotencyKey",
      "shippingAddress",
      "payment",
    ]);
    expect(schemas["bazaar.product.v1.Product"].properties.createTime).toMatchObject({
      type: "string",
      format: "date-time",
    });
  });

  it("answers errors in the shared Error shape, with the Connect code names", () => {
    expect(operation("/v1/orders", "post").responses.default.$ref).toBe("#/components/responses/Error");
    expect(document.components.schemas.Error.properties.code.enum).toEqual(
      expect.arrayContaining(["invalid_argument", "unauthenticated", "resource_exhausted", "failed_precondition"]),
    );
  });
});

// One mesh for the suites below, started by the first that runs.
let sharedMesh: TestMesh | undefined;
const startedMesh = async () => (sharedMesh ??= await startTestMesh());
afterAll(async () => {
  await sharedMesh?.stop();
});

describe("the document and its docs page, served by the edge", () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startedMesh();
  }, 120_000);

  it("when /openapi.json is fetched, then it is the committed document, as JSON", async () => {
    const response = await fetch(`${mesh.edgeUrl}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(Buffer.from(await response.arrayBuffer()).equals(committed)).toBe(true);
  });

  it("when /docs is opened, then every asset it names comes from the edge, and its script loads /openapi.json", async () => {
    const page = await fetch(`${mesh.edgeUrl}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toEqual(
      expect.arrayContaining(["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"]),
    );
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/); // no inline script
    for (const asset of assets) {
      expect(asset, "an asset of the edge's own").toMatch(/^\/docs\//);
      const response = await fetch(`${mesh.edgeUrl}${asset}`);
      expect(response.status, asset).toBe(200);
      await response.arrayBuffer();
    }
    const init = await (await fetch(`${mesh.edgeUrl}/docs/init.js`)).text();
    expect(init).toContain('url: "/openapi.json"');
  });
});

describe("an edge with its storefront and docs page turned off", () => {
  let edge: ChildProcess | undefined;
  let edgeUrl = "";
  beforeAll(async () => {
    const mesh = await startedMesh();
    // A second edge in front of the same services, as a deployment whose shop front lives
    // elsewhere would run it.
    const port = await freePort();
    edgeUrl = `http://127.0.0.1:${port}`;
    edge = spawn(process.execPath, ["edge/main.ts"], {
      env: {
        ...mesh.env,
        ...Object.fromEntries(
          Object.entries(mesh.addresses).map(([name, address]) => [`BAZAAR_${name.toUpperCase()}_ADDR`, address]),
        ),
        BAZAAR_EDGE_ADDR: `127.0.0.1:${port}`,
        BAZAAR_EDGE_METRICS_ADDR: `127.0.0.1:${await freePort()}`,
        BAZAAR_EDGE_STOREFRONT: "false",
        BAZAAR_EDGE_DOCS: "false",
        BAZAAR_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const deadline = Date.now() + 30_000;
    while (
      (await fetch(`${edgeUrl}/readyz`).then(
        (r) => r.status,
        () => 0,
      )) !== 200
    ) {
      if (Date.now() > deadline || edge.exitCode !== null) throw new Error("the second edge did not get ready");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 120_000);

  afterAll(async () => {
    if (!edge || edge.exitCode !== null) return;
    edge.kill("SIGTERM");
    await once(edge, "exit");
  });

  it("when the storefront's and the docs' paths are fetched, then they are not found, while the document and the API answer", async () => {
    for (const path of ["/", "/app.js", "/style.css", "/docs", "/docs/swagger-ui-bundle.js"]) {
      const response = await fetch(`${edgeUrl}${path}`);
      expect(response.status, path).toBe(404);
      await response.arrayBuffer();
    }
    // A mailed link is not sent to a storefront that is not there.
    const link = await fetch(`${edgeUrl}/orders/01JD0000000000000000000000`, { redirect: "manual" });
    expect(link.status).toBe(404);
    await link.arrayBuffer();
    const document = await fetch(`${edgeUrl}/openapi.json`);
    expect(document.status).toBe(200);
    expect(Buffer.from(await document.arrayBuffer()).equals(committed)).toBe(true);
    const products = await callRest(edgeUrl, "GET", "/v1/products?pageSize=1");
    expect(products.status).toBe(200);
  });
});

describe("the live REST surface, read as the document describes it", () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startedMesh();
  }, 120_000);

  it("when every GET route is called with the seeded data, then each answer (successes and errors) is exactly as documented", {
    timeout: 60_000,
  }, async () => {
    const get = (path: string, token?: string) => callRest(mesh.edgeUrl, "GET", path, { token });
    const signIn = async (account: { email: string; password: string }) =>
      (
        await callRest(mesh.edgeUrl, "POST", "/v1/auth/login", {
          body: { email: account.email, password: account.password },
        })
      ).body.tokens.accessToken as string;
    const [admin, seller, customer] = await Promise.all([
      signIn(devAccounts.admin),
      signIn(devAccounts.seller),
      signIn(devAccounts.customer),
    ]);
    // A shopper with nothing yet: an empty cart and no orders, where zero values abound.
    const newcomer = (
      await callRest(mesh.edgeUrl, "POST", "/v1/auth/register", {
        body: { email: `walk-${Date.now()}@example.test`, password: "password-123", displayName: "Walker" },
      })
    ).body.tokens.accessToken as string;

    const { products } = (await get("/v1/products?pageSize=100")).body;
    const { categories } = (await get("/v1/categories")).body;
    const nearBerlin = "location.latitude=52.52&location.longitude=13.40&radiusKm=20";
    const shop = (await get(`/v1/shops?${nearBerlin}`)).body.shops[0].shop;
    const product = products[0];
    await callRest(mesh.edgeUrl, "POST", "/v1/cart/items", {
      token: customer,
      body: { productId: product.id, quantity: 1 },
    });
    const placed = await callRest(mesh.edgeUrl, "POST", "/v1/orders", {
      token: customer,
      body: {
        idempotencyKey: crypto.randomUUID(),
        shippingAddress: {
          recipientName: "Walker",
          line1: "1 Walk Way",
          city: "Berlin",
          postalCode: "10115",
          countryCode: "DE",
        },
        payment: { method: "PAYMENT_METHOD_CARD", cardToken: "tok_visa" },
      },
    });
    expect(placed.status).toBe(200);
    const orderId = placed.body.order.id as string;
    const shopOrder = placed.body.order.shopOrders[0] as { id: string; shopId: string };
    const day = 24 * 3600 * 1000;
    // A 3-D Secure payment made as the order service makes one, for the test provider's page.
    const threeDs = await createdPayment(mesh, "tok_threeDSecure");
    /** An HTML page, checked against the document like every JSON answer. */
    const getPage = async (path: string): Promise<RestAnswer> => {
      const response = await fetch(`${mesh.edgeUrl}${path}`);
      const body = await response.text();
      const contentType = response.headers.get("content-type");
      assertAsDocumented(
        `GET ${path} → ${response.status}`,
        answerViolations({ method: "GET", path, status: response.status, contentType, body }),
      );
      return { status: response.status, headers: response.headers, body };
    };
    const range = `fromTime=${new Date(Date.now() - day).toISOString()}&toTime=${new Date(Date.now() + day).toISOString()}`;

    // Each GET template → the calls that exercise it; a route added to the protos without one
    // here fails below, so the walk always covers the whole document.
    const calls: Record<string, Array<() => Promise<RestAnswer>>> = {
      "/.well-known/jwks.json": [() => get("/.well-known/jwks.json")],
      "/pay/test/{paymentId}": [
        () => getPage(`/pay/test/${threeDs}`),
        () => getPage(`/pay/test/${crypto.randomUUID()}`),
      ],
      "/v1/auth/jwks": [() => get("/v1/auth/jwks")],
      "/v1/admin/audit-events": [() => get("/v1/admin/audit-events", admin)],
      "/v1/admin/dead-letters": [() => get("/v1/admin/dead-letters", admin)],
      "/v1/admin/orders": [
        () => get("/v1/admin/orders", admin),
        () => get(`/v1/admin/orders?userId=${devAccounts.customer.id}`, admin),
      ],
      "/v1/admin/payments": [
        () => get("/v1/admin/payments?status=PAYMENT_STATUS_CAPTURED&pageSize=5", admin),
        () => get("/v1/admin/payments?orderId=not-a-uuid", admin),
        () => get("/v1/admin/payments", customer),
      ],
      "/v1/admin/shops": [
        () => get("/v1/admin/shops", admin),
        () => get(`/v1/admin/shops?status=SHOP_STATUS_ACTIVE&sellerId=${devAccounts.seller.id}`, admin),
      ],
      "/v1/admin/reports/sales": [
        () => get(`/v1/admin/reports/sales?${range}`, admin),
        () => get("/v1/admin/reports/sales", admin),
      ],
      "/v1/admin/users": [() => get("/v1/admin/users", admin)],
      "/v1/admin/users/{id}": [
        () => get(`/v1/admin/users/${devAccounts.customer.id}`, admin),
        () => get(`/v1/admin/users/${devAccounts.customer.id}`, customer),
      ],
      "/v1/auth/me": [() => get("/v1/auth/me", customer), () => get("/v1/auth/me", newcomer), () => get("/v1/auth/me")],
      "/v1/cart": [() => get("/v1/cart", customer), () => get("/v1/cart", newcomer)],
      "/v1/categories": [() => get("/v1/categories")],
      "/v1/orders": [() => get("/v1/orders", customer), () => get("/v1/orders", newcomer)],
      "/v1/orders/{id}": [() => get(`/v1/orders/${orderId}`, customer), () => get(`/v1/orders/${orderId}`, newcomer)],
      "/v1/products": [
        () => get("/v1/products?pageSize=100"),
        () => get(`/v1/products?pageSize=2&categoryId=${categories.at(-1).id}&orderBy=PRODUCT_ORDER_PRICE_DESC`),
        () => get(`/v1/products?sellerId=${devAccounts.seller.id}`, seller),
        () => get("/v1/products?pageSize=-1"),
      ],
      "/v1/products/{id}": [
        () => get(`/v1/products/${product.id}`),
        () => get(`/v1/products/${product.id}`, seller),
        () => get(`/v1/products/${crypto.randomUUID()}`),
        () => get("/v1/products/not-a-uuid"),
      ],
      "/v1/products:batchGet": [() => get(`/v1/products:batchGet?ids=${products[1].id}&ids=${products[2].id}`)],
      "/v1/products:search": [() => get("/v1/products:search?query=coffee")],
      "/v1/shops": [() => get("/v1/shops"), () => get(`/v1/shops?${nearBerlin}&query=market`)],
      "/v1/shops/{id}": [() => get(`/v1/shops/${shop.id}`), () => get(`/v1/shops/${shop.id}`, seller)],
      "/v1/shops/{shopId}/orders": [
        () => get(`/v1/shops/${shopOrder.shopId}/orders?status=SHOP_ORDER_STATUS_CONFIRMED`, seller),
        () => get(`/v1/shops/${shopOrder.shopId}/orders`, newcomer),
        () => get(`/v1/shops/${shopOrder.shopId}/orders`),
      ],
      "/v1/shops/{shopId}/orders:watch": [
        async () => {
          const stream = await openRestStream(
            mesh.edgeUrl,
            "GET",
            `/v1/shops/${shopOrder.shopId}/orders:watch?sinceTime=${new Date(Date.now() - day).toISOString()}`,
            { token: seller },
          );
          const first = await stream.lines.next();
          await stream.cancel();
          expect(first.value?.result.shopOrder.shopId).toBe(shopOrder.shopId);
          return { status: stream.status, headers: stream.headers, body: first.value };
        },
      ],
      "/v1/shops/{shopId}/sales-report": [
        () => get(`/v1/shops/${shopOrder.shopId}/sales-report`, seller),
        () => get(`/v1/shops/${shopOrder.shopId}/sales-report?fromDate=2026-02-30`, seller),
        () => get(`/v1/shops/${shopOrder.shopId}/sales-report`, customer),
      ],
      "/v1/shop-orders/{id}": [
        () => get(`/v1/shop-orders/${shopOrder.id}`, seller),
        () => get(`/v1/shop-orders/${shopOrder.id}`, customer),
      ],
      "/v1/notifications": [
        () => get("/v1/notifications?unreadOnly=true&pageSize=5", customer),
        () => get("/v1/notifications?pageToken=forged", customer),
        () => get("/v1/notifications"),
      ],
      "/v1/notifications:unreadCount": [() => get("/v1/notifications:unreadCount", customer)],
      "/v1/notifications/preferences": [() => get("/v1/notifications/preferences", newcomer)],
      "/v1/notifications:watch": [
        async () => {
          const stream = await openRestStream(
            mesh.edgeUrl,
            "GET",
            `/v1/notifications:watch?sinceTime=${new Date(Date.now() - day).toISOString()}`,
            { token: customer },
          );
          const first = await stream.lines.next();
          await stream.cancel();
          expect(first.value?.result.notification.kind).toBe("NOTIFICATION_KIND_ORDER_CONFIRMED");
          return { status: stream.status, headers: stream.headers, body: first.value };
        },
      ],
      "/v1/orders:watch": [
        async () => {
          const stream = await openRestStream(
            mesh.edgeUrl,
            "GET",
            `/v1/orders:watch?sinceTime=${new Date(Date.now() - day).toISOString()}`,
            {
              token: customer,
            },
          );
          const first = await stream.lines.next();
          await stream.cancel();
          expect(first.value?.result.order.id).toBe(orderId);
          return { status: stream.status, headers: stream.headers, body: first.value };
        },
      ],
    };
    const getRoutes = documentedOperations().filter((operation) => operation.method === "get");
    expect(Object.keys(calls).sort()).toEqual(getRoutes.map((operation) => operation.template).sort());
    // All of them, so one run lists every mismatch.
    const answered: Record<string, number[]> = {};
    const violations: string[] = [];
    for (const [template, exercises] of Object.entries(calls)) {
      for (const exercise of exercises) {
        try {
          (answered[template] ??= []).push((await exercise()).status);
        } catch (error) {
          violations.push((error as Error).message);
        }
      }
    }
    expect(violations).toEqual([]);
    // Every route answered at least once with a success.
    expect(Object.entries(answered).filter(([, statuses]) => !statuses.includes(200))).toEqual([]);
  });
});

/** A payment created on PaymentService's own port with the order service's identity. */
async function createdPayment(mesh: TestMesh, token: string): Promise<string> {
  const identity = createMeshClient(ServiceIdentityService, mesh.addresses.auth);
  const payments = createMeshClient(PaymentService, mesh.addresses.payment);
  try {
    const { accessToken } = await identity.client.issueServiceToken({ serviceName: "order", secret: devServiceSecret });
    const { payment } = await payments.client.createPayment(
      {
        orderId: crypto.randomUUID(),
        amount: { currencyCode: "EUR", amountMinor: 1250n },
        paymentMethodToken: token,
      },
      bearer(accessToken),
    );
    return payment!.id;
  } finally {
    identity.close();
    payments.close();
  }
}
