// The in-memory server runs a handler the way serve() does in production: access rules and the
// caller first, then validation, then the handler, and what it throws translated for the wire.
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { ProductService } from "../../../gen/bazaar/product/v1/product_pb.ts";
import { accessRules, callerOf, type Caller } from "../auth.ts";
import { notYetImplemented } from "../not-implemented.ts";
import { bind } from "../serve.ts";
import { bearer, failureOf } from "./calls.ts";
import { serveInMemory, type InMemoryServer } from "./in-memory.ts";
import { createTestTokens, signedIn, type SignedIn, type TestTokens } from "./tokens.ts";

const productId = "0193a000-0000-7000-8000-0000000000aa";
const handled: string[] = [];
let deleter: Caller | undefined;
let tokens: TestTokens;
let server: InMemoryServer;
let seller: SignedIn;

beforeAll(async () => {
  tokens = await createTestTokens();
  seller = await signedIn(tokens, "seller");
  server = serveInMemory({
    verifier: tokens.verifier,
    rules: [
      accessRules(ProductService, {
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
    ],
    services: [
      bind(ProductService, {
        ...notYetImplemented(ProductService, "a later test"),
        async getProduct(request) {
          handled.push(`GetProduct ${request.id}`);
          if (request.id.endsWith("1")) throw new Error("ER_PARSE_ERROR near 'SELECT * FROM secret' at 10.0.0.7");
          if (request.id.endsWith("2")) throw new ConnectError("product service is restarting", Code.Unavailable);
          return { product: { id: request.id, name: "Tea" } };
        },
        async deleteProduct(request, ctx: HandlerContext) {
          handled.push(`DeleteProduct ${request.id}`);
          deleter = callerOf(ctx);
          return {};
        },
      }),
    ],
  });
});

describe("handlers served in memory", () => {
  it("when a handler fails with a driver's error, then the caller gets internal without the driver's words", async () => {
    const error = await failureOf(server.client(ProductService).getProduct({ id: productId.replace(/a$/, "1") }));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error");
  });

  it("when a dependency is unavailable, then its code reaches the caller unchanged", async () => {
    const error = await failureOf(server.client(ProductService).getProduct({ id: productId.replace(/a$/, "2") }));
    expect(error.code).toBe(Code.Unavailable);
  });

  it("when a request breaks its validation rules, then it answers invalid_argument and the handler never runs", async () => {
    const before = handled.length;
    const error = await failureOf(server.client(ProductService).getProduct({ id: "not-a-uuid" }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/^id: /);
    expect(handled.length).toBe(before);
  });

  it("when an anonymous caller calls a seller's RPC, then it is refused as unauthenticated before validation", async () => {
    const error = await failureOf(server.client(ProductService).deleteProduct({ id: "not-a-uuid" }));
    expect(error.code).toBe(Code.Unauthenticated);
  });

  it("when a seller calls it, then the handler sees the token's subject as the caller", async () => {
    await server.client(ProductService).deleteProduct({ id: productId }, seller.options);
    expect(deleter).toMatchObject({ id: seller.id, role: "seller" });
  });

  it("when a token was signed by a key the verifier does not know, then it answers unauthenticated", async () => {
    const stranger = await createTestTokens();
    const forged = await stranger.sign({ id: seller.id, role: "admin" });
    const error = await failureOf(server.client(ProductService).deleteProduct({ id: productId }, bearer(forged)));
    expect(error.code).toBe(Code.Unauthenticated);
  });
});
