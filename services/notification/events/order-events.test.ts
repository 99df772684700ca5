// The order-events consumer's handler against a real database, through the kit's applyOnce as
// the running consumer applies it: who is notified of what, once, as their preferences say.
import { create } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSchema, type Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { ShopOrderStatus } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { Role } from "../../../gen/bazaar/common/v1/common_pb.ts";
import { applyOnce, type EventPayload } from "../../kit/events.ts";
import { uuidv7 } from "../../kit/ids.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import type { NotificationDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { savePreferences } from "../db/notification.repository.ts";
import { FeedSignals } from "../../kit/feed-signals.ts";
import { followProductEvents } from "./product-events.ts";
import { notifyOrderEvents } from "./order-events.ts";
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
    expect((await inboxOf(buyer))[0]?.body).toContain("9.99 EUR");
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
  it("when stock falls below the threshold twice in a row, then the seller is told once, and again after a restock", async () => {
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
