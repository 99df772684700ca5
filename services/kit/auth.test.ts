// The authorization hook's rules, in memory: who may call what, and what the caller looks like.
import { Code, ConnectError, createContextValues, createHandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { InventoryService, ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { accessRules, callerKey, createAuthHook, DenyList, type Caller, type TokenVerifier } from "./auth.ts";

const callers: Record<string, Caller> = {
  customer: { id: "u-customer", role: "customer", issuedAt: 1_000 },
  seller: { id: "u-seller", role: "seller", issuedAt: 1_000 },
  admin: { id: "u-admin", role: "admin", issuedAt: 1_000 },
  service: { id: "service:order", role: "service", issuedAt: 1_000 },
};
// Tokens in this test are just the caller's name; real verification is tested end to end.
const verifier: TokenVerifier = {
  async verify(token) {
    const caller = callers[token.split(".")[0]!];
    if (!caller) throw new ConnectError("invalid", Code.Unauthenticated);
    return caller;
  },
};
const denyList = new DenyList();
const hook = createAuthHook({
  verifier,
  denyList,
  rules: new Map([
    ...accessRules(ProductService, {
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
    ...accessRules(InventoryService, {
      reserveStock: "service",
      commitReservation: "service",
      releaseReservation: "user",
      returnReservation: "service",
    }),
  ]),
});

async function outcome(
  method: { parent: typeof ProductService | typeof InventoryService; name: string },
  who?: string,
) {
  const service = method.parent;
  const ctx = createHandlerContext({
    service,
    method: service.methods.find((m) => m.name === method.name)!,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "/",
    requestHeader: who ? { authorization: `Bearer ${who}.x.y` } : {},
    contextValues: createContextValues(),
  });
  try {
    await hook(ctx);
    return ctx.values.get(callerKey)?.role ?? "anonymous";
  } catch (error) {
    return Code[ConnectError.from(error).code];
  }
}

describe("the authorization hook", () => {
  it.each([
    ["GetProduct", undefined, "anonymous"],
    ["GetProduct", "customer", "customer"],
    ["CreateProduct", undefined, "Unauthenticated"],
    ["CreateProduct", "customer", "PermissionDenied"],
    ["CreateProduct", "seller", "seller"],
    ["CreateProduct", "admin", "admin"],
    ["CreateProduct", "service", "PermissionDenied"],
    ["CreateCategory", "seller", "PermissionDenied"],
    ["CreateCategory", "admin", "admin"],
    ["GetProduct", "forged", "Unauthenticated"],
  ])("ProductService.%s called by %s → %s", async (name, who, expected) => {
    expect(await outcome({ parent: ProductService, name }, who)).toBe(expected);
  });

  it.each([
    ["ReserveStock", "customer", "PermissionDenied"],
    ["ReserveStock", "admin", "PermissionDenied"],
    ["ReserveStock", "service", "service"],
  ])("InventoryService.%s called by %s → %s", async (name, who, expected) => {
    expect(await outcome({ parent: InventoryService, name }, who)).toBe(expected);
  });

  it("when a user is on the deny list, then tokens issued before the deactivation are refused, later ones not", async () => {
    denyList.deny("u-customer", 1_000);
    expect(await outcome({ parent: ProductService, name: "GetProduct" }, "customer")).toBe("Unauthenticated");
    denyList.allow("u-customer");
    expect(await outcome({ parent: ProductService, name: "GetProduct" }, "customer")).toBe("customer");
  });

  it("when the authorization header is not a bearer JWT, then unauthenticated", async () => {
    const ctx = createHandlerContext({
      service: ProductService,
      method: ProductService.methods[0]!,
      protocolName: "grpc",
      requestMethod: "POST",
      url: "/",
      requestHeader: { authorization: "Basic dXNlcjpwYXNz" },
    });
    await expect(hook(ctx)).rejects.toMatchObject({ code: Code.Unauthenticated });
  });
});
