// The card half of checkout against a real MariaDB, with the payment service and the stock in
// memory: an order that waits for 3-D Secure and goes on when the payment event arrives, a
// webhook that overtakes checkout, a wait that runs out, and a payment that succeeds after the
// order gave up on it.
import type { Kysely } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EventSchema, type Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { uuidv7 } from "../../kit/ids.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import type { OrderDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { findOrder } from "../db/order.repository.ts";
import { followPaymentEvents, paymentOutcomesConsumer } from "../events/payment-outcomes.ts";
import { inMemoryPayments, inMemoryStock, type InMemoryPayments, type InMemoryStock } from "../in-memory-ports.ts";
import type { Order } from "./order.ts";
import { placeOrder } from "./place-order.ts";
import type { OrderDeps, ShopperPorts } from "./ports.ts";
import { recoverOverdueOrders } from "./recovery.ts";
import { checkoutActor } from "./settle.ts";

let db: Kysely<OrderDatabase>;
let payments: InMemoryPayments;
let stock: InMemoryStock;

beforeAll(async () => {
  db = await migratedTestDatabase<OrderDatabase>("order_card_payment", migrations);
});

// Each test its own payment service and stock.
beforeEach(() => {
  payments = inMemoryPayments();
  stock = inMemoryStock();
});

afterAll(async () => {
  await db?.destroy();
});

function depsWith(overrides: Partial<OrderDeps> = {}): OrderDeps {
  return {
    db,
    outbox: { wake: () => undefined },
    payments,
    stock,
    pricing: { taxRateBasisPoints: 500, shippingMinor: 0n },
    currencyCode: "EUR",
    recoverAfterMs: 60_000,
    paymentWaitMs: 60_000,
    // Authorized, then captured by checkout: the steps these stories follow one by one.
    captureAtOnce: false,
    ...overrides,
  };
}

/** A buyer with 2 teapots at 10.00 in the cart; 5 in stock. */
function aShopper(): { shopper: ShopperPorts; productId: string } {
  const productId = uuidv7();
  stock.stock.set(productId, 5);
  const shopper: ShopperPorts = {
    cartLines: async () => [{ productId, quantity: 2 }],
    products: async () => [
      {
        productId,
        shopId: uuidv7(),
        sellerId: uuidv7(),
        name: "Teapot",
        unitPriceMinor: 1000n,
        forSale: true,
        imageJson: "",
      },
    ],
  };
  return { shopper, productId };
}

function checkout(cardToken: string) {
  return {
    userId: uuidv7(),
    idempotencyKey: `key-${uuidv7()}`,
    shippingAddress: {
      recipientName: "Ada",
      line1: "1 Way",
      line2: "",
      city: "Berlin",
      region: "",
      postalCode: "10999",
      countryCode: "DE",
      phone: "",
    },
    paymentMethod: "CARD" as const,
    cardToken,
    returnUrl: "https://shop.test/back",
  };
}

/** The event the payment service emits when a payment of `order` moved. */
function paymentEvent(order: Order, kind: "paymentAuthorized" | "paymentCaptured" | "paymentFailed"): Event {
  const ids = { paymentId: order.payment.paymentId, orderId: order.id };
  const payload =
    kind !== "paymentFailed"
      ? { case: kind, value: { ...ids, amount: { currencyCode: "EUR", amountMinor: order.totalMinor } } }
      : { case: kind, value: { ...ids, reason: "the card was declined (3-D Secure declined)" } };
  return create(EventSchema, { id: uuidv7(), source: "payment", subjectId: ids.paymentId, payload });
}

describe("card checkout through the payment service", () => {
  it("when the card authorizes at once, then the order is CONFIRMED, the payment captured and the stock sold", async () => {
    const { shopper, productId } = aShopper();
    const order = await placeOrder(depsWith(), shopper, checkout("tok_visa"));
    expect(order).toMatchObject({
      status: "CONFIRMED",
      payment: { status: "CAPTURED", paymentId: expect.any(String) },
    });
    expect(payments.byOrder.get(order.id)).toMatchObject({ status: "CAPTURED", capturedMinor: 2100n });
    expect(stock.stock.get(productId)).toBe(3);
  });

  it("when a 3-D Secure payment is authorized, then an order that held its stock commits it and one that sold it at once does not", async () => {
    const commits: string[] = [];
    const deps = depsWith({ stock: { ...stock, commit: async (orderId) => void commits.push(orderId) } });
    const sold = await placeOrder(deps, aShopper().shopper, checkout("tok_threeDSecure"));
    const held = await placeOrder(deps, aShopper().shopper, checkout("tok_threeDSecure"));
    // As checkout left orders placed before it sold stock when reserving.
    await db.updateTable("orders").set({ stock_taken: "HELD" }).where("id", "=", held.id).execute();
    for (const order of [sold, held]) {
      payments.decide(order.id, "AUTHORIZED");
      await followPaymentEvents(deps)(paymentEvent(order, "paymentAuthorized"));
      expect((await findOrder(db, order.id))!.status).toBe("CONFIRMED");
    }
    expect(commits).toEqual([held.id]);
    expect(sold.stockTaken).toBe("SOLD");
  });

  it("when checkouts hold every pooled connection, then a payment event is still followed on the consumer's own", async () => {
    const { shopper } = aShopper();
    const deps = depsWith();
    const order = await placeOrder(deps, shopper, checkout("tok_visa"));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The pool holds 10 connections (kit/db.ts): nine open transactions and the consumer's own
    // take them all, as 32 checkouts in flight did.
    const holders = Array.from({ length: 9 }, () => db.transaction().execute(() => held));
    try {
      const followed = db
        .transaction()
        .execute((trx) => followPaymentEvents(deps)(paymentEvent(order, "paymentAuthorized"), trx));
      const stuck = new Promise((resolve) => setTimeout(resolve, 3_000, "stuck"));
      expect(await Promise.race([followed.then(() => "followed"), stuck])).toBe("followed");
    } finally {
      release();
      await Promise.all(holders);
    }
  });

  it("when the bank asks for 3-D Secure, then the order waits PENDING with the redirect, and the authorized event confirms it once", async () => {
    const { shopper, productId } = aShopper();
    const deps = depsWith();
    const waiting = await placeOrder(deps, shopper, checkout("tok_threeDSecure"));
    expect(waiting).toMatchObject({
      status: "PENDING",
      payment: {
        status: "REQUIRES_ACTION",
        nextAction: { redirectUrl: expect.stringContaining("/pay/test/"), clientSecret: "" },
      },
    });
    expect(stock.stock.get(productId)).toBe(3);

    payments.decide(waiting.id, "AUTHORIZED");
    const handle = followPaymentEvents(deps);
    const event = paymentEvent(waiting, "paymentAuthorized");
    await handle(event);
    await handle(event);
    const confirmed = (await findOrder(db, waiting.id))!;
    expect(confirmed).toMatchObject({ status: "CONFIRMED", payment: { status: "CAPTURED" } });
    expect(confirmed.payment.nextAction).toBeUndefined();
    expect(confirmed.history.map((change) => change.status)).toEqual(["PENDING", "CONFIRMED"]);
    expect(payments.byOrder.get(waiting.id)?.status).toBe("CAPTURED");
    expect(stock.stock.get(productId)).toBe(3);
  });

  it("when the buyer declines 3-D Secure, then the order is PAYMENT_FAILED with the reason and its stock back", async () => {
    const { shopper, productId } = aShopper();
    const deps = depsWith();
    const waiting = await placeOrder(deps, shopper, checkout("tok_threeDSecure"));
    payments.decide(waiting.id, "FAILED");
    payments.byOrder.get(waiting.id)!.failureReason = "the card was declined (3-D Secure declined)";
    await followPaymentEvents(deps)(paymentEvent(waiting, "paymentFailed"));
    expect(await findOrder(db, waiting.id)).toMatchObject({
      status: "PAYMENT_FAILED",
      payment: { status: "DECLINED", failureReason: "the card was declined (3-D Secure declined)" },
    });
    expect(stock.stock.get(productId)).toBe(5);
  });

  it("when the payment's webhook overtakes checkout, then checkout answers the confirmed order and does not wait again", async () => {
    const { shopper, productId } = aShopper();
    const deps = depsWith();
    // The bank confirms and the event is handled before PlaceOrder hears the first answer.
    const racing = {
      ...payments,
      async start(request: Parameters<InMemoryPayments["start"]>[0]) {
        const first = await payments.start(request);
        payments.decide(request.orderId, "AUTHORIZED");
        const order = (await findOrder(db, request.orderId))!;
        await followPaymentEvents({ ...deps, payments })(
          paymentEvent({ ...order, payment: { ...order.payment, paymentId: first.id } }, "paymentAuthorized"),
        );
        return first;
      },
    };
    const order = await placeOrder({ ...deps, payments: racing }, shopper, checkout("tok_threeDSecure"));
    expect(order).toMatchObject({ status: "CONFIRMED", payment: { status: "CAPTURED" } });
    expect(stock.stock.get(productId)).toBe(3);
  });

  it("when the provider stays unreachable, then checkout retries and the order is PAYMENT_FAILED with its stock back", async () => {
    const { shopper, productId } = aShopper();
    let attempts = 0;
    const counting = {
      ...payments,
      start: (request: Parameters<InMemoryPayments["start"]>[0]) => {
        attempts++;
        return payments.start(request);
      },
    };
    const order = await placeOrder(depsWith({ payments: counting }), shopper, checkout("tok_unavailable"));
    expect(order).toMatchObject({ status: "PAYMENT_FAILED", payment: { status: "FAILED" } });
    expect(attempts).toBe(3);
    expect(stock.stock.get(productId)).toBe(5);
  });
});

describe("card payments taken as they are authorized (captureAtOnce)", () => {
  it("when the card authorizes at once, then the order is CONFIRMED with the payment CAPTURED and no capture call", async () => {
    const captures: string[] = [];
    const deps = depsWith({
      captureAtOnce: true,
      payments: {
        ...payments,
        capture: async (paymentId) => {
          captures.push(paymentId);
          return payments.capture(paymentId);
        },
      },
    });
    const { shopper, productId } = aShopper();
    const order = await placeOrder(deps, shopper, checkout("tok_visa"));
    expect(order).toMatchObject({ status: "CONFIRMED", payment: { status: "CAPTURED" } });
    expect(payments.byOrder.get(order.id)).toMatchObject({ status: "CAPTURED", capturedMinor: 2100n });
    expect(captures).toEqual([]);
    expect(stock.stock.get(productId)).toBe(3);
  });

  it("when a payment taken at once succeeds after the order gave up, then it is refunded whole and the order stays CANCELLED", async () => {
    const { shopper, productId } = aShopper();
    const deps = depsWith({ captureAtOnce: true, paymentWaitMs: 1 });
    const waiting = await placeOrder(deps, shopper, checkout("tok_delayedSuccess"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await recoverOverdueOrders(deps, { info: () => undefined, warn: () => undefined }, 1_000);
    expect((await findOrder(db, waiting.id))!.status).toBe("CANCELLED");

    payments.decide(waiting.id, "CAPTURED");
    await followPaymentEvents(deps)(paymentEvent(waiting, "paymentCaptured"));
    expect(await findOrder(db, waiting.id)).toMatchObject({ status: "CANCELLED", payment: { status: "REFUNDED" } });
    expect(payments.refunds).toEqual([{ orderId: waiting.id, refundKey: waiting.id, amountMinor: 2100n }]);
    expect(stock.stock.get(productId)).toBe(5);
  });
});

describe("a call the peer cancelled", () => {
  it("when the stock service cancels a reserve it had done (its server shutting down), then checkout repeats it and the order is CONFIRMED", async () => {
    const { shopper, productId } = aShopper();
    let cancelled = 0;
    const shuttingDown = {
      ...stock,
      reserve: async (...args: Parameters<InMemoryStock["reserve"]>) => {
        await stock.reserve(...args);
        if (cancelled++ === 0) throw new ConnectError("the call was cancelled by the peer", Code.Canceled);
      },
    };
    const order = await placeOrder(depsWith({ stock: shuttingDown }), shopper, checkout("tok_visa"));
    expect(order.status).toBe("CONFIRMED");
    expect(cancelled).toBe(2);
    expect(stock.stock.get(productId)).toBe(3);
  });
});

describe("a payment started while the recovery loop gave up on its checkout", () => {
  /** Payments whose start waits at a gate, as a slow payment service would, then maybe fails. */
  function slowPayments(afterStart: () => void = () => undefined) {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reached!: () => void;
    const starting = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const port = {
      ...payments,
      start: async (request: Parameters<InMemoryPayments["start"]>[0]) => {
        reached();
        await gate;
        const payment = await payments.start(request);
        afterStart();
        return payment;
      },
    };
    return { port, starting, release };
  }
  const quietLog = { info: () => undefined, warn: () => undefined };
  /** What the payment service emits for a payment checkout started that waits for the buyer. */
  const requiresActionEvent = (orderId: string, paymentId: string) =>
    create(EventSchema, {
      id: uuidv7(),
      source: "payment",
      actorId: checkoutActor,
      subjectId: paymentId,
      payload: { case: "paymentRequiresAction", value: { paymentId, orderId } },
    });

  it("when checkout hears the payment waits for the buyer after recovery cancelled the order, then it voids it", async () => {
    const { shopper, productId } = aShopper();
    const slow = slowPayments();
    const deps = depsWith({ payments: slow.port, recoverAfterMs: 1 });
    const checkingOut = placeOrder(deps, shopper, checkout("tok_threeDSecure"));
    await slow.starting;
    await new Promise((resolve) => setTimeout(resolve, 20));
    // No payment yet: recovery takes checkout for one that died before starting it.
    await recoverOverdueOrders(deps, quietLog, 1_000);
    slow.release();
    const order = await checkingOut;
    expect(order.status).toBe("CANCELLED");
    expect(payments.byOrder.get(order.id)?.status).toBe("CANCELED");
    expect(stock.stock.get(productId)).toBe(5);
  });

  it("when checkout never hears the answer, then the payment's event voids it", async () => {
    const { shopper, productId } = aShopper();
    // The payment is made, then checkout's caller went away: its call ends cancelled.
    const slow = slowPayments(() => {
      throw new ConnectError("the call was cancelled", Code.Canceled);
    });
    const deps = depsWith({ payments: slow.port, recoverAfterMs: 1 });
    const request = checkout("tok_threeDSecure");
    const checkingOut = placeOrder(deps, shopper, request).catch((error: unknown) => error);
    await slow.starting;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await recoverOverdueOrders(deps, quietLog, 1_000);
    slow.release();
    expect(ConnectError.from(await checkingOut).code).toBe(Code.Canceled);
    const [orderId, payment] = [...payments.byOrder.entries()][0]!;
    expect(payment.status).toBe("REQUIRES_ACTION");

    const event = requiresActionEvent(orderId, payment.id);
    expect(paymentOutcomesConsumer.wants(event)).toBe(true);
    await followPaymentEvents(deps)(event);
    expect(await findOrder(db, orderId)).toMatchObject({ status: "CANCELLED", payment: { status: "VOIDED" } });
    expect(payments.byOrder.get(orderId)?.status).toBe("CANCELED");
    expect(stock.stock.get(productId)).toBe(5);
  });

  it("when a waiting order's own payment event arrives, then its wait is left as checkout recorded it", async () => {
    const { shopper } = aShopper();
    const deps = depsWith();
    const waiting = await placeOrder(deps, shopper, checkout("tok_threeDSecure"));
    const before = await db.selectFrom("orders").select("settle_after").where("id", "=", waiting.id).executeTakeFirst();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const event = requiresActionEvent(waiting.id, waiting.payment.paymentId);
    await followPaymentEvents(deps)(event);
    const after = await db.selectFrom("orders").select("settle_after").where("id", "=", waiting.id).executeTakeFirst();
    expect(after?.settle_after).toEqual(before?.settle_after);
    expect(payments.byOrder.get(waiting.id)?.status).toBe("REQUIRES_ACTION");
  });
});

describe("a payment that is not settled in time", () => {
  it("when the buyer never confirms, then recovery cancels the order, voids the authorization and returns the stock", async () => {
    const { shopper, productId } = aShopper();
    const deps = depsWith({ paymentWaitMs: 1 });
    const waiting = await placeOrder(deps, shopper, checkout("tok_threeDSecure"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await recoverOverdueOrders(deps, { info: () => undefined, warn: () => undefined }, 1_000);
    expect(await findOrder(db, waiting.id)).toMatchObject({ status: "CANCELLED", payment: { status: "VOIDED" } });
    expect(payments.byOrder.get(waiting.id)?.status).toBe("CANCELED");
    expect(stock.stock.get(productId)).toBe(5);
  });

  it("when the payment succeeds after the order gave up, then the authorization is voided and the order stays CANCELLED", async () => {
    const { shopper, productId } = aShopper();
    const deps = depsWith({ paymentWaitMs: 1 });
    const waiting = await placeOrder(deps, shopper, checkout("tok_delayedSuccess"));
    expect(waiting.payment.status).toBe("PROCESSING");
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The provider cannot void a payment it is still processing: the order is cancelled anyway.
    await recoverOverdueOrders(deps, { info: () => undefined, warn: () => undefined }, 1_000);
    expect((await findOrder(db, waiting.id))!.status).toBe("CANCELLED");
    expect(stock.stock.get(productId)).toBe(5);

    payments.decide(waiting.id, "AUTHORIZED");
    await followPaymentEvents(deps)(paymentEvent(waiting, "paymentAuthorized"));
    const after = (await findOrder(db, waiting.id))!;
    expect(after).toMatchObject({ status: "CANCELLED", payment: { status: "VOIDED" } });
    expect(after.history.map((change) => change.status)).toEqual(["PENDING", "CANCELLED"]);
    expect(payments.byOrder.get(waiting.id)?.status).toBe("CANCELED");
    expect(stock.stock.get(productId)).toBe(5);
  });
});
