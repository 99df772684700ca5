// Crash safety of checkout against the real mesh: the order service is SIGKILLed between saga
// steps by its test-only crash point, restarted, and its recovery loop settles the order it left
// PENDING — cancelled with everything given back when payment never happened, confirmed when
// it did — with stock adding up: on hand = available + held + sold.
import { randomBytes, randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { OrderStatus, PaymentMethod, PaymentStatus, type Order } from "../../gen/bazaar/order/v1/order_pb.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { devSellerShelf, registerCustomer } from "../support/shoppers.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh({
  env: {
    BAZAAR_ORDER_CRASH_AT: "after-stock-reserve",
    // Recovery takes over after 3 s instead of 30 s, checked twice a second.
    BAZAAR_ORDER_RECOVER_AFTER_MS: "3000",
    BAZAAR_ORDER_RECOVERY_SWEEP_MS: "500",
  },
  httpVersion: "1.1",
});
const { auth, carts, orders, products } = e2e;
let asSeller: ReturnType<typeof bearer>;
let shopId = "";
let categoryId = "";

beforeAll(async () => {
  ({ asSeller, shopId, categoryId } = await devSellerShelf(auth, products));
});

const address = {
  recipientName: "Linus",
  line1: "3 Crash Lane",
  city: "Berlin",
  postalCode: "10178",
  countryCode: "DE",
};
const initialStock = 5;

/** A buyer with 2 units of a fresh product in the cart, checking out by card until the order service dies. */
async function checkoutThatCrashes() {
  const me = await registerCustomer(auth, "crash");
  const { product } = await products.createProduct(
    {
      product: {
        shopId,
        categoryId,
        name: `Crash ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: 1000n },
        stockOnHand: initialStock,
      },
    },
    asSeller,
  );
  await carts.addCartItem({ productId: product!.id, quantity: 2 }, me);
  const request = {
    idempotencyKey: randomUUID(),
    shippingAddress: address,
    payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
  };
  const failure = await failureOf(orders.placeOrder(request, me));
  expect(failure.code).toBe(Code.Unavailable);
  expect(await e2e.mesh.exited("order")).toMatch(/SIGKILL|not running/);
  return { me, productId: product!.id, request };
}

async function settledOrderOf(me: ReturnType<typeof bearer>, timeoutMs: number): Promise<Order> {
  const settled = ({ orders: [order] }: { orders: Order[] }) =>
    order !== undefined && order.status !== OrderStatus.PENDING;
  // Read through the edge right after the order service came back: a read that meets the
  // restarted process still catching up (its deadline passes) is read again, as a client would.
  const page = await eventually(
    () =>
      orders.listOrders({}, me).catch((error: unknown) => {
        if (ConnectError.from(error).code !== Code.DeadlineExceeded) throw error;
        return { orders: [] as Order[] };
      }),
    settled,
    timeoutMs,
    200,
  );
  expect(settled(page), `order still ${page.orders[0] ? "PENDING" : "missing"} after ${timeoutMs} ms`).toBe(true);
  return page.orders[0]!;
}

/**
 * on hand = available + held, and what left on hand is exactly what was sold. The order's status
 * moves first and its stock follows within moments (compensation runs after the status change,
 * so a racing confirmation can never be undone): allow a few seconds for it to settle.
 */
async function expectStockAddsUp(productId: string, sold: number) {
  const expected = { onHand: initialStock - sold, held: 0, sold };
  const stock = async () => {
    const { product } = await products.getProduct({ id: productId }, asSeller);
    return {
      onHand: product!.stockOnHand,
      held: product!.stockOnHand - product!.stockAvailable,
      sold: initialStock - product!.stockOnHand,
    };
  };
  expect(await eventually(stock, (actual) => JSON.stringify(actual) === JSON.stringify(expected), 10_000)).toEqual(
    expected,
  );
}

describe("an order service killed in the middle of checkout", () => {
  it("when it dies after ReserveStock and before payment, then after restart the order is CANCELLED and the hold released", async () => {
    const { me, productId, request } = await checkoutThatCrashes();
    const { product: whileDown } = await products.getProduct({ id: productId }, asSeller);
    expect(whileDown!.stockAvailable).toBe(initialStock - 2);

    // Captured after the authorization, so there is a step between them to die in.
    e2e.mesh.relaunch("order", {
      BAZAAR_ORDER_CRASH_AT: "before-payment-capture",
      BAZAAR_ORDER_CAPTURE_AT_ONCE: "false",
    });
    await e2e.mesh.ready(60_000);
    const order = await settledOrderOf(me, 60_000);
    expect(order.status).toBe(OrderStatus.CANCELLED);
    expect(order.statusHistory.map((s) => s.status)).toEqual([OrderStatus.PENDING, OrderStatus.CANCELLED]);
    await expectStockAddsUp(productId, 0);
    // The buyer's retry with the same key learns the outcome instead of buying twice.
    const { order: retried } = await orders.placeOrder(request, me);
    expect(retried).toMatchObject({ id: order.id, status: OrderStatus.CANCELLED });
  }, 120_000);

  it("when it dies after the payment was authorized and before its capture, then after restart the order is CONFIRMED and the stock sold once", async () => {
    const { me, productId } = await checkoutThatCrashes();

    e2e.mesh.relaunch("order", { BAZAAR_ORDER_CRASH_AT: "none" });
    await e2e.mesh.ready(60_000);
    const order = await settledOrderOf(me, 60_000);
    expect(order).toMatchObject({
      status: OrderStatus.CONFIRMED,
      payment: expect.objectContaining({ status: PaymentStatus.CAPTURED }),
    });
    await expectStockAddsUp(productId, 2);
    // OrderPlaced went out: the cart lets go of the purchased units.
    const { cart } = await eventually(
      () => carts.getCart({}, me),
      ({ cart }) => cart!.items.length === 0,
    );
    expect(cart!.items).toEqual([]);
  }, 120_000);
});
