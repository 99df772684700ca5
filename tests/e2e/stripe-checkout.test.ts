// Checkout with the payment service configured for Stripe (BAZAAR_PAYMENT_PROVIDER=stripe), the
// official SDK talking to the local PaymentIntents stand-in: a card that authorizes at once, a
// decline, a cancellation refunded through Stripe, and 3-D Secure finished by the buyer with the
// confirmation arriving as a Stripe-signed webhook at the edge. What the stand-in does not prove
// (Stripe's real answers and timings) `npm run test:stripe` checks against a test-mode account.
import { randomBytes, randomUUID } from "node:crypto";
import type { CallOptions } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  OrderStatus,
  PaymentMethod,
  PaymentStatus,
  type Order,
  type WatchOrdersResponse,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import { PaymentService, PaymentStatus as ProviderStatus } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { type StripeStandIn, startStripeStandIn } from "../../services/payment/providers/stripe-stand-in/stand-in.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { devSellerShelf, registerCustomer } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

/** LOCAL TEST VALUES ONLY: the stand-in accepts any sk_test_ key; the secret signs its webhooks. */
const webhookSecret = "whsec_local_test_only";
let standIn: StripeStandIn;

// Before the mesh: the payment service is pointed at the stand-in when it starts.
beforeAll(async () => {
  standIn = await startStripeStandIn();
});
afterAll(async () => {
  await standIn?.close();
});

const e2e = useMesh({
  env: () => ({
    BAZAAR_PAYMENT_PROVIDER: "stripe",
    BAZAAR_PAYMENT_STRIPE_SECRET_KEY: "sk_test_local_stand_in",
    BAZAAR_PAYMENT_STRIPE_WEBHOOK_SECRET: webhookSecret,
    BAZAAR_PAYMENT_STRIPE_API_URL: `http://${standIn.apiBase.host}:${standIn.apiBase.port}`,
    // Beside other test files on two cores the first catalog read can pass the 2 s read deadline.
    BAZAAR_EDGE_READ_TIMEOUT_MS: "15000",
  }),
});
const { auth, carts, orders, products } = e2e;
let seller: { asSeller: CallOptions; shopId: string; categoryId: string };

beforeAll(async () => {
  seller = await devSellerShelf(auth, products);
});

async function buyerWithCart() {
  const { product } = await products.createProduct(
    {
      product: {
        shopId: seller.shopId,
        categoryId: seller.categoryId,
        name: `Stripe item ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: 2000n },
        stockOnHand: 5,
      },
    },
    seller.asSeller,
  );
  const me = await registerCustomer(auth, "stripe");
  await carts.addCartItem({ productId: product!.id, quantity: 1 }, me);
  return { me, productId: product!.id };
}

function placeOrder(me: CallOptions, paymentMethod: string) {
  return orders.placeOrder(
    {
      idempotencyKey: randomUUID(),
      shippingAddress: {
        recipientName: "Ada",
        line1: "1 Card Way",
        city: "Berlin",
        postalCode: "10115",
        countryCode: "DE",
      },
      payment: { method: PaymentMethod.CARD, cardToken: paymentMethod },
      returnUrl: "https://shop.example/checkout/back",
    },
    me,
  );
}

async function paymentOf(order: Order) {
  const { payment } = await e2e
    .internal(PaymentService, "payment")
    .getPayment({ id: order.payment!.paymentId }, await e2e.asService("order"));
  return payment!;
}

describe("checkout with the Stripe provider", () => {
  it("when the card authorizes at once, then the order is CONFIRMED and the PaymentIntent captured", async () => {
    const { me } = await buyerWithCart();
    const { order } = await placeOrder(me, "pm_card_visa");
    expect(order).toMatchObject({
      status: OrderStatus.CONFIRMED,
      payment: expect.objectContaining({ status: PaymentStatus.CAPTURED }),
    });
    const payment = await paymentOf(order!);
    expect(payment).toMatchObject({ provider: "stripe", status: ProviderStatus.CAPTURED });
    expect(payment.providerPaymentId).toMatch(/^pi_/);
    expect(standIn.paymentIntent(payment.providerPaymentId)).toMatchObject({
      status: "succeeded",
      amount_received: Number(order!.total!.amountMinor),
    });
  });

  it("when Stripe declines the card, then the order is PAYMENT_FAILED with Stripe's reason", async () => {
    const { me } = await buyerWithCart();
    const { order } = await placeOrder(me, "pm_card_chargeDeclined");
    expect(order!.status).toBe(OrderStatus.PAYMENT_FAILED);
    expect(order!.payment!.failureReason).toMatch(/declined/i);
  });

  it("when the buyer cancels a paid order, then Stripe refunds the whole capture", async () => {
    const { me } = await buyerWithCart();
    const { order } = await placeOrder(me, "pm_card_visa");
    await orders.cancelOrder({ id: order!.id, reason: "changed my mind" }, me);
    const settled = await eventually(
      async () => (await orders.getOrder({ id: order!.id }, me)).order!,
      (current) => current.payment!.status === PaymentStatus.REFUNDED,
    );
    expect(settled).toMatchObject({
      status: OrderStatus.CANCELLED,
      refunded: { amountMinor: order!.total!.amountMinor },
    });
    expect(await paymentOf(order!)).toMatchObject({
      status: ProviderStatus.REFUNDED,
      refunded: { amountMinor: order!.total!.amountMinor },
    });
  });

  it("when Stripe asks for 3-D Secure, then the order waits, and Stripe's signed webhook after the buyer's confirmation confirms it live", async () => {
    const { me } = await buyerWithCart();
    const updates: WatchOrdersResponse[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      try {
        for await (const update of orders.watchOrders({}, { ...me, signal: abort.signal })) updates.push(update);
      } catch (error) {
        if (!abort.signal.aborted) throw error;
      }
    })();
    const { order } = await placeOrder(me, "pm_card_threeDSecure2Required");
    expect(order).toMatchObject({
      status: OrderStatus.PENDING,
      payment: expect.objectContaining({ status: PaymentStatus.REQUIRES_ACTION }),
    });
    const intentId = order!.payment!.reference;
    expect(order!.payment!.nextAction!.clientSecret).toMatch(new RegExp(`^${intentId}_secret_`));

    // A forged signature changes nothing.
    const forged = standIn.signedEvent(
      "payment_intent.amount_capturable_updated",
      standIn.paymentIntent(intentId),
      "whsec_wrong",
    );
    const refused = await postWebhook(forged);
    expect(refused.status).toBe(400);

    // The buyer finishes 3-D Secure at Stripe; Stripe tells the edge.
    standIn.completeAction(intentId);
    const signed = standIn.signedEvent(
      "payment_intent.amount_capturable_updated",
      standIn.paymentIntent(intentId),
      webhookSecret,
    );
    const answer = await postWebhook(signed);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ eventId: signed.eventId, outcome: "APPLIED" });

    const confirmedLive = (u: WatchOrdersResponse) =>
      u.order!.id === order!.id && u.order!.status === OrderStatus.CONFIRMED;
    const seen = await eventually(
      async () => updates,
      (all) => all.some(confirmedLive),
      10_000,
    );
    expect(seen.some(confirmedLive)).toBe(true);
    abort.abort();
    await watching;
    expect(await paymentOf(order!)).toMatchObject({ status: ProviderStatus.CAPTURED });
    expect(standIn.paymentIntent(intentId)).toMatchObject({ status: "succeeded" });
    // The same delivery again is a duplicate.
    expect(await (await postWebhook(signed)).json()).toEqual({ eventId: signed.eventId, outcome: "DUPLICATE" });
  });
});

function postWebhook(signed: { payload: string; header: string }) {
  return fetch(`${e2e.mesh.edgeUrl}/v1/webhooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": signed.header },
    body: signed.payload,
  });
}
