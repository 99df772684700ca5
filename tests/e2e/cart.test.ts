// The caller's own cart through the edge: lines, limits, stock checks, totals, and product
// changes reaching carts through events.
import { randomBytes } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsConnectOptions } from "../../services/kit/nats.ts";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import type { Cart } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { uuidv7 } from "../../services/kit/ids.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { devSellerShelf, registerCustomer } from "../support/shoppers.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh({ httpVersion: "1.1" });
const { carts, products, auth } = e2e;
let asSeller: ReturnType<typeof bearer>;
let shopId = "";
let categoryId = "";

beforeAll(async () => {
  ({ asSeller, shopId, categoryId } = await devSellerShelf(auth, products));
});

const newCustomer = () => registerCustomer(auth, "shopper");

async function newProduct(cents: bigint, stockOnHand: number) {
  const { product } = await products.createProduct(
    {
      product: {
        shopId,
        categoryId,
        name: `Cart item ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: cents },
        stockOnHand,
        imageUrls: ["https://img.bazaar.test/x.jpg"],
      },
    },
    asSeller,
  );
  return product!.id;
}

/** The caller's cart once `accept` holds (events reach the cart asynchronously), or as it is after 5 s. */
async function cartOnce(as: ReturnType<typeof bearer>, accept: (cart: Cart) => boolean): Promise<Cart> {
  return eventually(async () => (await carts.getCart({}, as)).cart!, accept);
}

describe("a customer's cart", () => {
  it("when products are added, then lines merge per product and totals are exact in minor units", async () => {
    const me = await newCustomer();
    const tea = await newProduct(350n, 20);
    const pot = await newProduct(2999n, 5);
    await carts.addCartItem({ productId: tea, quantity: 2 }, me);
    await carts.addCartItem({ productId: pot, quantity: 1 }, me);
    const { cart } = await carts.addCartItem({ productId: tea, quantity: 3 }, me);
    expect(cart!.items.map((i) => [i.productId, i.quantity, i.lineTotal!.amountMinor])).toEqual([
      [tea, 5, 1750n],
      [pot, 1, 2999n],
    ]);
    expect(cart!.totalItems).toBe(6);
    expect(cart!.subtotal).toMatchObject({ currencyCode: "USD", amountMinor: 4749n });
    expect(cart!.items[0]).toMatchObject({ available: true, imageUrl: "https://img.bazaar.test/x.jpg" });
  });

  it("when a quantity exceeds the stock, the per-line limit or the valid range, then it is refused and the cart is unchanged", async () => {
    const me = await newCustomer();
    const scarce = await newProduct(100n, 3);
    await carts.addCartItem({ productId: scarce, quantity: 2 }, me);
    expect((await failureOf(carts.addCartItem({ productId: scarce, quantity: 2 }, me))).code).toBe(
      Code.FailedPrecondition,
    );
    expect((await failureOf(carts.updateCartItem({ productId: scarce, quantity: 4 }, me))).code).toBe(
      Code.FailedPrecondition,
    );
    expect((await failureOf(carts.addCartItem({ productId: scarce, quantity: 0 }, me))).code).toBe(
      Code.InvalidArgument,
    );
    expect((await failureOf(carts.addCartItem({ productId: scarce, quantity: 100 }, me))).code).toBe(
      Code.InvalidArgument,
    );
    const missing = await failureOf(
      carts.addCartItem({ productId: "0193a000-0000-7000-8000-00000000dead", quantity: 1 }, me),
    );
    expect(missing.code).toBe(Code.FailedPrecondition);
    expect((await carts.getCart({}, me)).cart!.items.map((i) => i.quantity)).toEqual([2]);
  });

  it("when lines are changed, removed and cleared, then the cart follows; removing a missing line is not_found", async () => {
    const me = await newCustomer();
    const a = await newProduct(100n, 10);
    const b = await newProduct(200n, 10);
    await carts.addCartItem({ productId: a, quantity: 1 }, me);
    await carts.addCartItem({ productId: b, quantity: 1 }, me);
    expect((await carts.updateCartItem({ productId: a, quantity: 7 }, me)).cart!.subtotal!.amountMinor).toBe(900n);
    expect((await carts.removeCartItem({ productId: b }, me)).cart!.items.map((i) => i.productId)).toEqual([a]);
    expect((await failureOf(carts.removeCartItem({ productId: b }, me))).code).toBe(Code.NotFound);
    expect((await carts.clearCart({}, me)).cart!.items).toEqual([]);
  });

  it("when the seller changes the price or deletes the product, then carts show it within seconds", async () => {
    const me = await newCustomer();
    const repriced = await newProduct(1000n, 10);
    const doomed = await newProduct(500n, 10);
    await carts.addCartItem({ productId: repriced, quantity: 2 }, me);
    await carts.addCartItem({ productId: doomed, quantity: 1 }, me);

    await products.updateProduct(
      {
        product: { id: repriced, price: { currencyCode: "USD", amountMinor: 800n } },
        updateMask: { paths: ["price"] },
      },
      asSeller,
    );
    await products.deleteProduct({ id: doomed }, asSeller);
    const cart = await cartOnce(
      me,
      (c) => c.items.some((i) => i.unitPrice!.amountMinor === 800n) && c.items.some((i) => !i.available),
    );
    const [first, second] = cart.items;
    expect(first).toMatchObject({ productId: repriced, available: true });
    expect(first!.unitPrice!.amountMinor).toBe(800n);
    expect(second).toMatchObject({ productId: doomed, available: false });
    expect(cart.subtotal!.amountMinor).toBe(1600n);
    expect(cart.totalItems).toBe(2);
  });

  it("when stock runs out after adding, then the line shows as unavailable", async () => {
    const me = await newCustomer();
    const id = await newProduct(100n, 5);
    await carts.addCartItem({ productId: id, quantity: 3 }, me);
    await products.adjustStock({ id, stockOnHand: 1 }, asSeller);
    const cart = await cartOnce(me, (c) => c.items[0]?.available === false);
    expect(cart.items[0]).toMatchObject({ available: false, stockAvailable: 1 });
    expect(cart.subtotal!.amountMinor).toBe(0n);
  });

  it("when another customer looks, then they see their own cart, never someone else's; without a token, unauthenticated", async () => {
    const alice = await newCustomer();
    const bob = await newCustomer();
    await carts.addCartItem({ productId: await newProduct(100n, 5), quantity: 1 }, alice);
    expect((await carts.getCart({}, bob)).cart!.items).toEqual([]);
    expect((await failureOf(carts.getCart({}))).code).toBe(Code.Unauthenticated);
  });
});

describe("after checkout", () => {
  it("when OrderPlaced arrives late, then it takes the purchased quantities only off lines that were in the cart when the order was placed", async () => {
    const me = await registerCustomer(auth, "late");
    const [bought, readded] = [await newProduct(100n, 20), await newProduct(200n, 20)];
    await carts.addCartItem({ productId: bought, quantity: 3 }, me);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The order id carries the time the order was placed (taken before any later id of this process).
    const orderId = uuidv7();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Added after the order was placed: the buyer cleared the cart and filled it again.
    await carts.addCartItem({ productId: readded, quantity: 1 }, me);

    const nc = await connect(natsConnectOptions(e2e.mesh.natsUrl));
    try {
      const event = create(EventSchema, {
        id: uuidv7(),
        source: "order",
        payload: {
          case: "orderPlaced",
          value: {
            orderId,
            userId: me.id,
            items: [
              { productId: bought, quantity: 2 },
              { productId: readded, quantity: 1 },
            ],
          },
        },
      });
      await jetstream(nc).publish("bazaar.order.order_placed", toBinary(EventSchema, event), { msgID: event.id });
    } finally {
      await nc.close();
    }
    const cart = await cartOnce(me, (c) => c.items.find((i) => i.productId === bought)?.quantity === 1);
    expect(cart.items.map((i) => [i.productId, i.quantity]).sort()).toEqual(
      [
        [bought, 1],
        [readded, 1],
      ].sort(),
    );
  });
});
