// The reasons errors carry (google.rpc.ErrorInfo, domain "bazaar"), read by clients of every
// protocol the edge speaks: an out-of-stock checkout raised by product two hops away (edge →
// order → product), an illegal status change raised by order (and by order behind admin), and
// refusals the edge and auth make themselves. Clients branch on the reason and its metadata,
// never on the message.
import { randomUUID } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, createClient, type CallOptions, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { AuthService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { OrderService, OrderStatus, PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { ErrorInfoSchema, PreconditionFailureSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { failureOf } from "../../services/kit/testing/calls.ts";
import { callRest, type RestRequest } from "../support/rest.ts";
import { devSellerShelf, registerCustomer, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh({
  httpVersion: "1.1",
  env: {
    // Per-user limits low enough for one test to reach, high enough for every other caller here.
    BAZAAR_EDGE_RATE_PER_USER: "5",
    BAZAAR_EDGE_BURST_PER_USER: "30",
    BAZAAR_LOGIN_MAX_FAILURES_PER_ACCOUNT: "3",
  },
});
const { auth, products, carts, orders, admin } = e2e;
let asSeller: CallOptions;
let asAdmin: CallOptions;
let shelf: { shopId: string; categoryId: string };

const protocols: Array<[string, (baseUrl: string) => Transport]> = [
  ["Connect JSON", (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false })],
  ["Connect binary", (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true })],
  ["gRPC-Web", (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true })],
  ["gRPC", (baseUrl) => createGrpcTransport({ baseUrl })],
];

const address = {
  recipientName: "Ada",
  line1: "1 Reason Road",
  city: "Berlin",
  postalCode: "10999",
  countryCode: "DE",
};

beforeAll(async () => {
  const seller = await devSellerShelf(auth, products);
  asSeller = seller.asSeller;
  shelf = { shopId: seller.shopId, categoryId: seller.categoryId };
  asAdmin = await signIn(auth, devAccounts.admin);
});

/** A REST call to the edge, its answer checked against the OpenAPI document. */
async function rest(method: string, path: string, request: RestRequest = {}) {
  const answer = await callRest(e2e.mesh.edgeUrl, method, path, request);
  return { ...answer, body: answer.body as RestError };
}

interface RestError {
  code: string;
  message?: string;
  reason?: string;
  details?: Array<{ type: string; value: string; debug?: Record<string, unknown> }>;
}

/** The ErrorInfo of a REST error, decoded from its bytes, and its readable copy. */
function restErrorInfo(body: RestError) {
  const detail = body.details?.find((d) => d.type === "google.rpc.ErrorInfo");
  if (!detail) return undefined;
  const info = fromBinary(ErrorInfoSchema, Buffer.from(detail.value, "base64"));
  return { reason: info.reason, domain: info.domain, metadata: { ...info.metadata }, debug: detail.debug };
}

const tokenOf = (options: CallOptions) => new Headers(options.headers).get("authorization")!.slice("Bearer ".length);

/** A customer whose cart holds 4 units of a product that has only 2 left. */
async function shopperFacingAShortage() {
  const { product } = await products.createProduct(
    {
      product: {
        ...shelf,
        name: `Reason item ${randomUUID().slice(0, 6)}`,
        price: { currencyCode: "USD", amountMinor: 900n },
        stockOnHand: 5,
      },
    },
    asSeller,
  );
  const me = await registerCustomer(auth, "short");
  await carts.addCartItem({ productId: product!.id, quantity: 4 }, me);
  await products.adjustStock({ id: product!.id, stockOnHand: 2 }, asSeller);
  return { me, productId: product!.id };
}

/** A customer's order (cash on delivery) that an admin has shipped. */
async function shippedOrder() {
  const { product } = await products.createProduct(
    {
      product: {
        ...shelf,
        name: `Shipped item ${randomUUID().slice(0, 6)}`,
        price: { currencyCode: "USD", amountMinor: 500n },
        stockOnHand: 3,
      },
    },
    asSeller,
  );
  const me = await registerCustomer(auth, "shipped");
  await carts.addCartItem({ productId: product!.id, quantity: 1 }, me);
  const { order } = await orders.placeOrder(
    { idempotencyKey: randomUUID(), shippingAddress: address, payment: { method: PaymentMethod.CASH_ON_DELIVERY } },
    me,
  );
  expect(order!.status).toBe(OrderStatus.CONFIRMED);
  await admin.updateOrderStatus({ id: order!.id, status: OrderStatus.SHIPPED }, asAdmin);
  return { me, orderId: order!.id };
}

describe("an out-of-stock checkout", () => {
  let shortage: Awaited<ReturnType<typeof shopperFacingAShortage>>;
  beforeAll(async () => {
    shortage = await shopperFacingAShortage();
  });

  it.each(protocols)(
    "when the stock ran out before PlaceOrder, then a %s client reads OUT_OF_STOCK with the product and the figures",
    async (_, transport) => {
      const ordersOver = createClient(OrderService, transport(e2e.mesh.edgeUrl));
      const error = await failureOf(
        ordersOver.placeOrder(
          {
            idempotencyKey: randomUUID(),
            shippingAddress: address,
            payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
          },
          shortage.me,
        ),
      );
      expect(error.code).toBe(Code.FailedPrecondition);
      const [info] = error.findDetails(ErrorInfoSchema);
      expect(info).toMatchObject({
        reason: "OUT_OF_STOCK",
        domain: "bazaar",
        metadata: { product_id: shortage.productId, product_ids: shortage.productId, requested: "4", available: "2" },
      });
      // The product service's other detail comes along.
      expect(error.findDetails(PreconditionFailureSchema)[0]?.violations.map((v) => v.subject)).toEqual([
        shortage.productId,
      ]);
    },
  );

  it("when a REST client checks out, then 400 with reason OUT_OF_STOCK and the ErrorInfo among the details, readable and encoded", async () => {
    const answer = await rest("POST", "/v1/orders", {
      token: tokenOf(shortage.me),
      body: {
        idempotencyKey: randomUUID(),
        shippingAddress: address,
        payment: { method: "PAYMENT_METHOD_CARD", cardToken: "tok_visa" },
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "failed_precondition", reason: "OUT_OF_STOCK" });
    const metadata = {
      product_id: shortage.productId,
      product_ids: shortage.productId,
      requested: "4",
      available: "2",
    };
    expect(restErrorInfo(answer.body)).toEqual({
      reason: "OUT_OF_STOCK",
      domain: "bazaar",
      metadata,
      debug: { reason: "OUT_OF_STOCK", domain: "bazaar", metadata },
    });
    const preconditions = answer.body.details?.find((d) => d.type === "google.rpc.PreconditionFailure");
    expect(preconditions?.debug).toMatchObject({ violations: [{ type: "STOCK", subject: shortage.productId }] });
  });

  it("when the same key comes back with another payment, then IDEMPOTENCY_KEY_REUSED names the key and its order", async () => {
    const me = await registerCustomer(auth, "again");
    const { product } = await products.createProduct(
      { product: { ...shelf, name: "Twice", price: { currencyCode: "USD", amountMinor: 100n }, stockOnHand: 9 } },
      asSeller,
    );
    await carts.addCartItem({ productId: product!.id, quantity: 1 }, me);
    const idempotencyKey = randomUUID();
    const { order } = await orders.placeOrder(
      { idempotencyKey, shippingAddress: address, payment: { method: PaymentMethod.CASH_ON_DELIVERY } },
      me,
    );
    const error = await failureOf(
      orders.placeOrder(
        { idempotencyKey, shippingAddress: address, payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" } },
        me,
      ),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({
      reason: "IDEMPOTENCY_KEY_REUSED",
      metadata: { idempotency_key: idempotencyKey, order_id: order!.id },
    });
  });

  it("when the cart is empty, then CART_EMPTY", async () => {
    const me = await registerCustomer(auth, "empty");
    const error = await failureOf(
      orders.placeOrder(
        { idempotencyKey: randomUUID(), shippingAddress: address, payment: { method: PaymentMethod.CASH_ON_DELIVERY } },
        me,
      ),
    );
    expect([error.code, error.findDetails(ErrorInfoSchema)[0]?.reason]).toEqual([
      Code.FailedPrecondition,
      "CART_EMPTY",
    ]);
  });
});

describe("an illegal status change", () => {
  let shipped: Awaited<ReturnType<typeof shippedOrder>>;
  const transition = () => ({
    order_id: shipped.orderId,
    shop_order_id: "",
    from: "ORDER_STATUS_SHIPPED",
    to: "ORDER_STATUS_CANCELLED",
  });
  beforeAll(async () => {
    shipped = await shippedOrder();
  });

  it.each(protocols)(
    "when the buyer cancels a shipped order, then a %s client reads ILLEGAL_STATUS_TRANSITION with both states",
    async (_, transport) => {
      const ordersOver = createClient(OrderService, transport(e2e.mesh.edgeUrl));
      const error = await failureOf(ordersOver.cancelOrder({ id: shipped.orderId, reason: "too late" }, shipped.me));
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({
        reason: "ILLEGAL_STATUS_TRANSITION",
        domain: "bazaar",
        metadata: transition(),
      });
    },
  );

  it("when a REST client cancels it, then 400 with reason ILLEGAL_STATUS_TRANSITION and both states in the ErrorInfo", async () => {
    const answer = await rest("POST", `/v1/orders/${shipped.orderId}:cancel`, {
      token: tokenOf(shipped.me),
      body: { reason: "too late" },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.reason).toBe("ILLEGAL_STATUS_TRANSITION");
    expect(restErrorInfo(answer.body)?.metadata).toEqual(transition());
  });

  it("when an admin moves it backwards (edge → admin → order), then the reason arrives over gRPC and REST alike", async () => {
    const adminOverGrpc = createClient(AdminService, createGrpcTransport({ baseUrl: e2e.mesh.edgeUrl }));
    const error = await failureOf(
      adminOverGrpc.updateOrderStatus({ id: shipped.orderId, status: OrderStatus.PROCESSING }, asAdmin),
    );
    const backwards = {
      order_id: shipped.orderId,
      shop_order_id: "",
      from: "ORDER_STATUS_SHIPPED",
      to: "ORDER_STATUS_PROCESSING",
    };
    expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({
      reason: "ILLEGAL_STATUS_TRANSITION",
      metadata: backwards,
    });
    const answer = await rest("POST", `/v1/admin/orders/${shipped.orderId}:updateStatus`, {
      token: tokenOf(asAdmin),
      body: { status: "ORDER_STATUS_PROCESSING" },
    });
    expect([answer.status, answer.body.reason]).toEqual([400, "ILLEGAL_STATUS_TRANSITION"]);
    expect(restErrorInfo(answer.body)?.metadata).toEqual(backwards);
  });
});

describe("refusals of the edge and of auth", () => {
  it("when a token is forged, then TOKEN_INVALID in Connect and in REST", async () => {
    const forged = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    const error = await failureOf(auth.getMe({}, { headers: { authorization: `Bearer ${forged}` } }));
    expect([error.code, error.findDetails(ErrorInfoSchema)[0]?.reason]).toEqual([
      Code.Unauthenticated,
      "TOKEN_INVALID",
    ]);
    const answer = await rest("GET", "/v1/auth/me", { token: forged });
    expect([answer.status, answer.body.reason]).toEqual([401, "TOKEN_INVALID"]);
  });

  it("when a user exceeds their rate at the edge, then RATE_LIMITED with scope user and the wait, in gRPC and in REST", async () => {
    const me = await registerCustomer(auth, "hasty");
    const overGrpc = createClient(AuthService, createGrpcTransport({ baseUrl: e2e.mesh.edgeUrl }));
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, () => failureOf(overGrpc.getMe({}, me)).catch(() => undefined)),
    );
    const refused = outcomes.find((error) => error !== undefined);
    expect(refused?.code).toBe(Code.ResourceExhausted);
    const info = refused!.findDetails(ErrorInfoSchema)[0];
    expect(info?.reason).toBe("RATE_LIMITED");
    expect(info?.metadata.scope).toBe("user");
    expect(Number(info?.metadata.retry_after_seconds)).toBeGreaterThanOrEqual(1);
    expect(refused!.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBeGreaterThanOrEqual(1n);
    // A burst again, not one call: on a loaded box the bucket may have refilled a token or two
    // (5 per second) since the gRPC burst ended.
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => rest("GET", "/v1/auth/me", { token: tokenOf(me) })),
    );
    const refusedRest = answers.find((answer) => answer.status !== 200);
    expect([refusedRest?.status, refusedRest?.body.reason]).toEqual([429, "RATE_LIMITED"]);
  });

  it("when sign-ins keep failing, then INVALID_CREDENTIALS, then auth's RATE_LIMITED with scope sign_in and RetryInfo", async () => {
    const email = `throttled-${randomUUID().slice(0, 8)}@example.test`;
    await auth.register({ email, password: "right-password", displayName: "Target" });
    const wrong = await failureOf(auth.login({ email, password: "wrong-password" }));
    expect(wrong.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_CREDENTIALS");
    for (let i = 0; i < 2; i++) await failureOf(auth.login({ email, password: `guess-${i}` }));
    const answer = await rest("POST", "/v1/auth/login", { body: { email, password: "right-password" } });
    expect([answer.status, answer.body.reason]).toEqual([429, "RATE_LIMITED"]);
    expect(restErrorInfo(answer.body)?.metadata.scope).toBe("sign_in");
    expect(answer.headers.get("retry-after")).toBe(restErrorInfo(answer.body)?.metadata.retry_after_seconds);
    expect(answer.body.details?.map((d) => d.type)).toEqual(["google.rpc.ErrorInfo", "google.rpc.RetryInfo"]);
  });
});
