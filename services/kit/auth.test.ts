// The authorization hook's rules, in memory: who may call what, and what the caller looks like.
import { Code, ConnectError, createContextValues, createHandlerContext } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it, vi } from "vitest";
import { InventoryService, ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import {
  accessRules,
  callerKey,
  createAuthHook,
  createTokenVerifier,
  DenyList,
  tokenProfile,
  type Caller,
  type TokenVerifier,
} from "./auth.ts";
import { errorInfoOf } from "./error-info.ts";

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
      returnReservationItems: "service",
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

describe("why a token is refused", () => {
  const signer = (async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA" };
    return { privateKey, verifier: createTokenVerifier({ loadJwks: async () => ({ keys: [jwk] }) }) };
  })();
  const token = async (expiresAt: number) => {
    const { privateKey } = await signer;
    return new SignJWT({ role: "customer" })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: tokenProfile.accessType })
      .setIssuer(tokenProfile.issuer)
      .setAudience(tokenProfile.audience)
      .setSubject("u-customer")
      .setIssuedAt(expiresAt - 900)
      .setExpirationTime(expiresAt)
      .sign(privateKey);
  };
  const refusal = async (verify: Promise<unknown>) => {
    const error = await verify.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    return { code: error && Code[error.code], reason: errorInfoOf(error)?.reason };
  };
  const now = () => Math.floor(Date.now() / 1000);

  it("when the access token has expired, then unauthenticated with TOKEN_EXPIRED, so the client refreshes it", async () => {
    const { verifier } = await signer;
    expect(await refusal(verifier.verify(await token(now() - 120)))).toEqual({
      code: "Unauthenticated",
      reason: "TOKEN_EXPIRED",
    });
    expect((await verifier.verify(await token(now() + 600))).id).toBe("u-customer");
  });

  it("when the token is forged, then unauthenticated with TOKEN_INVALID", async () => {
    const { verifier } = await signer;
    const [header, payload] = (await token(now() + 600)).split(".");
    expect(await refusal(verifier.verify(`${header}.${payload}.c2lnbmF0dXJl`))).toEqual({
      code: "Unauthenticated",
      reason: "TOKEN_INVALID",
    });
  });

  it("when a token verified before has expired since, then it is refused as expired, not answered from memory", async () => {
    const { verifier } = await signer;
    const soon = await token(now() + 5);
    expect((await verifier.verify(soon)).id).toBe("u-customer");
    vi.useFakeTimers({ now: Date.now() + (5 + tokenProfile.clockToleranceSeconds + 1) * 1000 });
    try {
      expect(await refusal(verifier.verify(soon))).toEqual({ code: "Unauthenticated", reason: "TOKEN_EXPIRED" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("when the key that signed a remembered token leaves the key set, then the token is refused", async () => {
    const keys = await Promise.all(
      ["k1", "k2"].map(async (kid) => {
        const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
        return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "EdDSA" } };
      }),
    );
    let served = [keys[0]!.jwk];
    const verifier = createTokenVerifier({ loadJwks: async () => ({ keys: served }), refreshIntervalMs: 0 });
    const signedWith = (key: (typeof keys)[number]) =>
      new SignJWT({ role: "customer" })
        .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: tokenProfile.accessType })
        .setIssuer(tokenProfile.issuer)
        .setAudience(tokenProfile.audience)
        .setSubject("u-customer")
        .setIssuedAt()
        .setExpirationTime("10m")
        .sign(key.privateKey);
    const old = await signedWith(keys[0]!);
    expect((await verifier.verify(old)).id).toBe("u-customer");
    // k1 retired, k2 rotated in: the first k2 token reloads the set.
    served = [keys[1]!.jwk];
    expect((await verifier.verify(await signedWith(keys[1]!))).id).toBe("u-customer");
    expect(await refusal(verifier.verify(old))).toEqual({ code: "Unauthenticated", reason: "TOKEN_INVALID" });
  });

  it("when a user RPC comes without a token, or from a deactivated user, then the hook says which", async () => {
    const ctx = (authorization?: string) =>
      createHandlerContext({
        service: ProductService,
        method: ProductService.method.createProduct,
        protocolName: "grpc",
        requestMethod: "POST",
        url: "/",
        requestHeader: authorization ? { authorization } : {},
        contextValues: createContextValues(),
      });
    expect((await refusal((async () => hook(ctx()))())).reason).toBe("SIGN_IN_REQUIRED");
    denyList.deny("u-seller", 1_000);
    expect((await refusal((async () => hook(ctx("Bearer seller.x.y")))())).reason).toBe("ACCOUNT_DEACTIVATED");
    denyList.allow("u-seller");
  });
});
