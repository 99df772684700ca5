// Checkout through the edge against the real mesh: the journey from cart to confirmed order,
// payment failures, stock shortages, price changes, idempotency and races for the last units.
import { randomBytes, randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { OrderStatus, PaymentMethod, PaymentStatus, ShopOrderStatus } from "../../gen/bazaar/order/v1/order_pb.ts";
import { PreconditionFailureSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { callRest } from "../support/rest.ts";
import { devSellerShelf, registerCustomer } from "../support/shoppers.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { expectEvents } from "../support/events.ts";
import { useMesh } from "../support/use-mesh.ts";

// Generous client deadlines: a hundred concurrent checkouts share two cores with other tests.
const e2e = useMesh({ env: { BAZAAR_EDGE_CHECKOUT_TIMEOUT_MS: "30000" } });
const { auth, carts, orders, products, shopOrders } = e2e;
let asSeller: ReturnType<typeof bearer>;
let shopId = "";
let categoryId = "";

beforeAll(async () => {
  ({ asSeller, shopId, categoryId } = await devSellerShelf(auth, products));
});

const address = {
  recipientName: "Ada",
  line1: "1 Checkout Way",
  city: "Berlin",
  postalCode: "10999",
  countryCode: "DE",
};
const card = (cardToken: string) => ({ method: PaymentMethod.CARD, cardToken });

const newCustomer = () => registerCustomer(auth, "buyer");

async function newProduct(cents: bigint, stockOnHand: number, inShop = shopId) {
  const { product } = await products.createProduct(
    {
      product: {
        shopId: inShop,
        categoryId,
        name: `Checkout item ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: cents },
        stockOnHand,
      },
    },
    asSeller,
  );
  return product!.id;
}

const stockOf = async (id: string) => (await products.getProduct({ id }, asSeller)).product!;

describe("checking out", () => {
  it("when a customer buys three products by card, then the order is confirmed with exact totals, stock is sold and the cart emptied", async () => {
    const me = await newCustomer();
    const ids = [await newProduct(1999n, 10), await newProduct(250n, 10), await newProduct(10001n, 10)];
    await carts.addCartItem({ productId: ids[0]!, quantity: 2 }, me);
    await carts.addCartItem({ productId: ids[1]!, quantity: 3 }, me);
    await carts.addCartItem({ productId: ids[2]!, quantity: 1 }, me);

    const { order } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment: card("tok_visa") },
      me,
    );
    expect(order!.status).toBe(OrderStatus.CONFIRMED);
    // 2 × 19.99 + 3 × 2.50 + 100.01 = 147.49; 5 % tax = 7.3745 → 7.37
    expect(order!.subtotal!.amountMinor).toBe(14749n);
    expect(order!.tax!.amountMinor).toBe(737n);
    expect(order!.total!.amountMinor).toBe(15486n);
    expect(order!.payment).toMatchObject({ method: PaymentMethod.CARD, status: PaymentStatus.CAPTURED });
    expect(order!.statusHistory.map((s) => s.status)).toEqual([OrderStatus.PENDING, OrderStatus.CONFIRMED]);
    expect(await stockOf(ids[0]!)).toMatchObject({ stockOnHand: 8, stockAvailable: 8 });

    const { cart } = await eventually(
      () => carts.getCart({}, me),
      ({ cart }) => cart!.items.length === 0,
    );
    expect(cart!.items).toEqual([]);

    expect((await orders.listOrders({}, me)).orders.map((o) => o.id)).toEqual([order!.id]);
    expect((await orders.getOrder({ id: order!.id }, me)).order!.total!.amountMinor).toBe(15486n);
  });

  it("when the card is declined, then the order is PAYMENT_FAILED with the reason and the stock is free again", async () => {
    const me = await newCustomer();
    const id = await newProduct(500n, 4);
    await carts.addCartItem({ productId: id, quantity: 3 }, me);
    const { order } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment: card("tok_chargeDeclined") },
      me,
    );
    expect(order).toMatchObject({
      status: OrderStatus.PAYMENT_FAILED,
      payment: expect.objectContaining({ status: PaymentStatus.DECLINED, failureReason: "the card was declined" }),
    });
    expect(await stockOf(id)).toMatchObject({ stockOnHand: 4, stockAvailable: 4 });
    await expectEvents(e2e.mesh.natsUrl, order!.id, "bazaar.order.>", [
      "bazaar.order.payment_failed",
      "bazaar.order.order_status_changed",
    ]);
  });

  it("when the payment provider stays unavailable, then after retries the order is PAYMENT_FAILED and nothing is held", async () => {
    const me = await newCustomer();
    const id = await newProduct(500n, 4);
    await carts.addCartItem({ productId: id, quantity: 1 }, me);
    const { order } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment: card("tok_unavailable") },
      me,
    );
    expect(order).toMatchObject({
      status: OrderStatus.PAYMENT_FAILED,
      payment: expect.objectContaining({ status: PaymentStatus.FAILED }),
    });
    expect((await stockOf(id)).stockAvailable).toBe(4);
  });

  it("when paying cash on delivery, then the order is confirmed without authorization", async () => {
    const me = await newCustomer();
    await carts.addCartItem({ productId: await newProduct(700n, 2), quantity: 1 }, me);
    const { order } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment: { method: PaymentMethod.CASH_ON_DELIVERY } },
      me,
    );
    expect(order).toMatchObject({
      status: OrderStatus.CONFIRMED,
      payment: expect.objectContaining({ status: PaymentStatus.DUE_ON_DELIVERY }),
    });
  });

  it("when stock ran out after the product was added, then failed_precondition names the product and no order is left pending", async () => {
    const me = await newCustomer();
    const id = await newProduct(900n, 5);
    await carts.addCartItem({ productId: id, quantity: 4 }, me);
    await products.adjustStock({ id, stockOnHand: 2 }, asSeller);
    const error = await failureOf(
      orders.placeOrder({ idempotencyKey: randomUUID(), shippingAddress: address, payment: card("tok_visa") }, me),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.findDetails(PreconditionFailureSchema)[0]?.violations.map((v) => v.subject)).toEqual([id]);
    expect((await orders.listOrders({}, me)).orders.map((o) => o.status)).toEqual([OrderStatus.CANCELLED]);
    expect((await stockOf(id)).stockAvailable).toBe(2);
  });

  it("when the price changed after adding, then the order charges the catalog's price at checkout", async () => {
    const me = await newCustomer();
    const id = await newProduct(1000n, 5);
    await carts.addCartItem({ productId: id, quantity: 1 }, me);
    await products.updateProduct(
      { product: { id, price: { currencyCode: "USD", amountMinor: 1200n } }, updateMask: { paths: ["price"] } },
      asSeller,
    );
    const { order } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment: card("tok_visa") },
      me,
    );
    expect(order!.items[0]!.unitPrice!.amountMinor).toBe(1200n);
  });

  it("when the cart is empty, then failed_precondition; an unknown card method is invalid_argument", async () => {
    const me = await newCustomer();
    expect(
      (
        await failureOf(
          orders.placeOrder({ idempotencyKey: randomUUID(), shippingAddress: address, payment: card("tok_visa") }, me),
        )
      ).code,
    ).toBe(Code.FailedPrecondition);
    expect(
      (
        await failureOf(
          orders.placeOrder(
            { idempotencyKey: randomUUID(), shippingAddress: address, payment: { method: PaymentMethod.CARD } },
            me,
          ),
        )
      ).code,
    ).toBe(Code.InvalidArgument);
  });
});

describe("idempotency and isolation", () => {
  it("when the same key arrives 20 times at once, then one order exists and every success returns it", async () => {
    const me = await newCustomer();
    const id = await newProduct(300n, 10);
    await carts.addCartItem({ productId: id, quantity: 2 }, me);
    const key = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        orders.placeOrder({ idempotencyKey: key, shippingAddress: address, payment: card("tok_visa") }, me),
      ),
    );
    expect(new Set(results.map((r) => r.order!.id)).size).toBe(1);
    expect((await orders.listOrders({}, me)).orders).toHaveLength(1);
    expect((await stockOf(id)).stockOnHand).toBe(8);
  });

  it("when a request is retried after it succeeded and the cart was emptied, then the same order comes back and nothing is bought twice", async () => {
    const me = await newCustomer();
    const id = await newProduct(300n, 10);
    await carts.addCartItem({ productId: id, quantity: 1 }, me);
    const request = {
      idempotencyKey: randomUUID(),
      shippingAddress: address,
      payment: { method: PaymentMethod.CASH_ON_DELIVERY },
    };
    const { order } = await orders.placeOrder(request, me);
    await eventually(
      () => carts.getCart({}, me),
      ({ cart }) => cart!.items.length === 0,
    );
    // The response was lost; the client sends the same request again, now with an empty cart.
    const { order: again } = await orders.placeOrder(request, me);
    expect(again!.id).toBe(order!.id);
    // Items added after the purchase are not what the key bought: still the same order.
    await carts.addCartItem({ productId: id, quantity: 2 }, me);
    expect((await orders.placeOrder(request, me)).order!.id).toBe(order!.id);
    expect((await orders.listOrders({}, me)).orders).toHaveLength(1);
    expect((await stockOf(id)).stockOnHand).toBe(9);
  });

  it("when a key is reused with another address or payment, then invalid_argument", async () => {
    const me = await newCustomer();
    const id = await newProduct(300n, 10);
    await carts.addCartItem({ productId: id, quantity: 1 }, me);
    const key = randomUUID();
    await orders.placeOrder(
      { idempotencyKey: key, shippingAddress: address, payment: { method: PaymentMethod.CASH_ON_DELIVERY } },
      me,
    );
    await carts.addCartItem({ productId: id, quantity: 2 }, me);
    const otherAddress = failureOf(
      orders.placeOrder(
        {
          idempotencyKey: key,
          shippingAddress: { ...address, line1: "9 Elsewhere" },
          payment: { method: PaymentMethod.CASH_ON_DELIVERY },
        },
        me,
      ),
    );
    expect((await otherAddress).code).toBe(Code.InvalidArgument);
    const otherPayment = failureOf(
      orders.placeOrder({ idempotencyKey: key, shippingAddress: address, payment: card("tok_visa") }, me),
    );
    expect((await otherPayment).code).toBe(Code.InvalidArgument);
  });

  it("when another customer asks for someone's order, then not_found, and their own list stays empty", async () => {
    const alice = await newCustomer();
    const bob = await newCustomer();
    await carts.addCartItem({ productId: await newProduct(300n, 10), quantity: 1 }, alice);
    const { order } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment: card("tok_visa") },
      alice,
    );
    expect((await failureOf(orders.getOrder({ id: order!.id }, bob))).code).toBe(Code.NotFound);
    expect((await orders.listOrders({}, bob)).orders).toEqual([]);
  });
});

describe("orders split per shop", () => {
  it("when a buyer orders from two shops, then the order holds two shop orders with exact subtotals, over Connect and REST", async () => {
    const { products: shelf } = await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 100 });
    const otherShop = shelf.map((p) => p.shopId).find((id) => id !== shopId)!;
    expect(otherShop).toBeDefined();
    const me = await newCustomer();
    const [a1, a2, b1] = [await newProduct(1999n, 5), await newProduct(3n, 10), await newProduct(10001n, 5, otherShop)];
    await carts.addCartItem({ productId: a1, quantity: 2 }, me);
    await carts.addCartItem({ productId: a2, quantity: 7 }, me);
    await carts.addCartItem({ productId: b1, quantity: 1 }, me);
    const { order: placed } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment: card("tok_visa") },
      me,
    );
    expect(placed!.status).toBe(OrderStatus.CONFIRMED);

    const { order } = await orders.getOrder({ id: placed!.id }, me);
    const byShop = new Map(order!.shopOrders.map((s) => [s.shopId, s]));
    expect(order!.shopOrders).toHaveLength(2);
    // 2 × 19.99 + 7 × 0.03 = 40.19 in one shop, 100.01 in the other; 140.20 in all.
    expect(byShop.get(shopId)).toMatchObject({
      orderId: order!.id,
      sellerId: devAccounts.seller.id,
      subtotal: { currencyCode: "USD", amountMinor: 4019n },
      status: ShopOrderStatus.CONFIRMED,
    });
    expect(
      byShop
        .get(shopId)!
        .items.map((i) => i.productId)
        .sort(),
    ).toEqual([a1, a2].sort());
    expect(byShop.get(otherShop)).toMatchObject({
      subtotal: { amountMinor: 10001n },
      status: ShopOrderStatus.CONFIRMED,
    });
    expect(byShop.get(otherShop)!.items.map((i) => i.productId)).toEqual([b1]);
    expect(order!.subtotal!.amountMinor).toBe(14020n);

    const token = me.headers.authorization.slice("Bearer ".length);
    const { status, body } = await callRest(e2e.mesh.edgeUrl, "GET", `/v1/orders/${order!.id}`, { token });
    expect(status).toBe(200);
    const restShops = new Map<string, any>(body.order.shopOrders.map((s: any) => [s.shopId, s]));
    expect(restShops.get(shopId)).toMatchObject({
      subtotal: { currencyCode: "USD", amountMinor: "4019" },
      status: "SHOP_ORDER_STATUS_CONFIRMED",
      sellerId: devAccounts.seller.id,
    });
    expect(restShops.get(otherShop).subtotal.amountMinor).toBe("10001");
    expect(restShops.get(otherShop).statusHistory.map((h: any) => h.status)).toEqual([
      "SHOP_ORDER_STATUS_PENDING",
      "SHOP_ORDER_STATUS_CONFIRMED",
    ]);

    // The seller reads their part through ShopOrderService; the buyer cannot, anonymous even less.
    // The seller's answers add where to send it; the buyer's order carries the address once.
    const mine = { ...byShop.get(otherShop)!, shippingAddress: order!.shippingAddress };
    const { shopOrders: listed } = await shopOrders.listShopOrders({ shopId: otherShop, pageSize: 100 }, asSeller);
    expect(listed.find((s) => s.id === mine.id)).toEqual(mine);
    expect((await shopOrders.getShopOrder({ id: mine.id }, asSeller)).shopOrder).toEqual(mine);
    expect((await failureOf(shopOrders.getShopOrder({ id: mine.id }, me))).code).toBe(Code.PermissionDenied);
    expect((await failureOf(shopOrders.getShopOrder({ id: mine.id }))).code).toBe(Code.Unauthenticated);
    const sellerToken = (asSeller.headers as Record<string, string>).authorization!.slice("Bearer ".length);
    const rest = await callRest(e2e.mesh.edgeUrl, "GET", `/v1/shop-orders/${mine.id}`, { token: sellerToken });
    expect(rest.body.shopOrder).toMatchObject({ id: mine.id, subtotal: { amountMinor: "10001" } });
  });
});

describe("the last units", () => {
  it("when 100 customers check out the last 10 units at once, then exactly 10 orders are confirmed and none is left pending", async () => {
    const id = await newProduct(100n, 10);
    const customers = [];
    for (let i = 0; i < 100; i += 10) {
      const ten = await Promise.all(Array.from({ length: 10 }, () => newCustomer()));
      await Promise.all(ten.map((me) => carts.addCartItem({ productId: id, quantity: 1 }, me)));
      customers.push(...ten);
    }
    const results = await Promise.allSettled(
      customers.map((me) =>
        orders.placeOrder({ idempotencyKey: randomUUID(), shippingAddress: address, payment: card("tok_visa") }, me),
      ),
    );
    const confirmed = results.filter(
      (r) => r.status === "fulfilled" && r.value.order!.status === OrderStatus.CONFIRMED,
    );
    const refused = results.filter((r) => r.status === "rejected");
    expect(confirmed).toHaveLength(10);
    expect(refused.map((r) => ((r as PromiseRejectedResult).reason as { code: Code }).code)).toEqual(
      Array(90).fill(Code.FailedPrecondition),
    );
    expect(await stockOf(id)).toMatchObject({ stockOnHand: 0, stockAvailable: 0 });
    // Only the checkouts race; the reads after them go one by one so that a loaded CI machine
    // cannot push 100 simultaneous lists past the edge's read deadline.
    const statuses: OrderStatus[] = [];
    for (const me of customers) statuses.push(...(await orders.listOrders({}, me)).orders.map((o) => o.status));
    expect(statuses.filter((s) => s === OrderStatus.PENDING)).toEqual([]);
  }, 120_000);
});
