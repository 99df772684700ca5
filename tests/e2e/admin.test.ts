// The admin service against the real mesh: admins only, user and order operations through the
// internal services, each change audited; the audit trail and sales report built from the event
// stream — fast, once per event, equal to the orders database, and the same after a rebuild.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual, promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsConnectOptions } from "../../services/kit/nats.ts";
import { createConnection } from "mysql2/promise";
import { beforeAll, describe, expect, it } from "vitest";
import { AdminService, type GetSalesReportResponse } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import { EventSchema } from "../../gen/bazaar/events/v1/events_pb.ts";
import { NotificationKind } from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { OrderStatus, OrderStatusSchema, PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { uuidv7 } from "../../services/kit/ids.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { devSellerShelf, registerCustomer, signIn } from "../support/shoppers.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { messagesAbout } from "../support/events.ts";
import { useMesh } from "../support/use-mesh.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const e2e = useMesh();
const { auth, admin, carts, orders, products } = e2e;
let asAdmin: ReturnType<typeof bearer>;
let asSeller: ReturnType<typeof bearer>;
let asCustomer: ReturnType<typeof bearer>;
let shopId = "";
let categoryId = "";
const testStart = new Date(Date.now() - 60_000);

beforeAll(async () => {
  asAdmin = await signIn(auth, devAccounts.admin);
  asCustomer = await signIn(auth, devAccounts.customer);
  ({ asSeller, shopId, categoryId } = await devSellerShelf(auth, products));
});

const newCustomer = () => registerCustomer(auth, "admin-e2e");

/** Polls the audit trail until an event about `subjectId` of `eventType` shows; returns how long it took. */
/**
 * Milliseconds from the event's commit (its occur_time) until the audit trail shows it: the
 * event path alone, not the call that caused it, which a loaded machine may slow on its own.
 */
async function auditLatency(subjectId: string, eventType: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { events } = await admin.listAuditEvents({ subjectId, eventType }, asAdmin);
    if (events.length > 0) return Date.now() - timestampMs(events[0]!.occurTime!);
    if (Date.now() - started > 5_000)
      throw new Error(`no ${eventType} about ${subjectId} in the audit trail after 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("who may use the admin service", () => {
  const calls: Array<[string, (options: ReturnType<typeof bearer> | undefined) => Promise<unknown>]> = [
    ["ListUsers", (o) => admin.listUsers({}, o)],
    ["GetUser", (o) => admin.getUser({ id: devAccounts.customer.id }, o)],
    ["SetUserRole", (o) => admin.setUserRole({ id: devAccounts.seller.id, role: Role.SELLER }, o)],
    ["SetUserActive", (o) => admin.setUserActive({ id: devAccounts.seller.id, active: true }, o)],
    ["EraseUser", (o) => admin.eraseUser({ id: randomUUID(), reason: "asked" }, o)],
    ["ListOrders", (o) => admin.listOrders({}, o)],
    ["UpdateOrderStatus", (o) => admin.updateOrderStatus({ id: randomUUID(), status: OrderStatus.SHIPPED }, o)],
    ["ListAuditEvents", (o) => admin.listAuditEvents({}, o)],
    [
      "GetSalesReport",
      (o) => admin.getSalesReport({ fromTime: timestampFromDate(testStart), toTime: timestampFromDate(new Date()) }, o),
    ],
    ["ListDeadLetters", (o) => admin.listDeadLetters({}, o)],
    ["RedriveDeadLetter", (o) => admin.redriveDeadLetter({ id: randomUUID() }, o)],
    ["ListShops", (o) => admin.listShops({}, o)],
    ["SuspendShop", (o) => admin.suspendShop({ id: randomUUID(), reason: "spam" }, o)],
    ["ReactivateShop", (o) => admin.reactivateShop({ id: randomUUID() }, o)],
    [
      "UpdateCategory",
      (o) => admin.updateCategory({ category: { id: randomUUID(), name: "X" }, updateMask: { paths: ["name"] } }, o),
    ],
    ["DeleteCategory", (o) => admin.deleteCategory({ id: randomUUID() }, o)],
    ["ListPayments", (o) => admin.listPayments({}, o)],
    [
      "RefundPayment",
      (o) =>
        admin.refundPayment({ id: randomUUID(), amount: { currencyCode: "USD", amountMinor: 1n }, reason: "x" }, o),
    ],
  ];

  it("covers every RPC of the service but the shop sales report, which sellers read too (shop-sales-report.test.ts)", () => {
    expect(calls.map(([name]) => name).sort()).toEqual(
      AdminService.methods
        .map((m) => m.name)
        .filter((name) => name !== "GetShopSalesReport")
        .sort(),
    );
  });

  it.each(calls)(
    "when anyone but an admin calls %s, then unauthenticated or permission_denied",
    async (_name, call) => {
      expect((await failureOf(call(undefined))).code).toBe(Code.Unauthenticated);
      expect((await failureOf(call(asCustomer))).code).toBe(Code.PermissionDenied);
      expect((await failureOf(call(asSeller))).code).toBe(Code.PermissionDenied);
      // An admin gets through to the method itself: success, or its own answer to the dummy request.
      const asAdminOutcome = await call(asAdmin).then(
        () => "ok",
        (error) => ConnectError.from(error).code,
      );
      expect(["ok", Code.NotFound]).toContain(asAdminOutcome);
    },
  );
});

describe("user and order operations", () => {
  it("when an admin promotes and deactivates a user, then auth applies it and both actions are audited with the admin as actor", async () => {
    const target = await newCustomer();
    expect((await admin.getUser({ id: target.id }, asAdmin)).user!.role).toBe(Role.CUSTOMER);
    expect((await admin.setUserRole({ id: target.id, role: Role.SELLER }, asAdmin)).user!.role).toBe(Role.SELLER);
    expect((await admin.setUserActive({ id: target.id, active: false }, asAdmin)).user!.active).toBe(false);
    expect(
      (await admin.listUsers({ query: "admin-e2e", role: Role.SELLER, active: false }, asAdmin)).users.map((u) => u.id),
    ).toContain(target.id);
    // The deactivated user's token stops working everywhere.
    expect((await failureOf(carts.getCart({}, target))).code).toBe(Code.Unauthenticated);

    await auditLatency(target.id, "admin_action_performed");
    const { events } = await admin.listAuditEvents(
      { subjectId: target.id, eventType: "admin_action_performed" },
      asAdmin,
    );
    expect(events.map((e) => [e.actorId, JSON.parse(e.payloadJson).action])).toEqual([
      [devAccounts.admin.id, "SetUserActive"],
      [devAccounts.admin.id, "SetUserRole"],
    ]);
  });

  it("when an admin changes their own role or deactivates themselves, then failed_precondition", async () => {
    const error = await failureOf(admin.setUserActive({ id: devAccounts.admin.id, active: false }, asAdmin));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect((await failureOf(admin.setUserRole({ id: devAccounts.admin.id, role: Role.CUSTOMER }, asAdmin))).code).toBe(
      Code.FailedPrecondition,
    );
  });

  it("when an admin lists and ships an order, then the order service does it and an illegal move names both states", async () => {
    const me = await newCustomer();
    const {
      products: [product],
    } = await products.listProducts({ pageSize: 1 });
    await carts.addCartItem({ productId: product!.id, quantity: 1 }, me);
    const { order } = await orders.placeOrder(
      {
        idempotencyKey: randomUUID(),
        shippingAddress: {
          recipientName: "A",
          line1: "1 Admin Road",
          city: "Berlin",
          postalCode: "10115",
          countryCode: "DE",
        },
        payment: { method: PaymentMethod.CASH_ON_DELIVERY },
      },
      me,
    );
    expect((await admin.listOrders({ userId: me.id }, asAdmin)).orders.map((o) => o.id)).toEqual([order!.id]);
    const { order: shipped } = await admin.updateOrderStatus(
      { id: order!.id, status: OrderStatus.SHIPPED, note: "UPS 1Z" },
      asAdmin,
    );
    expect(shipped!.statusHistory.at(-1)).toMatchObject({ status: OrderStatus.SHIPPED, note: "UPS 1Z" });
    const illegal = await failureOf(
      admin.updateOrderStatus({ id: order!.id, status: OrderStatus.PROCESSING }, asAdmin),
    );
    expect([illegal.code, illegal.rawMessage]).toEqual([
      Code.FailedPrecondition,
      "an order cannot move from SHIPPED to PROCESSING",
    ]);
  });
});

describe("the audit trail", () => {
  it("when auth, product, order and admin each emit an event, then it is in the audit trail within 1 s", async () => {
    const buyer = await newCustomer();
    const fromAuth = await auditLatency(buyer.id, "user_registered");

    const { product } = await products.createProduct(
      {
        product: {
          shopId,
          categoryId,
          name: "Audited thing",
          price: { currencyCode: "USD", amountMinor: 990n },
          stockOnHand: 3,
        },
      },
      asSeller,
    );
    const fromProduct = await auditLatency(product!.id, "product_created");

    await carts.addCartItem({ productId: product!.id, quantity: 1 }, buyer);
    const { order } = await orders.placeOrder(
      {
        idempotencyKey: randomUUID(),
        shippingAddress: {
          recipientName: "B",
          line1: "2 Audit Way",
          city: "Berlin",
          postalCode: "10115",
          countryCode: "DE",
        },
        payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
      },
      buyer,
    );
    const fromOrder = await auditLatency(order!.id, "order_placed");

    await admin.updateOrderStatus({ id: order!.id, status: OrderStatus.PROCESSING }, asAdmin);
    const fromAdmin = await auditLatency(order!.id, "admin_action_performed");

    for (const [producer, ms] of Object.entries({ fromAuth, fromProduct, fromOrder, fromAdmin }))
      expect(ms, producer).toBeLessThan(1_000);
    const { events } = await admin.listAuditEvents({ subjectId: order!.id }, asAdmin);
    expect(events.map((e) => e.eventType)).toEqual(
      expect.arrayContaining(["order_placed", "order_status_changed", "admin_action_performed"]),
    );
    expect(events.find((e) => e.eventType === "order_placed")!.summary).toMatch(
      /^order .* placed: 1 product, total 1040 USD$/,
    );
  });

  it("when a request carries a traceparent, then the event it causes carries it through NATS", async () => {
    const traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const { product } = await products.createProduct(
      {
        product: {
          shopId,
          categoryId,
          name: "Traced thing",
          price: { currencyCode: "USD", amountMinor: 100n },
          stockOnHand: 1,
        },
      },
      { headers: { ...asSeller.headers, traceparent: traceParent } },
    );
    await auditLatency(product!.id, "product_created");
    const messages = await messagesAbout(e2e.mesh.natsUrl, product!.id, "bazaar.product.product_created");
    expect(messages.map((m) => [m.traceHeader, m.traceParent])).toEqual([[traceParent, traceParent]]);
  });

  it("when the same event is delivered twice, then it is applied once", async () => {
    const event = create(EventSchema, {
      id: uuidv7(),
      occurTime: timestampFromDate(new Date()),
      source: "auth",
      subjectId: randomUUID(),
      payload: {
        case: "userRegistered",
        value: { userId: randomUUID(), email: "twice@example.test", role: Role.CUSTOMER },
      },
    });
    const nc = await connect(natsConnectOptions(e2e.mesh.natsUrl));
    try {
      const js = jetstream(nc);
      // Different message ids get past JetStream's own de-duplication: the consumer must catch it.
      await js.publish("bazaar.auth.user_registered", toBinary(EventSchema, event), { msgID: `${event.id}-a` });
      await js.publish("bazaar.auth.user_registered", toBinary(EventSchema, event), { msgID: `${event.id}-b` });
    } finally {
      await nc.close();
    }
    await auditLatency(event.subjectId, "user_registered");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await admin.listAuditEvents({ subjectId: event.subjectId }, asAdmin)).events.map((e) => e.id)).toEqual([
      event.id,
    ]);
  });

  it("when filtering by type, actor and time and paging, then every page holds exactly the matching events, newest first", async () => {
    const from = new Date();
    const target = await newCustomer();
    for (const role of [Role.SELLER, Role.CUSTOMER, Role.SELLER])
      await admin.setUserRole({ id: target.id, role }, asAdmin);
    await auditLatency(target.id, "user_role_changed");
    const filter = {
      subjectId: target.id,
      eventType: "admin_action_performed",
      actorId: devAccounts.admin.id,
      fromTime: timestampFromDate(from),
    };
    await eventually(
      () => admin.listAuditEvents(filter, asAdmin),
      ({ events }) => events.length >= 3,
      5_000,
      50,
    );

    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await admin.listAuditEvents({ ...filter, pageSize: 2, pageToken }, asAdmin);
      ids.push(...page.events.map((e) => e.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(ids).toHaveLength(3);
    expect([...ids].sort().reverse()).toEqual(ids);
    expect(
      (await admin.listAuditEvents({ ...filter, fromTime: undefined, toTime: timestampFromDate(from) }, asAdmin))
        .events,
    ).toEqual([]);
    expect((await failureOf(admin.listAuditEvents({ actorId: "not-a-uuid" }, asAdmin))).code).toBe(
      Code.InvalidArgument,
    );
  });
});

describe("dead letters", () => {
  it("when a message no consumer can decode arrives, then each consumer that got it dead-letters it, listed across services, a redrive says why it cannot apply, and admins are alerted", async () => {
    const nc = await connect(natsConnectOptions(e2e.mesh.natsUrl));
    try {
      await jetstream(nc).publish("bazaar.product.garbled", new Uint8Array([0xde, 0xad, 0xbe, 0xef]), {
        msgID: randomUUID(),
      });
    } finally {
      await nc.close();
    }
    const garbled = async () =>
      (await admin.listDeadLetters({}, asAdmin)).deadLetters.filter((d) => d.subject === "bazaar.product.garbled");
    const letters = await eventually(garbled, (found) => found.length >= 3, 10_000);
    // The cart's product cache, the admin's projections and the notification service's low-stock
    // watch all listen on product subjects.
    expect(letters.map((d) => `${d.service}/${d.consumer}`).sort()).toEqual([
      "admin/admin-projections",
      "cart/cart-product-snapshots",
      "notification/notification-product-events",
    ]);
    expect(letters.every((d) => d.eventId === "" && d.error.length > 0)).toBe(true);
    expect((await admin.listDeadLetters({ service: "cart" }, asAdmin)).deadLetters.map((d) => d.service)).toEqual([
      "cart",
    ]);

    const refused = await failureOf(admin.redriveDeadLetter({ id: letters[0]!.id }, asAdmin));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toMatch(/not a decodable event/);
    expect((await failureOf(admin.listDeadLetters({ service: "billing" }, asAdmin))).code).toBe(Code.InvalidArgument);
    // The payment service's own letters can be asked for too: it consumes no product event.
    expect((await admin.listDeadLetters({ service: "payment" }, asAdmin)).deadLetters).toEqual([]);

    // Each service announced its letter; every active admin is alerted, in the inbox and by mail.
    const alerts = async () =>
      (await e2e.notifications.listNotifications({ pageSize: 50 }, asAdmin)).notifications.filter(
        (n) => n.kind === NotificationKind.ADMIN_ALERT && n.body.includes("bazaar.product.garbled"),
      );
    const alerted = await eventually(alerts, (found) => found.length >= 3, 10_000);
    expect(alerted.map((n) => n.title).sort()).toEqual([
      "Dead letter in admin-projections",
      "Dead letter in cart-product-snapshots",
      "Dead letter in notification-product-events",
    ]);
    expect(
      alerted.every((n) => /an undecodable message from bazaar\.product\.garbled after 1 attempt: \w/.test(n.body)),
    ).toBe(true);
    const mailed = await e2e.mailbox.waitFor(
      (mail) =>
        mail.subject === "Bazaar alert: Dead letter in cart-product-snapshots" &&
        [mail.to ?? []].flat().some((to) => to.text.includes(devAccounts.admin.email)),
    );
    expect(mailed.text).toContain("cart-product-snapshots (cart) gave up on an undecodable message");
    // A customer is not an admin: nothing of it in their inbox.
    expect(
      (await e2e.notifications.listNotifications({ pageSize: 50 }, asCustomer)).notifications.filter(
        (n) => n.kind === NotificationKind.ADMIN_ALERT,
      ),
    ).toEqual([]);
  });
});

describe("the sales report", () => {
  it("when orders are placed, shipped and cancelled, then the report equals a direct sum over the orders database, and a rebuild reproduces it", async () => {
    const priced = async (cents: bigint) =>
      (
        await products.createProduct(
          {
            product: {
              shopId,
              categoryId,
              name: `Report ${cents}`,
              price: { currencyCode: "USD", amountMinor: cents },
              stockOnHand: 50,
            },
          },
          asSeller,
        )
      ).product!.id;
    const [cheap, dear] = [await priced(500n), await priced(25_000n)];
    const placed: string[] = [];
    for (const [productId, quantity, token] of [
      [cheap, 3, "tok_visa"],
      [dear, 1, "tok_visa"],
      [dear, 2, "tok_chargeDeclined"],
      [cheap, 1, "tok_visa"],
    ] as const) {
      const buyer = await newCustomer();
      await carts.addCartItem({ productId, quantity }, buyer);
      const { order } = await orders.placeOrder(
        {
          idempotencyKey: randomUUID(),
          shippingAddress: {
            recipientName: "C",
            line1: "3 Report St",
            city: "Berlin",
            postalCode: "10115",
            countryCode: "DE",
          },
          payment: { method: PaymentMethod.CARD, cardToken: token },
        },
        buyer,
      );
      placed.push(order!.id);
    }
    await admin.updateOrderStatus({ id: placed[1]!, status: OrderStatus.SHIPPED }, asAdmin);
    await admin.updateOrderStatus({ id: placed[3]!, status: OrderStatus.CANCELLED, note: "fraud check" }, asAdmin);

    const range = { fromTime: timestampFromDate(testStart), toTime: timestampFromDate(new Date(Date.now() + 60_000)) };
    const expected = await directSums(testStart, new Date(Date.now() + 60_000));
    const wanted = { revenue: expected.revenue, byStatus: expected.byStatus, top: expected.top };
    // The whole summary, not the revenue alone: one event still on its way can leave the revenue
    // right by coincidence while a status count is not yet.
    const report = await eventually(
      () => admin.getSalesReport(range, asAdmin),
      (r) => isDeepStrictEqual(summaryOf(r), wanted),
    );
    expect(summaryOf(report)).toEqual(wanted);
    expect(report.revenueByDay.reduce((sum, d) => sum + d.revenue!.amountMinor, 0n)).toBe(expected.revenue);
    expect(report.topProducts[0]).toMatchObject({ productId: dear, quantity: 1n });
    expect(report.newUsersByDay.reduce((sum, d) => sum + d.count, 0)).toBeGreaterThanOrEqual(4);

    const { stdout } = await promisify(execFile)(process.execPath, ["services/admin/rebuild.ts"], {
      cwd: root,
      env: e2e.mesh.env,
      timeout: 60_000,
    });
    expect(stdout).toMatch(/done: \d+ events replayed/);
    expect(summaryOf(await admin.getSalesReport(range, asAdmin))).toEqual(summaryOf(report));
    expect((await admin.getSalesReport(range, asAdmin)).newUsersByDay).toEqual(report.newUsersByDay);
    expect((await admin.listAuditEvents({ subjectId: placed[3]! }, asAdmin)).events.map((e) => e.eventType)).toContain(
      "order_cancelled",
    );
  }, 120_000);

  it("when the range is backwards or longer than a year, then invalid_argument", async () => {
    const now = new Date();
    const backwards = admin.getSalesReport(
      { fromTime: timestampFromDate(now), toTime: timestampFromDate(testStart) },
      asAdmin,
    );
    expect((await failureOf(backwards)).code).toBe(Code.InvalidArgument);
    const long = admin.getSalesReport(
      { fromTime: timestampFromDate(new Date(Date.UTC(2020, 0, 1))), toTime: timestampFromDate(now) },
      asAdmin,
    );
    expect((await failureOf(long)).code).toBe(Code.InvalidArgument);
  });
});

function summaryOf(report: GetSalesReportResponse) {
  return {
    revenue: report.totalRevenue!.amountMinor,
    byStatus: Object.fromEntries(
      report.ordersByStatus.map((s) => [OrderStatusSchema.value[s.status]!.localName, s.count]),
    ),
    top: report.topProducts.map((p) => [p.productId, p.quantity, p.revenue!.amountMinor]),
  };
}

/** The same figures straight from the order service's database. */
async function directSums(from: Date, to: Date) {
  const connection = await createConnection({
    uri: e2e.mesh.mysqlUrl,
    database: e2e.mesh.env.BAZAAR_ORDER_DB,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  try {
    const range = [from, to];
    const [[revenue]] = (await connection.query(
      "SELECT COALESCE(SUM(total_minor), 0) AS revenue FROM orders WHERE status IN ('CONFIRMED','PROCESSING','SHIPPED','DELIVERED') AND create_time >= ? AND create_time < ?",
      range,
    )) as any;
    const [statuses] = (await connection.query(
      "SELECT status, COUNT(*) AS n FROM orders WHERE status <> 'PENDING' AND create_time >= ? AND create_time < ? GROUP BY status",
      range,
    )) as any;
    const [top] = (await connection.query(
      `SELECT l.product_id, SUM(l.quantity) AS quantity, SUM(l.line_total_minor) AS revenue
       FROM order_lines l JOIN orders o ON o.id = l.order_id
       WHERE o.status IN ('CONFIRMED','PROCESSING','SHIPPED','DELIVERED') AND o.create_time >= ? AND o.create_time < ?
       GROUP BY l.product_id ORDER BY revenue DESC, l.product_id LIMIT 10`,
      range,
    )) as any;
    return {
      revenue: BigInt(revenue.revenue),
      byStatus: Object.fromEntries(statuses.map((row: any) => [row.status, Number(row.n)])),
      top: top.map((row: any) => [row.product_id, BigInt(row.quantity), BigInt(row.revenue)]),
    };
  } finally {
    await connection.end();
  }
}
