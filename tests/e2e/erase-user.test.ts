// Erasing a user against the real mesh: a customer who registered, gave a phone, ordered twice
// with a street address and left a cart is erased by an admin over REST. Then no text or blob
// column of any service's database holds their e-mail, name, phone or address, they cannot sign
// in, their orders are still there with the same totals, the sales report does not move, and a
// rebuild of the admin projections from the event stream does not bring their data back.
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual, promisify } from "node:util";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import type { GetSalesReportResponse } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { defaultPorts } from "../../services/kit/config.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { errorInfoOf } from "../../services/kit/error-info.ts";
import { bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { query } from "../support/invariants.ts";
import { callRest } from "../support/rest.ts";
import { devSellerShelf, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const e2e = useMesh();
const { auth, admin, carts, orders, products } = e2e;
const serviceNames = Object.keys(defaultPorts);
const testStart = new Date(Date.now() - 60_000);
const reportRange = () => ({
  fromTime: timestampFromDate(testStart),
  toTime: timestampFromDate(new Date(Date.now() + 3_600_000)),
});

// What identifies the customer, each string unique to this run so a hit can only be theirs.
const tag = randomBytes(4).toString("hex");
const person = {
  email: `zelda-${tag}@example.test`,
  password: "password-123",
  name: `Zelda Quartermaine ${tag}`,
  phone: `+49 30 ${String(parseInt(tag, 16) % 10_000_000).padStart(7, "0")}`,
  line1: `${tag} Erasure Lane`,
  line2: `Backyard ${tag}`,
};
const address = {
  recipientName: person.name,
  line1: person.line1,
  line2: person.line2,
  city: "Berlin",
  postalCode: "10999",
  countryCode: "DE",
  phone: person.phone,
};

let adminToken = "";
let asAdmin: ReturnType<typeof bearer>;
let customerToken = "";
let customerId = "";
const placed: Array<{ id: string; total: bigint }> = [];
let reportBefore: GetSalesReportResponse;

/** Every text, JSON and blob column of every service's database holding one of `needles`. */
async function personalDataIn(needles: string[], services = serviceNames) {
  const found: string[] = [];
  for (const service of services) {
    const database = e2e.mesh.env[`BAZAAR_${service.toUpperCase()}_DB`]!;
    const columns = await query<{ table_name: string; column_name: string }>(
      e2e.mesh.mysqlUrl,
      database,
      `SELECT table_name AS table_name, column_name AS column_name FROM information_schema.columns
       WHERE table_schema = ? AND data_type IN
         ('char','varchar','tinytext','text','mediumtext','longtext','json','binary','varbinary','tinyblob','blob','mediumblob','longblob')`,
      [database],
    );
    for (const { table_name: table, column_name: column } of columns) {
      for (const needle of needles) {
        // LOCATE over a blob compares bytes: protobuf keeps strings as plain UTF-8.
        const [row] = await query<{ n: number }>(
          e2e.mesh.mysqlUrl,
          database,
          `SELECT COUNT(*) AS n FROM \`${table}\` WHERE LOCATE(?, \`${column}\`) > 0`,
          [needle],
        );
        if (Number(row!.n) > 0) found.push(`${service}.${table}.${column}: ${needle}`);
      }
    }
  }
  return found;
}

const personalStrings = [person.email, person.name, person.phone, person.line1, person.line2];

function figuresOf(report: GetSalesReportResponse) {
  return {
    total: report.totalRevenue?.amountMinor,
    byDay: report.revenueByDay.map((d) => [d.day, d.revenue?.amountMinor, d.orderCount]),
    byStatus: report.ordersByStatus.map((s) => [s.status, s.count]),
    top: report.topProducts.map((p) => [p.productId, p.quantity, p.revenue?.amountMinor]),
    newUsers: report.newUsersByDay.map((d) => [d.day, d.count]),
  };
}

beforeAll(async () => {
  adminToken = (await auth.login(devAccounts.admin)).tokens!.accessToken;
  asAdmin = bearer(adminToken);
  const { asSeller, shopId, categoryId } = await devSellerShelf(auth, products);
  const { product } = await products.createProduct(
    {
      product: {
        shopId,
        categoryId,
        name: `Erasable lamp ${tag}`,
        price: { currencyCode: "USD", amountMinor: 1_999n },
        stockOnHand: 20,
      },
    },
    asSeller,
  );

  const { user, tokens } = await auth.register({
    email: person.email,
    password: person.password,
    displayName: person.name,
  });
  customerId = user!.id;
  customerToken = tokens!.accessToken;
  const asCustomer = bearer(customerToken);
  await auth.updateMe({ user: { phone: person.phone }, updateMask: { paths: ["phone"] } }, asCustomer);
  for (const payment of [
    { method: PaymentMethod.CARD, cardToken: "tok_visa" },
    { method: PaymentMethod.CASH_ON_DELIVERY },
  ]) {
    await carts.addCartItem({ productId: product!.id, quantity: 2 }, asCustomer);
    const { order } = await orders.placeOrder(
      { idempotencyKey: randomUUID(), shippingAddress: address, payment },
      asCustomer,
    );
    placed.push({ id: order!.id, total: order!.total!.amountMinor });
  }
  // A cart left behind.
  await carts.addCartItem({ productId: product!.id, quantity: 1 }, asCustomer);

  // The admin projections have the sign-up and both orders before the "before" figures are read.
  await eventually(
    async () => (await admin.listAuditEvents({ subjectId: customerId, eventType: "user_registered" }, asAdmin)).events,
    (events) => events.length === 1,
  );
  reportBefore = await eventually(
    () => admin.getSalesReport(reportRange(), asAdmin),
    (report) =>
      report.topProducts.some((p) => p.productId === product!.id && p.quantity === 4n) &&
      report.newUsersByDay.reduce((sum, d) => sum + d.count, 0) > 0,
  );
}, 60_000);

describe("erasing a user", () => {
  it("before the erasure, the scan finds the customer's data in auth, order and the admin audit trail", async () => {
    const found = await personalDataIn(personalStrings);
    expect(found).toEqual(
      expect.arrayContaining([
        `auth.users.email: ${person.email}`,
        `auth.users.display_name: ${person.name}`,
        `auth.users.phone: ${person.phone}`,
        `order.orders.shipping_address: ${person.line1}`,
        `admin.audit_events.summary: ${person.email}`,
        `admin.audit_events.payload_json: ${person.name}`,
        // The relay keeps published events a day; protobuf bytes hold the e-mail as it is.
        `auth.outbox.payload: ${person.email}`,
      ]),
    );
  });

  it("when anyone but an admin erases the user over REST, then 401 or 403 and nothing changes", async () => {
    const path = `/v1/admin/users/${customerId}:erase`;
    const anonymous = await callRest(e2e.mesh.edgeUrl, "POST", path, { body: { reason: "asked" } });
    expect([anonymous.status, anonymous.body.code]).toEqual([401, "unauthenticated"]);
    const customer = await signIn(auth, devAccounts.customer);
    const asThemselves = await callRest(e2e.mesh.edgeUrl, "POST", path, {
      token: customerToken,
      body: { reason: "asked" },
    });
    expect([asThemselves.status, asThemselves.body.code]).toEqual([403, "permission_denied"]);
    expect((await failureOf(admin.eraseUser({ id: customerId, reason: "asked" }, customer))).code).toBe(
      Code.PermissionDenied,
    );
    expect((await auth.getMe({}, bearer(customerToken))).user?.email).toBe(person.email);
  });

  it("when the user is unknown, owns a shop or is the admin, then not_found or failed_precondition", async () => {
    const unknown = await failureOf(admin.eraseUser({ id: randomUUID(), reason: "asked" }, asAdmin));
    expect(unknown.code).toBe(Code.NotFound);
    const seller = await failureOf(admin.eraseUser({ id: devAccounts.seller.id, reason: "asked" }, asAdmin));
    expect(seller.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(seller)).toMatchObject({
      reason: "USER_OWNS_SHOPS",
      metadata: { user_id: devAccounts.seller.id },
    });
    const self = await failureOf(admin.eraseUser({ id: devAccounts.admin.id, reason: "asked" }, asAdmin));
    expect(self.code).toBe(Code.FailedPrecondition);
    expect((await admin.getUser({ id: devAccounts.seller.id }, asAdmin)).user?.email).toBe(devAccounts.seller.email);
  });

  it("when an admin erases the customer over REST, then their personal data is in no service's database, and erasing again changes nothing", async () => {
    const answer = await callRest(e2e.mesh.edgeUrl, "POST", `/v1/admin/users/${customerId}:erase`, {
      token: adminToken,
      body: { reason: "GDPR Art. 17 request" },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.user).toMatchObject({ id: customerId, email: `erased+${customerId}@invalid` });
    expect(answer.body.user.active ?? false).toBe(false);
    expect(answer.body.user.displayName ?? "").toBe("");

    // The cart goes on UserErased, a moment after the answer.
    await eventually(
      () =>
        query(e2e.mesh.mysqlUrl, e2e.mesh.env.BAZAAR_CART_DB!, "SELECT * FROM cart_lines WHERE user_id = ?", [
          customerId,
        ]),
      (lines) => lines.length === 0,
    );
    expect(await personalDataIn(personalStrings)).toEqual([]);
    // Someone else's data is still where it was: the scan would have found it.
    expect(await personalDataIn([devAccounts.customer.email], ["auth"])).toEqual([
      `auth.users.email: ${devAccounts.customer.email}`,
    ]);

    const again = await admin.eraseUser({ id: customerId, reason: "asked twice" }, asAdmin);
    expect(again.user?.email).toBe(`erased+${customerId}@invalid`);
    const { events } = await admin.listAuditEvents(
      { subjectId: customerId, eventType: "admin_action_performed" },
      asAdmin,
    );
    const erasures = await eventually(
      async () => (await admin.listAuditEvents({ subjectId: customerId, eventType: "user_erased" }, asAdmin)).events,
      (found) => found.length > 0,
    );
    expect(erasures).toHaveLength(1);
    expect(events.map((e) => [e.actorId, JSON.parse(e.payloadJson).action])).toEqual([
      [devAccounts.admin.id, "EraseUser"],
    ]);
  });

  it("after the erasure, they cannot sign in, and their tokens stop working", async () => {
    const signIn = await failureOf(auth.login({ email: person.email, password: person.password }));
    expect(signIn.code).toBe(Code.Unauthenticated);
    await eventually(
      () => failureOf(carts.getCart({}, bearer(customerToken))),
      (error) => error.code === Code.Unauthenticated,
    );
  });

  it("after the erasure, their orders are there with the same totals and no address, and the sales report has not moved", async () => {
    const { orders: listed } = await admin.listOrders({ userId: customerId }, asAdmin);
    expect(
      listed.map((o) => ({ id: o.id, total: o.total!.amountMinor })).sort((a, b) => (a.id < b.id ? -1 : 1)),
    ).toEqual([...placed].sort((a, b) => (a.id < b.id ? -1 : 1)));
    for (const order of listed) {
      expect(order.shippingAddress).toMatchObject({ recipientName: "", line1: "", phone: "", countryCode: "DE" });
      expect(order.items.length).toBeGreaterThan(0);
    }
    const after = await admin.getSalesReport(reportRange(), asAdmin);
    expect(figuresOf(after)).toEqual(figuresOf(reportBefore));
  });

  it("when the admin projections are rebuilt from the stream, then the personal data stays out and the figures stay the same", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["services/admin/rebuild.ts"], {
      cwd: root,
      env: e2e.mesh.env,
      timeout: 60_000,
    });
    expect(stdout).toMatch(/done: \d+ events replayed/);
    const report = await eventually(
      () => admin.getSalesReport(reportRange(), asAdmin),
      (r) => isDeepStrictEqual(figuresOf(r), figuresOf(reportBefore)),
    );
    expect(figuresOf(report)).toEqual(figuresOf(reportBefore));
    const { events } = await admin.listAuditEvents({ subjectId: customerId, eventType: "user_registered" }, asAdmin);
    expect(events.map((e) => e.summary)).toEqual([`user ${customerId} registered as CUSTOMER`]);
    expect(await personalDataIn(personalStrings, ["admin"])).toEqual([]);
  }, 90_000);
});
