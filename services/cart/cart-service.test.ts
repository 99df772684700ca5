// CartService's handlers in memory, against a database of their own and a catalog in memory:
// who may call what, whose cart a call sees, and which code each refusal answers.
import { Code, type Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { bind } from "../kit/serve.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import { createTestTokens, oneOfEach, signedIn, type Callers, type TestTokens } from "../kit/testing/tokens.ts";
import { cartAccessRules } from "./access-rules.ts";
import { createCartService } from "./cart-service.ts";
import type { CartDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { maxLines, maxQuantityPerLine } from "./domain/cart.ts";
import { aProduct, inMemoryCatalog, type InMemoryCatalog } from "./in-memory-catalog.ts";

let db: Kysely<CartDatabase>;
let tokens: TestTokens;
let callers: Callers;

/** The cart service over the shared database, with a catalog of its own. */
function cartServiceWith(catalog: InMemoryCatalog, productMaxAgeMs?: number): InMemoryServer {
  return serveInMemory({
    services: [bind(CartService, createCartService({ db, catalog, currencyCode: "EUR", productMaxAgeMs }))],
    rules: cartAccessRules,
    verifier: tokens.verifier,
  });
}

const catalog = inMemoryCatalog();
let carts: Client<typeof CartService>;
let server: InMemoryServer;

beforeAll(async () => {
  db = await migratedTestDatabase<CartDatabase>("cart_handlers", migrations);
  tokens = await createTestTokens();
  callers = await oneOfEach(tokens);
  server = cartServiceWith(catalog);
  carts = server.client(CartService);
});

afterAll(async () => {
  await db?.destroy();
});

const buyer = () => signedIn(tokens, "customer");

describe("who may call the cart", () => {
  it.each(
    accessMatrix(CartService, {
      getCart: "user",
      addCartItem: "user",
      updateCartItem: "user",
      removeCartItem: "user",
      clearCart: "user",
    }),
  )("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(server.transport, method, callers[caller])).toBe(expected);
  });
});

describe("whose cart a call sees", () => {
  it("when another user has filled their cart, then GetCart shows the caller an empty cart of their own", async () => {
    const [alice, bob] = [await buyer(), await buyer()];
    const tea = catalog.shelve(aProduct());
    await carts.addCartItem({ productId: tea.productId, quantity: 2 }, alice.options);

    const { cart } = await carts.getCart({}, bob.options);
    expect(cart?.items).toEqual([]);
    expect((await carts.getCart({}, alice.options)).cart?.items.map((i) => i.quantity)).toEqual([2]);
  });

  it("when the product is only in another user's cart, then RemoveCartItem answers not_found and their cart keeps it", async () => {
    const [alice, bob] = [await buyer(), await buyer()];
    const tea = catalog.shelve(aProduct());
    await carts.addCartItem({ productId: tea.productId, quantity: 1 }, alice.options);

    expect((await failureOf(carts.removeCartItem({ productId: tea.productId }, bob.options))).code).toBe(Code.NotFound);
    expect((await carts.getCart({}, alice.options)).cart?.items).toHaveLength(1);
  });
});

describe("what a refused change answers", () => {
  it("when the product is not for sale, then AddCartItem answers failed_precondition", async () => {
    const { options } = await buyer();
    const withdrawn = catalog.shelve(aProduct({ forSale: false }));
    const error = await failureOf(carts.addCartItem({ productId: withdrawn.productId, quantity: 1 }, options));
    expect(error.code).toBe(Code.FailedPrecondition);
  });

  it("when the catalog does not know the product, then AddCartItem answers failed_precondition", async () => {
    const { options } = await buyer();
    const error = await failureOf(carts.addCartItem({ productId: aProduct().productId, quantity: 1 }, options));
    expect(error.code).toBe(Code.FailedPrecondition);
  });

  it("when more units are wanted than are in stock, then AddCartItem and UpdateCartItem answer failed_precondition", async () => {
    const { options } = await buyer();
    const scarce = catalog.shelve(aProduct({ stockAvailable: 3 }));
    await carts.addCartItem({ productId: scarce.productId, quantity: 2 }, options);

    expect((await failureOf(carts.addCartItem({ productId: scarce.productId, quantity: 2 }, options))).code).toBe(
      Code.FailedPrecondition,
    );
    expect((await failureOf(carts.updateCartItem({ productId: scarce.productId, quantity: 4 }, options))).code).toBe(
      Code.FailedPrecondition,
    );
    expect((await carts.getCart({}, options)).cart?.items[0]?.quantity).toBe(2);
  });

  it(`when a line would hold more than ${maxQuantityPerLine} units, then AddCartItem answers failed_precondition`, async () => {
    const { options } = await buyer();
    const plenty = catalog.shelve(aProduct({ stockAvailable: 500 }));
    await carts.addCartItem({ productId: plenty.productId, quantity: maxQuantityPerLine }, options);
    const error = await failureOf(carts.addCartItem({ productId: plenty.productId, quantity: 1 }, options));
    expect(error.code).toBe(Code.FailedPrecondition);
  });

  it(`when the cart holds ${maxLines} products, then adding another answers failed_precondition`, async () => {
    const { options } = await buyer();
    for (let i = 0; i < maxLines; i++) {
      await carts.addCartItem({ productId: catalog.shelve(aProduct()).productId, quantity: 1 }, options);
    }
    const error = await failureOf(
      carts.addCartItem({ productId: catalog.shelve(aProduct()).productId, quantity: 1 }, options),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
  });

  it("when the product is not in the cart, then UpdateCartItem and RemoveCartItem answer not_found", async () => {
    const { options } = await buyer();
    const tea = catalog.shelve(aProduct());
    expect((await failureOf(carts.updateCartItem({ productId: tea.productId, quantity: 1 }, options))).code).toBe(
      Code.NotFound,
    );
    expect((await failureOf(carts.removeCartItem({ productId: tea.productId }, options))).code).toBe(Code.NotFound);
  });

  it("when a quantity is outside 1 to 99, then AddCartItem answers invalid_argument", async () => {
    const { options } = await buyer();
    const tea = catalog.shelve(aProduct());
    for (const quantity of [0, 100]) {
      const error = await failureOf(carts.addCartItem({ productId: tea.productId, quantity }, options));
      expect(error.code).toBe(Code.InvalidArgument);
    }
  });

  it("when the product service cannot be reached, then AddCartItem answers unavailable, which clients retry", async () => {
    const unreachable = inMemoryCatalog();
    unreachable.goDown();
    const { options } = await buyer();
    const error = await failureOf(
      cartServiceWith(unreachable)
        .client(CartService)
        .addCartItem({ productId: aProduct().productId, quantity: 1 }, options),
    );
    expect(error.code).toBe(Code.Unavailable);
  });
});

describe("which product facts a change goes by", () => {
  it("when the product's snapshot is recent, then adding more goes by it without the product service, and the answer is the whole cart", async () => {
    const shelf = inMemoryCatalog();
    const cart = cartServiceWith(shelf).client(CartService);
    const { options } = await buyer();
    const [tea, pot] = [shelf.shelve(aProduct({ name: "Tea" })), shelf.shelve(aProduct({ name: "Pot" }))];
    await cart.addCartItem({ productId: tea.productId, quantity: 1 }, options);
    await cart.addCartItem({ productId: pot.productId, quantity: 1 }, options);
    shelf.goDown();
    const { cart: after } = await cart.addCartItem({ productId: tea.productId, quantity: 2 }, options);
    expect(after!.items.map((item) => [item.name, item.quantity])).toEqual([
      ["Tea", 3],
      ["Pot", 1],
    ]);
    expect(after!.updateTime).toEqual((await cart.getCart({}, options)).cart!.updateTime);
    // A product it holds no snapshot of still needs the product service.
    const unknown = await failureOf(cart.addCartItem({ productId: aProduct().productId, quantity: 1 }, options));
    expect(unknown.code).toBe(Code.Unavailable);
  });

  it("when the snapshot's facts are older than allowed, then the product service is asked again and its stock decides", async () => {
    const shelf = inMemoryCatalog();
    const { options } = await buyer();
    const tea = shelf.shelve(aProduct({ stockAvailable: 5 }));
    await cartServiceWith(shelf).client(CartService).addCartItem({ productId: tea.productId, quantity: 1 }, options);
    shelf.shelve({ ...tea, stockAvailable: 1 });
    const trusting = cartServiceWith(shelf).client(CartService);
    expect(
      (await trusting.addCartItem({ productId: tea.productId, quantity: 1 }, options)).cart!.items[0]!.quantity,
    ).toBe(2);
    const asking = cartServiceWith(shelf, 0).client(CartService);
    const refused = await failureOf(asking.addCartItem({ productId: tea.productId, quantity: 1 }, options));
    expect(refused.code).toBe(Code.FailedPrecondition);
  });
});
