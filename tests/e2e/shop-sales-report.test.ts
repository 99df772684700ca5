// A seller's sales report of their own shop, against the real mesh: orders from two shops, some
// cancelled (by the buyer, by an admin, by a failed payment, with its whole order), one accepted
// by its shop; each seller's report equals direct sums over the order service's database, a
// rebuild of the admin projections reproduces it, and no one else reads it (another seller is
// told the shop is not theirs, as ListShopOrders tells them).
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual, promisify } from "node:util";
import { Code } from "@connectrpc/connect";
import { createConnection } from "mysql2/promise";
import { beforeAll, describe, expect, it } from "vitest";
import type { GetShopSalesReportResponse } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import {
  OrderStatus,
  PaymentMethod,
  ShopOrderStatus,
  ShopOrderStatusSchema,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { errorInfoOf } from "../../services/kit/error-info.ts";
import { bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { callRest } from "../support/rest.ts";
import { devSellerShelf, registerCustomer, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const e2e = useMesh();
const { auth, admin, carts, orders, products, shops, shopOrders } = e2e;

interface SellerWithShop {
  id: string;
  token: string;
  options: ReturnType<typeof bearer>;
  shopId: string;
}
let sellerA: SellerWithShop;
let sellerB: SellerWithShop;
let asAdmin: ReturnType<typeof bearer>;
let asCustomer: ReturnType<typeof bearer>;
let categoryId = "";
const productsOf: Record<"a1" | "a2" | "b1", string> = { a1: "", a2: "", b1: "" };

async function sellerWithShop(label: string): Promise<SellerWithShop> {
  const { tokens, user } = await auth.register({
    email: `report-${label}-${randomBytes(4).toString("hex")}@example.test`,
    password: "password-123",
    displayName: `Seller ${label}`,
    role: Role.SELLER,
  });
  const options = bearer(tokens!.accessToken);
  const { shop } = await shops.createShop(
    {
      shop: {
        name: `Report shop ${label}`,
        description: "Sells things for the report test",
        address: { line1: "1 Report Street", city: "Berlin", countryCode: "DE" },
        location: { latitude: 52.52, longitude: 13.405 },
      },
    },
    options,
  );
  return { id: user!.id, token: tokens!.accessToken, options, shopId: shop!.id };
}

async function newProduct(seller: SellerWithShop, cents: bigint) {
  const { product } = await products.createProduct(
    {
      product: {
        shopId: seller.shopId,
        categoryId,
        name: `Report item ${randomBytes(3).toString("hex")}`,
        price: { currencyCode: "USD", amountMinor: cents },
        stockOnHand: 100,
      },
    },
    seller.options,
  );
  return product!.id;
}

beforeAll(async () => {
  asAdmin = await signIn(auth, devAccounts.admin);
  asCustomer = await signIn(auth, devAccounts.customer);
  ({ categoryId } = await devSellerShelf(auth, products));
  sellerA = await sellerWithShop("a");
  sellerB = await sellerWithShop("b");
  productsOf.a1 = await newProduct(sellerA, 500n);
  productsOf.a2 = await newProduct(sellerA, 1_234n);
  productsOf.b1 = await newProduct(sellerB, 999n);
});

const address = { recipientName: "R", line1: "3 Report St", city: "Berlin", postalCode: "10115", countryCode: "DE" };

/** A new buyer checks out the given lines; returns the order as checkout answered it. */
async function checkout(lines: Array<[keyof typeof productsOf, number]>, cardToken = "tok_visa") {
  const buyer = await registerCustomer(auth, "report-buyer");
  for (const [product, quantity] of lines) await carts.addCartItem({ productId: productsOf[product], quantity }, buyer);
  const payment = cardToken ? { method: PaymentMethod.CARD, cardToken } : { method: PaymentMethod.CASH_ON_DELIVERY };
  const { order } = await orders.placeOrder({ idempotencyKey: randomUUID(), shippingAddress: address, payment }, buyer);
  return { order: order!, buyer };
}

/** What the test compares: every figure of the report but the zero days. */
function figuresOf(report: GetShopSalesReportResponse) {
  return {
    days: report.days
      .filter((d) => d.orderCount > 0)
      .map((d) => [d.day, d.revenue!.amountMinor, d.units, d.orderCount]),
    byStatus: Object.fromEntries(
      report.shopOrdersByStatus.map((s) => [ShopOrderStatusSchema.value[s.status]!.localName, s.count]),
    ),
    top: report.topProducts.map((p) => [p.productId, p.quantity, p.revenue!.amountMinor]),
    totals: [report.totalRevenue!.amountMinor, report.totalUnits, report.totalOrders],
    cancellation: [report.placedShopOrders, report.cancelledShopOrders, report.cancellationRate],
  };
}

/**
 * The same figures straight from the order service's database: shop orders that were placed
 * (reached CONFIRMED), revenue from their subtotals, units from their lines, sales being those
 * not cancelled since.
 */
async function directSums(shopId: string) {
  const connection = await createConnection({
    uri: e2e.mesh.mysqlUrl,
    database: e2e.mesh.env.BAZAAR_ORDER_DB,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  const placed = `so.shop_id = ? AND EXISTS (SELECT 1 FROM shop_order_status_history h
    WHERE h.shop_order_id = so.id AND h.status = 'CONFIRMED')`;
  const selling = `so.status IN ('CONFIRMED','PROCESSING','SHIPPED','DELIVERED')`;
  try {
    const [days] = (await connection.query(
      `SELECT DATE_FORMAT(so.create_time, '%Y-%m-%d') AS day, SUM(so.subtotal_minor) AS revenue,
         SUM((SELECT SUM(l.quantity) FROM order_lines l WHERE l.order_id = so.order_id AND l.shop_id = so.shop_id)) AS units,
         COUNT(*) AS n
       FROM shop_orders so WHERE ${placed} AND ${selling} GROUP BY day ORDER BY day`,
      [shopId],
    )) as any;
    const [statuses] = (await connection.query(
      `SELECT so.status, COUNT(*) AS n FROM shop_orders so WHERE ${placed} GROUP BY so.status ORDER BY so.status`,
      [shopId],
    )) as any;
    const [top] = (await connection.query(
      `SELECT l.product_id, SUM(l.quantity) AS quantity, SUM(l.line_total_minor) AS revenue
       FROM order_lines l JOIN shop_orders so ON so.order_id = l.order_id AND so.shop_id = l.shop_id
       WHERE ${placed} AND ${selling}
       GROUP BY l.product_id ORDER BY revenue DESC, l.product_id LIMIT 10`,
      [shopId],
    )) as any;
    const byStatus = Object.fromEntries(statuses.map((row: any) => [row.status, Number(row.n)]));
    const placedCount = statuses.reduce((sum: number, row: any) => sum + Number(row.n), 0);
    const cancelled = byStatus.CANCELLED ?? 0;
    const dayRows = days.map((row: any) => [row.day, BigInt(row.revenue), BigInt(row.units), Number(row.n)]);
    return {
      days: dayRows,
      byStatus,
      top: top.map((row: any) => [row.product_id, BigInt(row.quantity), BigInt(row.revenue)]),
      totals: [
        dayRows.reduce((sum: bigint, d: any) => sum + d[1], 0n),
        dayRows.reduce((sum: bigint, d: any) => sum + d[2], 0n),
        dayRows.reduce((sum: number, d: any) => sum + d[3], 0),
      ],
      cancellation: [placedCount, cancelled, placedCount === 0 ? 0 : cancelled / placedCount],
    };
  } finally {
    await connection.end();
  }
}

describe("a shop's sales report", () => {
  it("when orders from two shops are placed, accepted, shipped and cancelled, then each seller's report equals direct sums over the orders database, and a rebuild reproduces it", async () => {
    // 1: both shops, stays confirmed. Its OrderPlaced names both shop orders, as checkout split it.
    const kept = await checkout([
      ["a1", 2],
      ["b1", 1],
    ]);
    const [placedEvent] = (
      await eventually(
        () => admin.listAuditEvents({ subjectId: kept.order.id, eventType: "order_placed" }, asAdmin),
        ({ events }) => events.length > 0,
      )
    ).events;
    expect(JSON.parse(placedEvent!.payloadJson).shopOrders).toEqual(
      kept.order.shopOrders.map((s) => ({
        shopOrderId: s.id,
        shopId: s.shopId,
        sellerId: s.sellerId,
        subtotal: { currencyCode: "USD", amountMinor: String(s.subtotal!.amountMinor) },
      })),
    );
    // 2: both shops, cash on delivery, shipped whole by an admin.
    const shipped = await checkout(
      [
        ["a2", 1],
        ["b1", 2],
      ],
      "",
    );
    await admin.updateOrderStatus({ id: shipped.order.id, status: OrderStatus.SHIPPED, note: "DHL 1" }, asAdmin);
    // 3: shop A only, cancelled by its buyer.
    const regretted = await checkout([["a1", 1]]);
    await orders.cancelOrder({ id: regretted.order.id, reason: "changed my mind" }, regretted.buyer);
    // 4: both shops, cancelled whole by an admin.
    const stopped = await checkout([
      ["a2", 3],
      ["b1", 1],
    ]);
    await admin.updateOrderStatus({ id: stopped.order.id, status: OrderStatus.CANCELLED, note: "fraud" }, asAdmin);
    // 5: declined at checkout: never placed, never in the report.
    const declined = await checkout([["a1", 4]], "tok_chargeDeclined");
    expect(declined.order.status).toBe(OrderStatus.PAYMENT_FAILED);
    // 6: both shops; shop A accepts its part, shop B's stays confirmed.
    const accepted = await checkout([
      ["a1", 1],
      ["a2", 1],
      ["b1", 3],
    ]);
    const partOfA = accepted.order.shopOrders.find((s) => s.shopId === sellerA.shopId)!;
    expect((await shopOrders.acceptShopOrder({ id: partOfA.id }, sellerA.options)).shopOrder!.status).toBe(
      ShopOrderStatus.PROCESSING,
    );

    const reports: Record<string, GetShopSalesReportResponse> = {};
    for (const seller of [sellerA, sellerB]) {
      const expected = await directSums(seller.shopId);
      const report = await eventually(
        () => admin.getShopSalesReport({ shopId: seller.shopId }, seller.options),
        (r) => isDeepStrictEqual(figuresOf(r), expected),
        10_000,
      );
      expect(figuresOf(report)).toEqual(expected);
      reports[seller.shopId] = report;
    }
    // The figures by hand for shop A: orders 1, 2 and 6 sell (a1 × 3, a2 × 2); 3 and 4 cancelled.
    expect(figuresOf(reports[sellerA.shopId]!)).toMatchObject({
      totals: [2n * 500n + 1_234n + 500n + 1_234n, 5n, 3],
      byStatus: { CONFIRMED: 1, SHIPPED: 1, PROCESSING: 1, CANCELLED: 2 },
      cancellation: [5, 2, 0.4],
    });
    expect(figuresOf(reports[sellerB.shopId]!).byStatus).toEqual({ CONFIRMED: 2, SHIPPED: 1, CANCELLED: 1 });
    // An admin reads any shop's report, the same as its seller does.
    expect(await admin.getShopSalesReport({ shopId: sellerB.shopId }, asAdmin)).toEqual(reports[sellerB.shopId]);

    const { stdout } = await promisify(execFile)(process.execPath, ["services/admin/rebuild.ts"], {
      cwd: root,
      env: e2e.mesh.env,
      timeout: 60_000,
    });
    expect(stdout).toMatch(/done: \d+ events replayed/);
    for (const seller of [sellerA, sellerB])
      expect(await admin.getShopSalesReport({ shopId: seller.shopId }, seller.options)).toEqual(reports[seller.shopId]);
  }, 120_000);

  it("when another seller, a customer or an anonymous caller asks for a shop's report, then permission_denied (SHOP_NOT_OWNED for the seller) or unauthenticated; an unknown shop is not_found", async () => {
    const theirs = await failureOf(admin.getShopSalesReport({ shopId: sellerA.shopId }, sellerB.options));
    expect([theirs.code, errorInfoOf(theirs)]).toEqual([
      Code.PermissionDenied,
      { reason: "SHOP_NOT_OWNED", metadata: { shop_id: sellerA.shopId } },
    ]);
    const unknown = await failureOf(admin.getShopSalesReport({ shopId: randomUUID() }, sellerA.options));
    expect(unknown.code).toBe(Code.NotFound);
    const customer = await failureOf(admin.getShopSalesReport({ shopId: sellerA.shopId }, asCustomer));
    expect(customer.code).toBe(Code.PermissionDenied);
    const anonymous = await failureOf(admin.getShopSalesReport({ shopId: sellerA.shopId }));
    expect(anonymous.code).toBe(Code.Unauthenticated);
  });

  it("when the seller asks over REST for a range, then the documented answer covers exactly those days; a bad range names its field", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const weekAgo = new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10);
    const path = `/v1/shops/${sellerA.shopId}/sales-report`;
    const rest = await callRest(e2e.mesh.edgeUrl, "GET", `${path}?from_date=${weekAgo}&toDate=${today}`, {
      token: sellerA.token,
    });
    expect(rest.status).toBe(200);
    expect([rest.body.fromDate, rest.body.toDate, rest.body.days.length]).toEqual([weekAgo, today, 7]);
    const viaConnect = await admin.getShopSalesReport({ shopId: sellerA.shopId }, sellerA.options);
    expect(rest.body.totalRevenue.amountMinor).toBe(String(viaConnect.totalRevenue!.amountMinor));

    const backwards = await callRest(e2e.mesh.edgeUrl, "GET", `${path}?from_date=${today}&to_date=${weekAgo}`, {
      token: sellerA.token,
    });
    expect([backwards.status, backwards.body.code]).toEqual([400, "invalid_argument"]);
    expect(backwards.body.message).toMatch(/^to_date: /);
    const another = await callRest(e2e.mesh.edgeUrl, "GET", path, { token: sellerB.token });
    expect([another.status, another.body.code, another.body.reason]).toEqual([
      403,
      "permission_denied",
      "SHOP_NOT_OWNED",
    ]);
    const nobody = await callRest(e2e.mesh.edgeUrl, "GET", path);
    expect(nobody.status).toBe(401);
  });
});
