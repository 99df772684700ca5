// Notifications against the real mesh: checkout fills the buyer's and the seller's inboxes, a
// cancelled paid order tells the buyer of the refund, no customer reads, marks or watches
// another's notifications, the seller's WatchNotifications shows a
// new order within a second, a watch resumed with its token after the notification service was
// SIGKILLed misses nothing, preferences keep a kind out of the inbox or out of the mail (but never a transactional mail), and the REST routes answer as
// documented. Mails are read back, parsed, from the mesh's SMTP server (e2e.mailbox): the
// confirmation with its lines and totals, the shipment with its tracking number, and every mail
// of checkouts made while that server was down, once each after it returns.
import { randomBytes, randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  NotificationChannel,
  NotificationKind,
  type WatchNotificationsResponse,
} from "../../gen/bazaar/notification/v1/notification_pb.ts";
import type { Money } from "../../gen/bazaar/common/v1/common_pb.ts";
import { PaymentMethod, type Order } from "../../gen/bazaar/order/v1/order_pb.ts";
import { errorInfoOf } from "../../services/kit/error-info.ts";
import { failureOf, type bearer } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import type { ParsedMail } from "mailparser";
import { scrapeMetrics, totalOf } from "../support/metrics.ts";
import { callRest } from "../support/rest.ts";
import { devSellerShelf, registerCustomer } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const { auth, carts, orders, products, shopOrders, notifications } = e2e;
let asSeller: ReturnType<typeof bearer>;
let shopId = "";
let categoryId = "";
let productId = "";
let productName = "";

beforeAll(async () => {
  ({ asSeller, shopId, categoryId } = await devSellerShelf(auth, products));
  const { product } = await products.createProduct(
    {
      product: {
        shopId,
        categoryId,
        name: (productName = `Notified item ${randomBytes(3).toString("hex")}`),
        price: { currencyCode: "USD", amountMinor: 900n },
        stockOnHand: 100,
      },
    },
    asSeller,
  );
  productId = product!.id;
});

const address = { recipientName: "Ada", line1: "1 Inbox Road", city: "Berlin", postalCode: "10115", countryCode: "DE" };

async function checkout(me: ReturnType<typeof bearer>, quantity = 1): Promise<Order> {
  await carts.addCartItem({ productId, quantity }, me);
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

/** How a buyer in en-US reads an amount: "$9.00". */
const usd = (money: Money | undefined) =>
  new Intl.NumberFormat("en-US", { style: "currency", currency: money!.currencyCode }).format(
    Number(money!.amountMinor) / 100,
  );
/** Mails about `order` (its buyer's, by the order link; its sellers', by the shop order link). */
const buyerMailOf = (order: Order) => (m: ParsedMail) => (m.text ?? "").includes(`/orders/${order.id}`);
const sellerMailOf = (order: Order) => (m: ParsedMail) =>
  (m.text ?? "").includes(`/seller/orders/${order.shopOrders[0]!.id}`);
const confirmationOf = (order: Order) => (m: ParsedMail) =>
  buyerMailOf(order)(m) && /is confirmed$/.test(m.subject ?? "");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("e-mail", () => {
  it("when a buyer checks out, then the confirmation mail lists the lines and totals in dollars and reaches the SMTP server once", async () => {
    const me = await registerCustomer(auth, "mailed");
    const order = await checkout(me, 2);
    const mail = await e2e.mailbox.waitFor(buyerMailOf(order), 15_000);
    // The storefront's reference (#last 8): uuidv7 ids of one minute share their first 8.
    expect(mail.subject).toBe(`Your Bazaar order #${order.id.slice(-8)} is confirmed`);
    const line = order.items[0]!;
    expect(usd(line.unitPrice)).toBe("$9.00");
    const rows = [
      `${productName}  2 × $9.00  $18.00`,
      "Subtotal  $18.00",
      ...(order.tax!.amountMinor + order.shippingCost!.amountMinor > 0n
        ? [
            `Tax and shipping  ${usd({ ...order.total!, amountMinor: order.tax!.amountMinor + order.shippingCost!.amountMinor })}`,
          ]
        : []),
      `Total  ${usd(order.total)}`,
    ];
    expect(mail.text).toContain(rows.join("\n"));
    expect(mail.html).toContain(`<tr><td>${productName}</td><td>2 × $9.00</td><td>$18.00</td></tr>`);
    expect(mail.html).toContain(`<tr class="total"><td>Total</td><td></td><td>${usd(order.total)}</td></tr>`);
    expect(mail.text).toContain(`View your order: ${e2e.mesh.edgeUrl}/orders/${order.id}`);
    expect(mail.html).toContain(`href="${e2e.mesh.edgeUrl}/orders/${order.id}"`);
    expect(mail.messageId).toMatch(/^<[0-9a-f-]{36}@127\.0\.0\.1>$/);
    // The mailed link leads a browser to the storefront's page of the order.
    const mailedLink = /View your order: (\S+)/.exec(mail.text ?? "")![1]!;
    const followed = await fetch(mailedLink, { redirect: "manual" });
    expect([followed.status, followed.headers.get("location")]).toEqual([302, `/#order-${order.id}`]);

    const seller = await e2e.mailbox.waitFor(sellerMailOf(order), 15_000);
    expect(seller.subject).toBe(`New order #${order.shopOrders[0]!.id.slice(-8)} for your shop`);
    expect(seller.text).toContain(`${productName}  2 × $9.00  $18.00\nSubtotal  $18.00\n`);
    await sleep(1_500);
    expect((await e2e.mailbox.messages()).filter(buyerMailOf(order))).toHaveLength(1);
  });

  it("when the seller ships with a tracking number, then the buyer's shipped mail carries it", async () => {
    const me = await registerCustomer(auth, "parcel");
    const order = await checkout(me);
    const shopOrder = order.shopOrders[0]!;
    const trackingNumber = `JJD${randomBytes(5).toString("hex").toUpperCase()}`;
    await shopOrders.acceptShopOrder({ id: shopOrder.id }, asSeller);
    await shopOrders.shipShopOrder(
      { id: shopOrder.id, carrier: "DHL", trackingNumber, trackingUrl: `https://track.example/${trackingNumber}` },
      asSeller,
    );
    const mail = await e2e.mailbox.waitFor((m) => (m.text ?? "").includes(trackingNumber), 15_000);
    expect(mail.subject).toBe(`Your Bazaar order #${order.id.slice(-8)} has shipped`);
    expect(JSON.stringify(mail.to)).toContain("parcel-");
    expect(mail.text).toContain(`Tracking number: DHL ${trackingNumber}`);
    expect(mail.text).toContain(`Track your parcel: https://track.example/${trackingNumber}`);
    expect(mail.text).toContain(`View your order: ${e2e.mesh.edgeUrl}/orders/${order.id}`);
  });
});

describe("another user's notifications", () => {
  it("when a customer lists, counts, marks or watches, then only their own notifications are touched, and anonymous callers are refused", async () => {
    const [owner, other] = [await registerCustomer(auth, "owner"), await registerCustomer(auth, "other")];
    const order = await checkout(owner);
    const { notifications: owned } = await eventually(
      () => notifications.listNotifications({}, owner),
      (answer) => answer.notifications.length > 0,
    );
    const otherWatch = watch(other);
    const ownerWatch = watch(owner);
    await sleep(300);

    const marked = await notifications.markNotificationsRead({ ids: owned.map((n) => n.id) }, other);
    expect(marked.markedCount).toBe(0);
    expect((await notifications.markNotificationsRead({ all: true }, other)).markedCount).toBe(0);
    expect((await notifications.listNotifications({}, other)).notifications).toEqual([]);
    expect((await notifications.getUnreadCount({}, other)).unreadCount).toBe(0);
    const { notifications: ownerRead } = await notifications.listNotifications({}, owner);
    expect(ownerRead.map((n) => [n.id, n.readTime])).toEqual(owned.map((n) => [n.id, undefined]));
    expect((await notifications.getUnreadCount({}, owner)).unreadCount).toBe(owned.length);

    // A new notification of the owner reaches the owner's watch, never the other's.
    await orders.cancelOrder({ id: order.id, reason: "testing who sees it" }, owner);
    expect(
      await ownerWatch.until(
        (u) =>
          u.notification!.link === `/orders/${order.id}` && u.notification!.kind === NotificationKind.ORDER_CANCELLED,
      ),
    ).toBeDefined();
    // A resume token is a position in the caller's own inbox: even one made up to point before
    // everyone's first notification replays nothing of another user's.
    const fromTheStart = watch(other, { resumeToken: Buffer.from("inbox:0").toString("base64url") });
    await sleep(500);
    await Promise.all([ownerWatch.stop(), otherWatch.stop(), fromTheStart.stop()]);
    expect(otherWatch.updates).toEqual([]);
    expect(fromTheStart.updates).toEqual([]);

    for (const call of [
      () => notifications.listNotifications({}),
      () => notifications.getUnreadCount({}),
      () => notifications.markNotificationsRead({ all: true }),
      () => notifications.getNotificationPreferences({}),
    ])
      expect(ConnectError.from(await call().catch((e) => e)).code).toBe(Code.Unauthenticated);
    const anonymous = await callRest(e2e.mesh.edgeUrl, "GET", "/v1/notifications:unreadCount");
    expect([anonymous.status, anonymous.body.code]).toEqual([401, "unauthenticated"]);
  });
});

describe("refunds", () => {
  it("when a buyer cancels a paid order, then their inbox and a mail say what was refunded", async () => {
    const me = await registerCustomer(auth, "refund");
    const order = await checkout(me);
    await orders.cancelOrder({ id: order.id, reason: "changed my mind" }, me);
    const mail = await e2e.mailbox.waitFor(
      (m) => (m.subject ?? "").startsWith("Refund of") && (m.text ?? "").includes(order.id),
      15_000,
    );
    expect(mail.subject).toBe(`Refund of ${usd(order.total)} for your Bazaar order #${order.id.slice(-8)}`);
    expect(JSON.stringify(mail.to)).toContain("refund-");
    const inbox = await eventually(
      () => notifications.listNotifications({}, me),
      (answer) => answer.notifications.some((n) => n.kind === NotificationKind.REFUND),
    );
    expect(inbox.notifications.find((n) => n.kind === NotificationKind.REFUND)?.body).toBe(
      `${usd(order.total)} of your order #${order.id.slice(-8)} is refunded to your card.`,
    );
  });
});

describe("SMTP outage", () => {
  it("when the SMTP server is down for 10 s while buyers check out, then every mail arrives once within 30 s of its return", async () => {
    const me = await registerCustomer(auth, "outage");
    const retried = async () =>
      totalOf(await scrapeMetrics(e2e.mesh.metricsUrl("notification")), "bazaar_notification_mails_total", {
        outcome: "retried",
      });
    const retriedBefore = await retried();
    await e2e.mailbox.stop();
    const stoppedAt = Date.now();
    const placed: Order[] = [];
    let restartedAt = 0;
    try {
      // Spread over the outage, so the mails fail at different points of their backoff. Four, not
      // "as many as fit in 8 s": a loaded runner fitted only three.
      for (let i = 0; i < 4; i++) {
        placed.push(await checkout(me));
        await sleep(1_500);
      }
      await sleep(Math.max(0, stoppedAt + 10_000 - Date.now()));
    } finally {
      await e2e.mailbox.restart();
      restartedAt = Date.now();
    }
    // The outbox tried (and failed) while the server was away: this is a retry, not a first send.
    expect(await retried()).toBeGreaterThan(retriedBefore);

    const ours = (m: ParsedMail) => placed.some((o) => buyerMailOf(o)(m) || sellerMailOf(o)(m));
    const all = await eventually(
      async () => (await e2e.mailbox.messages()).filter(ours),
      (mails) => placed.every((o) => mails.some(confirmationOf(o)) && mails.some(sellerMailOf(o))),
      30_000,
      200,
    );
    expect(placed.every((o) => all.some(confirmationOf(o)) && all.some(sellerMailOf(o)))).toBe(true);
    const deliveredWithinMs = Date.now() - restartedAt;
    expect(deliveredWithinMs).toBeLessThan(30_000);
    // None twice: a further poll and retry round sends nothing more.
    await sleep(1_500);
    const after = (await e2e.mailbox.messages()).filter(ours);
    expect(after).toHaveLength(all.length);
    for (const order of placed) {
      expect(after.filter(confirmationOf(order))).toHaveLength(1);
      expect(after.filter(sellerMailOf(order))).toHaveLength(1);
    }
    expect(new Set(after.map((m) => m.messageId)).size).toBe(after.length);
  }, 60_000);
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

  it("when a buyer switches shipping e-mails off, then a shipment is in their inbox but not mailed, while the confirmation they cannot switch off is", async () => {
    const me = await registerCustomer(auth, "no-mail");
    const { preferences } = await notifications.updateNotificationPreferences(
      { preferences: [{ kind: NotificationKind.ORDER_SHIPPED, channel: NotificationChannel.EMAIL, enabled: false }] },
      me,
    );
    const slot = (kind: NotificationKind, channel: NotificationChannel) =>
      preferences.find((p) => p.kind === kind && p.channel === channel);
    expect(slot(NotificationKind.ORDER_SHIPPED, NotificationChannel.EMAIL)).toMatchObject({ enabled: false });
    expect(slot(NotificationKind.ORDER_SHIPPED, NotificationChannel.IN_APP)).toMatchObject({ enabled: true });
    expect(slot(NotificationKind.ORDER_CONFIRMED, NotificationChannel.EMAIL)).toMatchObject({
      enabled: true,
      required: true,
    });
    const refused = await failureOf(
      notifications.updateNotificationPreferences(
        {
          preferences: [{ kind: NotificationKind.ORDER_CONFIRMED, channel: NotificationChannel.EMAIL, enabled: false }],
        },
        me,
      ),
    );
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(refused)?.reason).toBe("NOTIFICATION_PREFERENCE_REQUIRED");

    const order = await checkout(me);
    expect((await e2e.mailbox.waitFor(confirmationOf(order), 15_000)).subject).toContain(order.id.slice(-8));
    const trackingNumber = `JJD${randomBytes(5).toString("hex").toUpperCase()}`;
    await shopOrders.acceptShopOrder({ id: order.shopOrders[0]!.id }, asSeller);
    await shopOrders.shipShopOrder({ id: order.shopOrders[0]!.id, carrier: "DHL", trackingNumber }, asSeller);
    const inbox = await eventually(
      () => notifications.listNotifications({}, me),
      (answer) => answer.notifications.some((n) => n.kind === NotificationKind.ORDER_SHIPPED),
    );
    expect(inbox.notifications.find((n) => n.kind === NotificationKind.ORDER_SHIPPED)?.body).toContain(trackingNumber);
    // A mail is enqueued in the transaction that wrote that inbox entry, and the outbox is
    // polled every second: had one been enqueued, it would have arrived by now.
    await sleep(1_500);
    expect((await e2e.mailbox.messages()).filter((m) => (m.text ?? "").includes(trackingNumber))).toEqual([]);
    expect((await e2e.mailbox.messages()).filter(buyerMailOf(order))).toHaveLength(1);
  });
});
