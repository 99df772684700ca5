// The order-events consumer's handler against a real database, through the kit's applyOnce as
// the running consumer applies it: who is notified of what, once, as their preferences say.
import { create } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSchema, type Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { ShopOrderStatus } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { Role } from "../../../gen/bazaar/common/v1/common_pb.ts";
import { applyOnce } from "../../kit/consumer.ts";
import type { EventPayload } from "../../kit/events.ts";
import { uuidv7 } from "../../kit/ids.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import type { NotificationDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { preferencesAndRecipients, savePreferences, upsertRecipient } from "../db/notification.repository.ts";
import { seedDevRecipients } from "../db/demo-seed.ts";
import { renderMail } from "../email/templates.ts";
import { devAccounts } from "../../kit/dev-accounts.ts";
import { FeedSignals } from "../../kit/feed-signals.ts";
import { followProductEvents } from "./product-events.ts";
import { notifyOrderEvents } from "./order-events.ts";
import { notifyPaymentEvents } from "./payment-events.ts";
import { followUserEvents } from "./user-events.ts";

let db: Kysely<NotificationDatabase>;
const signals = new FeedSignals();

beforeAll(async () => {
  db = await migratedTestDatabase<NotificationDatabase>("notification_consumers", migrations);
});

afterAll(async () => {
  await db?.destroy();
});

const event = (payload: EventPayload) => create(EventSchema, { id: uuidv7(), payload });
const applyOrder = (e: Event) => applyOnce(db, "orders", e, notifyOrderEvents(signals));
const applyUser = (e: Event) => applyOnce(db, "users", e, followUserEvents(signals));
const applyProduct = (e: Event) => applyOnce(db, "products", e, followProductEvents(signals, 5));
const applyPayment = (e: Event) => applyOnce(db, "payments", e, notifyPaymentEvents(signals));
const inboxOf = (userId: string) =>
  db
    .selectFrom("notifications")
    .select(["kind", "body", "link"])
    .where("user_id", "=", userId)
    .orderBy("seq")
    .execute();

function placed(buyer: string, sellers: string[]): Event {
  return event({
    case: "orderPlaced",
    value: {
      orderId: uuidv7(),
      userId: buyer,
      total: { currencyCode: "EUR", amountMinor: 999n },
      shopOrders: sellers.map((sellerId) => ({ shopOrderId: uuidv7(), shopId: uuidv7(), sellerId })),
    },
  });
}

describe("OrderPlaced", () => {
  it("when it arrives twice, then the buyer and each shop's seller are notified once", async () => {
    const [buyer, sellerA, sellerB] = [uuidv7(), uuidv7(), uuidv7()];
    const e = placed(buyer, [sellerA, sellerB]);
    expect(await applyOrder(e)).toBe(true);
    expect(await applyOrder(e)).toBe(false);

    expect((await inboxOf(buyer)).map((n) => n.kind)).toEqual(["ORDER_CONFIRMED"]);
    expect((await inboxOf(buyer))[0]?.body).toContain("€9.99");
    expect((await inboxOf(sellerA)).map((n) => n.kind)).toEqual(["SELLER_NEW_ORDER"]);
    expect((await inboxOf(sellerB)).map((n) => n.kind)).toEqual(["SELLER_NEW_ORDER"]);
  });

  it("when the buyer switched order confirmations off in the app, then only the seller's inbox has it", async () => {
    const [buyer, seller] = [uuidv7(), uuidv7()];
    await savePreferences(db, buyer, [{ kind: "ORDER_CONFIRMED", channel: "IN_APP", enabled: false }]);
    await applyOrder(placed(buyer, [seller]));
    expect(await inboxOf(buyer)).toEqual([]);
    expect(await inboxOf(seller)).toHaveLength(1);
  });
});

describe("everyone an order notifies, read in one statement", () => {
  it("when the buyer and its sellers have settings of their own, then each delivery follows its own", async () => {
    const [buyer, sellerA, sellerB] = [await recipient("buyer"), await recipient("seller-a"), uuidv7()];
    await savePreferences(db, buyer.id, [{ kind: "ORDER_CONFIRMED", channel: "IN_APP", enabled: false }]);
    await savePreferences(db, sellerA.id, [{ kind: "SELLER_NEW_ORDER", channel: "IN_APP", enabled: false }]);
    const settings = await preferencesAndRecipients(db, [buyer.id, sellerA.id, sellerB, buyer.id]);
    expect([...settings.keys()].sort()).toEqual([buyer.id, sellerA.id, sellerB].sort());
    expect(settings.get(buyer.id)).toMatchObject({
      preferences: [{ kind: "ORDER_CONFIRMED", channel: "IN_APP", enabled: false }],
      recipient: { email: buyer.email, active: true },
    });
    expect(settings.get(sellerB)).toEqual({ preferences: [] });

    await applyOrder(placed(buyer.id, [sellerA.id, sellerB]));
    // The buyer: by mail (required), not in the app. Seller A: by mail, not in the app. Seller B:
    // no address, the app.
    expect(await inboxOf(buyer.id)).toEqual([]);
    expect((await mailsTo(buyer.email)).map((m) => m.template)).toEqual(["order-confirmation"]);
    expect(await inboxOf(sellerA.id)).toEqual([]);
    expect((await mailsTo(sellerA.email)).map((m) => m.template)).toEqual(["seller-new-order"]);
    expect((await inboxOf(sellerB)).map((n) => n.kind)).toEqual(["SELLER_NEW_ORDER"]);
  });
});

/** A buyer (or seller) the service can mail: known from auth's events. */
async function recipient(label: string): Promise<{ id: string; email: string }> {
  const id = uuidv7();
  const email = `${label}-${id}@example.test`;
  await upsertRecipient(db, { userId: id, email, displayName: label, role: "customer" });
  return { id, email };
}

/** The mails enqueued to `email`, rendered as the delivery job renders them. */
async function mailsTo(email: string) {
  const rows = await db
    .selectFrom("email_outbox")
    .select(["template", "data"])
    .where("to_address", "=", email)
    .orderBy("id")
    .execute();
  return rows.map((r) => ({
    template: r.template,
    ...renderMail(r.template as never, typeof r.data === "string" ? JSON.parse(r.data) : (r.data as object)),
  }));
}

const usd = (minor: bigint) => ({ currencyCode: "USD", amountMinor: minor });

describe("order mails", () => {
  it("when an order of two shops is placed, then the buyer's mail lists every line and the totals, and each seller's only theirs", async () => {
    const [buyer, sellerA, sellerB] = [
      await recipient("buyer"),
      await recipient("seller-a"),
      await recipient("seller-b"),
    ];
    const [shopA, shopB] = [uuidv7(), uuidv7()];
    const orderId = uuidv7();
    const [shopOrderA, shopOrderB] = [uuidv7(), uuidv7()];
    await applyOrder(
      event({
        case: "orderPlaced",
        value: {
          orderId,
          userId: buyer.id,
          items: [
            { name: "Teapot", quantity: 2, unitPrice: usd(1999n), lineTotal: usd(3998n), shopId: shopA },
            { name: "Cup", quantity: 1, unitPrice: usd(550n), lineTotal: usd(550n), shopId: shopB },
          ],
          // 45.48 of lines, 4.90 shipping and 3.64 tax.
          total: usd(5402n),
          shopOrders: [
            { shopOrderId: shopOrderA, shopId: shopA, sellerId: sellerA.id, subtotal: usd(3998n) },
            { shopOrderId: shopOrderB, shopId: shopB, sellerId: sellerB.id, subtotal: usd(550n) },
          ],
        },
      }),
    );

    const [confirmation] = await mailsTo(buyer.email);
    expect(confirmation?.subject).toBe(`Your Bazaar order #${orderId.slice(-8)} is confirmed`);
    expect(confirmation?.text).toContain(
      [
        "Teapot  2 × $19.99  $39.98",
        "Cup  1 × $5.50  $5.50",
        "Subtotal  $45.48",
        "Tax and shipping  $8.54",
        "Total  $54.02",
      ].join("\n"),
    );
    expect((await inboxOf(buyer.id))[0]?.body).toBe(`Your order #${orderId.slice(-8)} of $54.02 is confirmed.`);

    const [toA] = await mailsTo(sellerA.email);
    expect(toA?.subject).toBe(`New order #${shopOrderA.slice(-8)} for your shop`);
    expect(toA?.text).toContain("Teapot  2 × $19.99  $39.98\nSubtotal  $39.98\n");
    expect(toA?.text).not.toContain("Cup");
    const [toB] = await mailsTo(sellerB.email);
    expect(toB?.text).toContain("Cup  1 × $5.50  $5.50\nSubtotal  $5.50\n");
    expect(toB?.text).not.toContain("Teapot");
  });

  it("when two orders are placed in the same minute, then their subjects and titles differ", async () => {
    const buyer = await recipient("twice");
    await applyOrder(placed(buyer.id, [uuidv7()]));
    await applyOrder(placed(buyer.id, [uuidv7()]));
    const subjects = (await mailsTo(buyer.email)).map((m) => m.subject);
    expect(subjects).toHaveLength(2);
    expect(new Set(subjects).size).toBe(2);
    const titles = await db.selectFrom("notifications").select("title").where("user_id", "=", buyer.id).execute();
    expect(new Set(titles.map((t) => t.title)).size).toBe(2);
  });
});

describe("dev accounts (BAZAAR_DEMO_SEED)", () => {
  it("when seeded, then the dev seller is mailed a new order, and seeding again keeps what auth's events changed", async () => {
    expect(await seedDevRecipients(db)).toBe(3);
    await applyUser(event({ case: "userActiveChanged", value: { userId: devAccounts.admin.id, active: false } }));
    expect(await seedDevRecipients(db)).toBe(0);
    expect(
      await db.selectFrom("recipients").select("active").where("user_id", "=", devAccounts.admin.id).executeTakeFirst(),
    ).toMatchObject({ active: 0 });
    await applyOrder(placed(uuidv7(), [devAccounts.seller.id]));
    expect((await mailsTo(devAccounts.seller.email)).map((m) => m.template)).toEqual(["seller-new-order"]);
  });
});

describe("e-mail preferences", () => {
  const shipped = (buyer: string) =>
    event({
      case: "shopOrderStatusChanged",
      value: {
        shopOrderId: uuidv7(),
        orderId: uuidv7(),
        userId: buyer,
        newStatus: ShopOrderStatus.SHIPPED,
        carrier: "DHL",
        trackingNumber: "JD0777",
      },
    });

  it("when a buyer switched shipping e-mails off, then a shipment is in their inbox but not mailed", async () => {
    const buyer = await recipient("no-mail");
    await savePreferences(db, buyer.id, [{ kind: "ORDER_SHIPPED", channel: "EMAIL", enabled: false }]);
    await applyOrder(shipped(buyer.id));
    expect((await inboxOf(buyer.id)).map((n) => n.kind)).toEqual(["ORDER_SHIPPED"]);
    expect(await mailsTo(buyer.email)).toEqual([]);
  });

  it("when a buyer switched shipping notifications off in the app only, then the shipment is mailed with its tracking number", async () => {
    const buyer = await recipient("mail-only");
    await savePreferences(db, buyer.id, [{ kind: "ORDER_SHIPPED", channel: "IN_APP", enabled: false }]);
    await applyOrder(shipped(buyer.id));
    expect(await inboxOf(buyer.id)).toEqual([]);
    const [mail] = await mailsTo(buyer.email);
    expect(mail?.template).toBe("order-shipped");
    expect(mail?.text).toContain("Tracking number: DHL JD0777");
  });

  it("when the buyer's account was deactivated, then a shipment is in their inbox but not mailed; a buyer auth never announced gets no mail either", async () => {
    const buyer = await recipient("deactivated");
    await applyUser(event({ case: "userActiveChanged", value: { userId: buyer.id, active: false } }));
    await applyOrder(shipped(buyer.id));
    expect((await inboxOf(buyer.id)).map((n) => n.kind)).toEqual(["ORDER_SHIPPED"]);
    expect(await mailsTo(buyer.email)).toEqual([]);
    const stranger = uuidv7();
    const mailsBefore = await db.selectFrom("email_outbox").select("id").execute();
    await applyOrder(shipped(stranger));
    expect((await inboxOf(stranger)).map((n) => n.kind)).toEqual(["ORDER_SHIPPED"]);
    expect(await db.selectFrom("email_outbox").select("id").execute()).toHaveLength(mailsBefore.length);
  });

  it("when a stored preference says no to a transactional mail, then the confirmation is mailed all the same", async () => {
    // The RPC refuses to store this (NOTIFICATION_PREFERENCE_REQUIRED); a row written before the
    // rule, or by hand, must not silence a mail about money.
    const buyer = await recipient("required");
    await savePreferences(db, buyer.id, [
      { kind: "ORDER_CONFIRMED", channel: "EMAIL", enabled: false },
      { kind: "ORDER_CONFIRMED", channel: "IN_APP", enabled: false },
    ]);
    await applyOrder(placed(buyer.id, [uuidv7()]));
    expect(await inboxOf(buyer.id)).toEqual([]);
    expect((await mailsTo(buyer.email)).map((m) => m.template)).toEqual(["order-confirmation"]);
  });
});

describe("shipping", () => {
  it("when a shop order is shipped, then the buyer's notification carries the tracking", async () => {
    const buyer = uuidv7();
    await applyOrder(
      event({
        case: "shopOrderStatusChanged",
        value: {
          shopOrderId: uuidv7(),
          orderId: uuidv7(),
          userId: buyer,
          newStatus: ShopOrderStatus.SHIPPED,
          carrier: "DHL",
          trackingNumber: "JD0123",
          trackingUrl: "https://track.example/JD0123",
        },
      }),
    );
    const [shipped] = await inboxOf(buyer);
    expect(shipped).toMatchObject({ kind: "ORDER_SHIPPED", link: "https://track.example/JD0123" });
    expect(shipped?.body).toContain("DHL JD0123");
  });
});

describe("users", () => {
  it("when a customer signs up, then active admins get a new-sign-up notification, which erasing the customer blanks", async () => {
    const admin = uuidv7();
    await applyUser(
      event({
        case: "userRegistered",
        value: { userId: admin, email: "root@example.com", role: Role.ADMIN, displayName: "Root" },
      }),
    );
    const customer = uuidv7();
    await applyUser(
      event({
        case: "userRegistered",
        value: { userId: customer, email: "ann@example.com", role: Role.CUSTOMER, displayName: "Ann Example" },
      }),
    );
    const [signUp] = await inboxOf(admin);
    expect(signUp).toMatchObject({ kind: "NEW_SIGN_UP" });
    expect(signUp?.body).toContain("Ann Example");

    await applyOrder(placed(customer, [uuidv7()]));
    const mailsTo = () =>
      db.selectFrom("email_outbox").select("id").where("to_address", "=", "ann@example.com").execute();
    expect(await mailsTo()).toHaveLength(1);
    await applyUser(event({ case: "userErased", value: { userId: customer } }));
    expect(await mailsTo()).toEqual([]);
    expect(await inboxOf(customer)).toEqual([]);
    expect(await db.selectFrom("recipients").selectAll().where("user_id", "=", customer).execute()).toEqual([]);
    expect((await inboxOf(admin))[0]?.body).not.toContain("Ann");
  });
});

describe("low stock", () => {
  it("when one stock move takes two of a seller's products below the threshold and leaves a third above, then the seller is told about each of the two", async () => {
    const seller = uuidv7();
    const [tea, cups, pot] = [uuidv7(), uuidv7(), uuidv7()];
    for (const [productId, name] of [
      [tea, "Tea"],
      [cups, "Cups"],
      [pot, "Pot"],
    ] as const)
      await applyProduct(
        event({ case: "productCreated", value: { productId, shopId: uuidv7(), sellerId: seller, name } }),
      );
    const level = (productId: string, stockAvailable: number) => ({ productId, stockAvailable });
    await applyProduct(
      event({
        case: "stockChanged",
        value: { reason: "reserve", reservationId: uuidv7(), levels: [level(tea, 2), level(cups, 0), level(pot, 9)] },
      }),
    );
    expect((await inboxOf(seller)).map((n) => n.body).sort()).toEqual(["Cups has 0 left.", "Tea has 2 left."]);
  });

  it("when stock falls below the threshold twice in a row (events from before StockChanged listed levels), then the seller is told once, and again after a restock", async () => {
    const [seller, productId] = [uuidv7(), uuidv7()];
    await applyProduct(
      event({ case: "productCreated", value: { productId, shopId: uuidv7(), sellerId: seller, name: "Tea" } }),
    );
    const stock = (available: number) =>
      applyProduct(event({ case: "stockChanged", value: { productId, stockAvailable: available } }));
    await stock(10);
    await stock(4);
    await stock(2);
    expect((await inboxOf(seller)).map((n) => n.kind)).toEqual(["LOW_STOCK"]);
    await stock(20);
    await stock(1);
    expect((await inboxOf(seller)).map((n) => n.kind)).toEqual(["LOW_STOCK", "LOW_STOCK"]);
  });
});

describe("refunds", () => {
  const refunded = (orderId: string, refundId: string, minor: bigint, soFar: bigint) =>
    event({
      case: "paymentRefunded",
      value: { paymentId: uuidv7(), orderId, refundId, amount: usd(minor), totalRefunded: usd(soFar) },
    });

  it("when two refunds of an order arrive, one of them twice, then the buyer is told and mailed once per refund", async () => {
    const buyer = await recipient("refunded");
    const order = placed(buyer.id, [uuidv7()]);
    await applyOrder(order);
    const orderId = (order.payload.value as { orderId: string }).orderId;
    const first = refunded(orderId, uuidv7(), 450n, 450n);
    expect(await applyPayment(first)).toBe(true);
    expect(await applyPayment(first)).toBe(false);
    await applyPayment(refunded(orderId, uuidv7(), 549n, 999n));

    const refunds = (await inboxOf(buyer.id)).filter((n) => n.kind === "REFUND");
    expect(refunds.map((n) => [n.body, n.link])).toEqual([
      [`$4.50 of your order #${orderId.slice(-8)} is refunded to your card.`, `/orders/${orderId}`],
      [`$5.49 of your order #${orderId.slice(-8)} is refunded to your card.`, `/orders/${orderId}`],
    ]);
    const mails = (await mailsTo(buyer.email)).filter((m) => m.template === "refund-issued");
    expect(mails.map((m) => m.subject)).toEqual([
      `Refund of $4.50 for your Bazaar order #${orderId.slice(-8)}`,
      `Refund of $5.49 for your Bazaar order #${orderId.slice(-8)}`,
    ]);
    expect(mails[1]!.text).toContain("Refunded for this order so far: $9.99.");
  });

  it("when an order was cancelled before it was ever confirmed, then its refund still finds the buyer", async () => {
    const buyer = await recipient("never-placed");
    const orderId = uuidv7();
    await applyOrder(
      event({ case: "orderCancelled", value: { orderId, userId: buyer.id, reason: "payment wait over" } }),
    );
    expect(await applyPayment(refunded(orderId, uuidv7(), 999n, 999n))).toBe(true);
    expect((await inboxOf(buyer.id)).map((n) => n.kind)).toEqual(["ORDER_CANCELLED", "REFUND"]);
  });

  it("when a refund arrives before its order's OrderPlaced, then it fails for redelivery and is told once the order is known", async () => {
    const buyer = await recipient("early");
    const order = placed(buyer.id, [uuidv7()]);
    const orderId = (order.payload.value as { orderId: string }).orderId;
    const refund = refunded(orderId, uuidv7(), 999n, 999n);
    await expect(applyPayment(refund)).rejects.toThrow(/not known yet/);
    expect(await inboxOf(buyer.id)).toEqual([]);
    await applyOrder(order);
    expect(await applyPayment(refund)).toBe(true);
    expect((await inboxOf(buyer.id)).map((n) => n.kind)).toEqual(["ORDER_CONFIRMED", "REFUND"]);
  });
});
