// Notifications against the real mesh: checkout fills the buyer's and the seller's inboxes, the
// seller's WatchNotifications shows a new order within a second, a watch resumed with its token
// after the notification service was SIGKILLed misses nothing, preferences keep a kind out of
// the inbox, and the REST routes answer as documented.
import { randomBytes, randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  NotificationChannel,
  NotificationKind,
  type WatchNotificationsResponse,
} from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { PaymentMethod, type Order } from "../../gen/bazaar/order/v1/order_pb.ts";
import type { bearer } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { callRest } from "../support/rest.ts";
import { devSellerShelf, registerCustomer } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const { auth, carts, orders, products, notifications } = e2e;
let asSeller: ReturnType<typeof bearer>;
let shopId = "";
let categoryId = "";
let productId = "";

beforeAll(async () => {
  ({ asSeller, shopId, categoryId } = await devSellerShelf(auth, products));
  const { product } = await products.createProduct(
    {
      product: {
        shopId,
        categoryId,
        name: `Notified item ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: 900n },
        stockOnHand: 100,
      },
    },
    asSeller,
  );
  productId = product!.id;
});

const address = { recipientName: "Ada", line1: "1 Inbox Road", city: "Berlin", postalCode: "10115", countryCode: "DE" };

async function checkout(me: ReturnType<typeof bearer>): Promise<Order> {
  await carts.addCartItem({ productId, quantity: 1 }, me);
  const { order } = await orders.placeOrder(
    {
      idempotencyKey: randomUUID(),
      shippingAddress: address,
      payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
    },
    me,
  );
  return order!;
}

/** Collects a WatchNotifications stream in the background, with the time each update arrived. */
function watch(me: ReturnType<typeof bearer>, request: { resumeToken?: string } = {}) {
  const abort = new AbortController();
  const updates: Array<WatchNotificationsResponse & { at: number }> = [];
  const ended = (async () => {
    try {
      for await (const update of notifications.watchNotifications(request, { ...me, signal: abort.signal }))
        updates.push(Object.assign(update, { at: Date.now() }));
      return undefined;
    } catch (error) {
      return abort.signal.aborted ? undefined : error;
    }
  })();
  return {
    updates,
    ended,
    async until(accept: (u: WatchNotificationsResponse) => boolean, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!updates.some(accept) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      return updates.find(accept);
    },
    stop() {
      abort.abort();
      return ended;
    },
  };
}

const aboutOrder = (order: Order) => (u: WatchNotificationsResponse) =>
  order.shopOrders.some((s) => u.notification!.link.includes(s.id));

describe("checkout notifies", () => {
  it("when a buyer checks out, then their inbox has the confirmation and the seller's watch shows the new order within a second", async () => {
    const me = await registerCustomer(auth, "notified");
    const seller = watch(asSeller);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const order = await checkout(me);
    const placedAt = Date.now();
    const update = await seller.until(aboutOrder(order));
    await seller.stop();
    expect(update?.notification?.kind).toBe(NotificationKind.SELLER_NEW_ORDER);
    expect(update!.at - placedAt).toBeLessThan(1_000);

    const inbox = await eventually(
      () => notifications.listNotifications({}, me),
      (answer) => answer.notifications.length > 0,
    );
    expect(inbox.notifications.map((n) => [n.kind, n.link])).toEqual([
      [NotificationKind.ORDER_CONFIRMED, `/orders/${order.id}`],
    ]);
    const token = (me.headers as Record<string, string>).authorization!.slice("Bearer ".length);
    const rest = await callRest(e2e.mesh.edgeUrl, "GET", "/v1/notifications:unreadCount", { token });
    expect([rest.status, rest.body.unreadCount]).toEqual([200, 1]);
  });
});

describe("e-mail", () => {
  it("when a buyer checks out, then the confirmation mail with an absolute order link reaches the SMTP server once", async () => {
    const me = await registerCustomer(auth, "mailed");
    const order = await checkout(me);
    // uuidv7 ids share their first 8 characters within a minute: match the whole id.
    const ours = (m: { text?: string }) => (m.text ?? "").includes(`/orders/${order.id}`);
    const mail = await e2e.mailbox.waitFor(ours, 15_000);
    expect(mail.subject).toBe(`Your Bazaar order ${order.id.slice(0, 8)} is confirmed`);
    expect(mail.text).toContain(`View your order: http://127.0.0.1:8080/orders/${order.id}`);
    expect(mail.html).toContain(`href="http://127.0.0.1:8080/orders/${order.id}"`);
    expect(mail.messageId).toMatch(/^<[0-9a-f-]{36}@127\.0\.0\.1>$/);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await e2e.mailbox.messages()).filter(ours)).toHaveLength(1);
  });
});

describe("watching across a restart", () => {
  it("when the notification service is SIGKILLed, then a watch resumed with its last token gets exactly the notifications it missed", async () => {
    const me = await registerCustomer(auth, "restart");
    const seller = watch(asSeller);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const first = await checkout(me);
    expect(await seller.until(aboutOrder(first))).toBeDefined();
    const resumeToken = seller.updates.at(-1)!.resumeToken;

    await e2e.mesh.kill("notification", "SIGKILL");
    expect(ConnectError.from(await seller.ended).code).toBe(Code.Unavailable);
    const missed = [await checkout(me), await checkout(me)];
    e2e.mesh.relaunch("notification");
    await e2e.mesh.ready(60_000);

    const resumed = watch(asSeller, { resumeToken });
    expect(await resumed.until(aboutOrder(missed[1]!), 15_000)).toBeDefined();
    await resumed.stop();
    const mine = resumed.updates.filter((u) => missed.some((o) => aboutOrder(o)(u)));
    expect(mine.map((u) => u.notification!.link)).toEqual(missed.map((o) => `/seller/orders/${o.shopOrders[0]!.id}`));
    const ids = resumed.updates.map((u) => u.notification!.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain(seller.updates.at(-1)!.notification!.id);
  }, 120_000);
});

describe("preferences", () => {
  it("when a buyer switches order confirmations off in the app, then the next checkout is not in their inbox", async () => {
    const me = await registerCustomer(auth, "quiet");
    await notifications.updateNotificationPreferences(
      {
        preferences: [{ kind: NotificationKind.ORDER_CONFIRMED, channel: NotificationChannel.IN_APP, enabled: false }],
      },
      me,
    );
    const seller = watch(asSeller);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const order = await checkout(me);
    // The seller's notification of the same event says the event was processed.
    expect(await seller.until(aboutOrder(order))).toBeDefined();
    await seller.stop();
    expect((await notifications.listNotifications({}, me)).notifications).toEqual([]);
  });
});
