// Every public RPC through the edge, over every protocol the edge speaks. The methods come from
// the six public services' descriptors, so a new RPC is called here without anyone listing it,
// and the test fails until the table below says what that RPC must answer. Each expectation
// asks for an answer only the method's own backend handler can give: the record requested, the
// handler's error naming the id it was given, or protovalidate's violation naming the field.
// Internal services have no route on any protocol, and reads answer Connect GET as well.
import { randomBytes, randomUUID } from "node:crypto";
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  create,
  type DescMethod,
  type DescMethodStreaming,
  type DescMethodUnary,
  type DescService,
} from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, type CallOptions, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { decodeProtectedHeader } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { AuthService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { NotificationService } from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { CartService } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import {
  OrderService,
  OrderStatus,
  PaymentMethod,
  ShopOrderService,
  ShopOrderStatus,
  type Order,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import { ImageSlot, MediaService } from "../../gen/bazaar/product/v1/media_pb.ts";
import { ProductService, ShopService, type Product, type Shop } from "../../gen/bazaar/product/v1/product_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { failureOf } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { devSellerShelf, registerCustomer, signIn } from "../support/shoppers.ts";
import { publicClients, type PublicClients, useMesh } from "../support/use-mesh.ts";

const publicServices = [
  AuthService,
  ProductService,
  ShopService,
  MediaService,
  CartService,
  OrderService,
  ShopOrderService,
  AdminService,
  NotificationService,
];
const publicMethods = publicServices.flatMap((service) =>
  service.methods.map((method) => ({ key: `${service.name}/${method.name}`, method })),
);

/** Every other service generated from proto/: the mesh's internal APIs, health, reflection. */
async function internalServices(): Promise<DescService[]> {
  const gen = fileURLToPath(new URL("../../gen/", import.meta.url));
  const files = (await readdir(gen, { recursive: true })).filter((file) => file.endsWith("_pb.ts"));
  const modules: Array<Record<string, unknown>> = await Promise.all(files.map((file) => import(`${gen}${file}`)));
  const publicNames = new Set(publicServices.map((service) => service.typeName));
  return modules
    .flatMap((exports) => Object.values(exports))
    .filter((value): value is DescService => (value as DescService | undefined)?.kind === "service")
    .filter((service) => !publicNames.has(service.typeName));
}
const internalMethods = (await internalServices()).flatMap((service) =>
  service.methods.map((method) => ({ path: `${service.typeName}/${method.name}`, method })),
);

type Clients = PublicClients;
const clientsOver = publicClients;

/** What beforeAll set up once for the whole file; expectations only read it. */
interface World {
  /** The dev accounts, each signed in once: Login is throttled per account and per address. */
  asCustomer: CallOptions & { headers: { authorization: string } };
  asSeller: CallOptions;
  asAdmin: CallOptions;
  /** A new customer with exactly one order. */
  buyer: CallOptions & { id: string };
  /** A new customer with two units of `product` in a cart nothing else touches. */
  shopper: CallOptions;
  /** The dev seller's product made for this file; its name holds `searchWord`. */
  product: Product;
  searchWord: string;
  /** The shop `product` is sold in. */
  shop: Shop;
  /** The buyer's order. */
  order: Order;
}

type Expectation = (clients: Clients, world: World) => Promise<void>;

/** An id nothing has: uploads and images are looked up by it and not found. */
const unknownId = "0193a000-0000-7000-8000-00000000beef";

const address = {
  recipientName: "Edge",
  line1: "1 Protocol Lane",
  city: "Berlin",
  postalCode: "10115",
  countryCode: "DE",
};

/** The call fails with this code and exactly this message, as the backend handler words it. */
async function expectFailure(call: Promise<unknown>, code: Code, rawMessage: string): Promise<void> {
  const error = await failureOf(call);
  expect([Code[error.code], error.rawMessage]).toEqual([Code[code], rawMessage]);
}

/** The call fails with INVALID_ARGUMENT whose protovalidate details name `field`. */
async function expectViolation(call: Promise<unknown>, field: string): Promise<void> {
  const error = await failureOf(call);
  expect(Code[error.code], error.message).toBe(Code[Code.InvalidArgument]);
  const fields = error
    .findDetails(ViolationsSchema)
    .flatMap((details) => details.violations)
    .map((violation) => violation.field?.elements.map((element) => element.fieldName).join("."));
  expect(fields, error.message).toContain(field);
}

/** The call fails with this code, whatever the backend's words (streams and checks worded elsewhere). */
async function expectCode(call: Promise<unknown>, code: Code): Promise<void> {
  const error = await failureOf(call);
  expect(Code[error.code], error.message).toBe(Code[code]);
}

const expectations: Record<string, Expectation> = {
  // Account mails are rate limited per client: the protocols meet the handler's validation instead.
  "AuthService/RequestPasswordReset": ({ auth }) => expectViolation(auth.requestPasswordReset({ email: "" }), "email"),
  "AuthService/ResetPassword": ({ auth }) =>
    expectViolation(auth.resetPassword({ token: "", newPassword: "password-123" }), "token"),
  // Signed in only: anonymous is refused by the auth service's rule, not by the edge.
  "AuthService/RequestEmailVerification": ({ auth }) =>
    expectCode(auth.requestEmailVerification({}), Code.Unauthenticated),
  "AuthService/VerifyEmail": ({ auth }) => expectViolation(auth.verifyEmail({ token: "" }), "token"),
  "NotificationService/ListNotifications": async ({ notifications }, w) => {
    const { notifications: page } = await notifications.listNotifications({ pageSize: 5 }, w.asCustomer);
    expect(page.length).toBeLessThanOrEqual(5);
  },
  // Another user's (here: nobody's) id marks nothing.
  "NotificationService/MarkNotificationsRead": async ({ notifications }, w) => {
    const { markedCount } = await notifications.markNotificationsRead({ ids: [randomUUID()] }, w.asCustomer);
    expect(markedCount).toBe(0);
  },
  "NotificationService/GetUnreadCount": async ({ notifications }, w) => {
    const { unreadCount } = await notifications.getUnreadCount({}, w.asCustomer);
    expect(unreadCount).toBeGreaterThanOrEqual(0);
  },
  // A resume token not from WatchNotifications is refused before the stream starts.
  "NotificationService/WatchNotifications": async ({ notifications }, w) => {
    const abort = new AbortController();
    try {
      await expectCode(
        (async () => {
          for await (const _ of notifications.watchNotifications(
            { resumeToken: "not-a-token" },
            { ...w.asCustomer, signal: abort.signal, timeoutMs: 10_000 },
          ))
            return;
        })(),
        Code.InvalidArgument,
      );
    } finally {
      abort.abort();
    }
  },
  "NotificationService/GetNotificationPreferences": async ({ notifications }, w) => {
    const { preferences } = await notifications.getNotificationPreferences({}, w.asCustomer);
    expect(preferences.length).toBeGreaterThan(0);
  },
  "NotificationService/UpdateNotificationPreferences": ({ notifications }, w) =>
    expectViolation(notifications.updateNotificationPreferences({ preferences: [] }, w.asCustomer), "preferences"),
  "AuthService/Register": async ({ auth }) => {
    const email = `edge-${randomBytes(5).toString("hex")}@example.test`;
    const { user, tokens } = await auth.register({ email, password: "password-123", displayName: "Edge" });
    expect([user!.email, user!.role]).toEqual([email, Role.CUSTOMER]);
    expect(tokens!.accessToken).not.toBe("");
  },
  // An e-mail nobody has: failed sign-ins count against that account's throttle, so the dev
  // accounts' budget stays for beforeAll.
  "AuthService/Login": ({ auth }) =>
    expectFailure(
      auth.login({ email: `nobody-${randomBytes(5).toString("hex")}@example.test`, password: "wrong-password" }),
      Code.Unauthenticated,
      "e-mail or password is wrong",
    ),
  "AuthService/RefreshToken": ({ auth }) =>
    expectFailure(
      auth.refreshToken({ refreshToken: "not-a-refresh-token" }),
      Code.Unauthenticated,
      "refresh token is invalid, expired or already used",
    ),
  "AuthService/Logout": ({ auth }) => expectViolation(auth.logout({ refreshToken: "" }), "refresh_token"),
  "AuthService/GetMe": async ({ auth }, w) => {
    expect((await auth.getMe({}, w.asCustomer)).user!.email).toBe(devAccounts.customer.email);
  },
  "AuthService/UpdateMe": async ({ auth }, w) => {
    const { user } = await auth.updateMe(
      { user: { phone: "+49 30 1234567" }, updateMask: { paths: ["phone"] } },
      w.asCustomer,
    );
    expect([user!.id, user!.phone]).toEqual([devAccounts.customer.id, "+49 30 1234567"]);
  },
  // Refused by validation on purpose: a real change would end the customer's other sessions,
  // the token every other expectation uses among them.
  "AuthService/ChangePassword": ({ auth }, w) =>
    expectViolation(
      auth.changePassword({ currentPassword: devAccounts.customer.password, newPassword: "short" }, w.asCustomer),
      "new_password",
    ),
  "AuthService/GetJwks": async ({ auth }, w) => {
    const { keys } = JSON.parse((await auth.getJwks({})).jwksJson) as { keys: Array<{ kid: string }> };
    const { kid } = decodeProtectedHeader(w.asCustomer.headers.authorization.replace("Bearer ", ""));
    expect(keys.map((key) => key.kid)).toContain(kid);
  },

  "ProductService/ListProducts": async ({ products }) => {
    const page = await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 3 });
    expect(page.products.map((product) => product.sellerId)).toEqual(Array(3).fill(devAccounts.seller.id));
  },
  "ProductService/SearchProducts": async ({ products }, w) => {
    expect((await products.searchProducts({ query: w.searchWord })).products.map((product) => product.id)).toEqual([
      w.product.id,
    ]);
  },
  "ProductService/GetProduct": async ({ products }, w) => {
    expect((await products.getProduct({ id: w.product.id })).product).toMatchObject({
      id: w.product.id,
      name: w.product.name,
    });
  },
  "ProductService/BatchGetProducts": async ({ products }, w) => {
    const unknown = randomUUID();
    const response = await products.batchGetProducts({ ids: [w.product.id, unknown] });
    expect([response.products.map((product) => product.id), response.missingIds]).toEqual([[w.product.id], [unknown]]);
  },
  "ProductService/CreateProduct": async ({ products }, w) => {
    const { product } = await products.createProduct(
      {
        product: {
          shopId: w.shop.id,
          categoryId: w.product.categoryId,
          name: "Teapot",
          price: { currencyCode: "USD", amountMinor: 1200n },
          stockOnHand: 3,
        },
      },
      w.asSeller,
    );
    expect(product).toMatchObject({
      name: "Teapot",
      shopId: w.shop.id,
      sellerId: devAccounts.seller.id,
      stockOnHand: 3,
    });
  },
  "ProductService/UpdateProduct": async ({ products }, w) => {
    const description = "Boils a litre in three minutes.";
    const { product } = await products.updateProduct(
      { product: { id: w.product.id, description }, updateMask: { paths: ["description"] } },
      w.asSeller,
    );
    expect([product!.id, product!.description]).toEqual([w.product.id, description]);
  },
  "ProductService/DeleteProduct": ({ products }, w) => {
    const id = randomUUID();
    return expectFailure(products.deleteProduct({ id }, w.asSeller), Code.NotFound, `product ${id} not found`);
  },
  "ProductService/AdjustStock": async ({ products }, w) => {
    const { product } = await products.adjustStock({ id: w.product.id, stockOnHand: 40 }, w.asSeller);
    expect([product!.id, product!.stockOnHand]).toEqual([w.product.id, 40]);
  },
  "ProductService/ListCategories": async ({ products }, w) => {
    expect((await products.listCategories({})).categories.map((category) => category.id)).toContain(
      w.product.categoryId,
    );
  },
  "ProductService/CreateCategory": ({ products }, w) =>
    expectViolation(
      products.createCategory({ category: { name: "Edge Cases", slug: "Edge Cases" } }, w.asAdmin),
      "category.slug",
    ),

  "ShopService/CreateShop": ({ shops }, w) =>
    expectViolation(
      shops.createShop(
        { shop: { name: "x".repeat(121), address: w.shop.address, location: w.shop.location } },
        w.asSeller,
      ),
      "shop.name",
    ),
  "ShopService/GetShop": async ({ shops }, w) => {
    expect((await shops.getShop({ id: w.shop.id })).shop).toMatchObject({
      id: w.shop.id,
      sellerId: devAccounts.seller.id,
    });
  },
  "ShopService/UpdateShop": ({ shops }, w) =>
    expectViolation(
      shops.updateShop({ shop: { id: w.shop.id }, updateMask: { paths: ["seller_id"] } }, w.asSeller),
      "update_mask",
    ),
  "ShopService/ListShops": async ({ shops }, w) => {
    const { shops: nearby } = await shops.listShops({ location: w.shop.location, radiusKm: 1 });
    expect(nearby.map((found) => found.shop!.id)).toContain(w.shop.id);
  },

  "MediaService/CreateImageUpload": ({ media }, w) =>
    expectViolation(
      media.createImageUpload(
        { slot: ImageSlot.PRODUCT_GALLERY, ownerId: w.product.id, contentType: "text/plain", sizeBytes: 10n },
        w.asSeller,
      ),
      "content_type",
    ),
  "MediaService/ConfirmImageUpload": ({ media }, w) =>
    expectFailure(
      media.confirmImageUpload({ uploadId: unknownId }, w.asSeller),
      Code.NotFound,
      `upload ${unknownId} not found`,
    ),
  "MediaService/ReorderProductImages": ({ media }, w) =>
    expectFailure(
      media.reorderProductImages({ productId: w.product.id, imageIds: [unknownId] }, w.asSeller),
      Code.InvalidArgument,
      "image_ids: name each of the product's 0 pictures once ()",
    ),
  "MediaService/UpdateProductImage": ({ media }, w) =>
    expectFailure(
      media.updateProductImage({ productId: w.product.id, imageId: unknownId, altText: "x" }, w.asSeller),
      Code.NotFound,
      `image ${unknownId} not found`,
    ),
  "MediaService/DeleteProductImage": ({ media }, w) =>
    expectFailure(
      media.deleteProductImage({ productId: w.product.id, imageId: unknownId }, w.asSeller),
      Code.NotFound,
      `image ${unknownId} not found`,
    ),
  "MediaService/DeleteShopImage": ({ media }, w) =>
    expectViolation(media.deleteShopImage({ shopId: w.shop.id, slot: ImageSlot.PRODUCT_GALLERY }, w.asSeller), "slot"),

  "CartService/GetCart": async ({ carts }, w) => {
    const { cart } = await carts.getCart({}, w.shopper);
    expect(cart!.items.map((item) => [item.productId, item.quantity])).toEqual([[w.product.id, 2]]);
  },
  "CartService/AddCartItem": async ({ carts }, w) => {
    const { cart } = await carts.addCartItem({ productId: w.product.id, quantity: 1 }, w.asCustomer);
    expect(cart!.items.find((item) => item.productId === w.product.id)?.name).toBe(w.product.name);
  },
  "CartService/UpdateCartItem": ({ carts }, w) =>
    expectViolation(carts.updateCartItem({ productId: w.product.id, quantity: 0 }, w.asCustomer), "quantity"),
  "CartService/RemoveCartItem": ({ carts }, w) => {
    const productId = randomUUID();
    return expectFailure(
      carts.removeCartItem({ productId }, w.asCustomer),
      Code.NotFound,
      `product ${productId} is not in the cart`,
    );
  },
  "CartService/ClearCart": async ({ carts }, w) => {
    expect((await carts.clearCart({}, w.asCustomer)).cart).toMatchObject({ items: [], totalItems: 0 });
  },

  "OrderService/PlaceOrder": ({ orders }, w) =>
    expectViolation(
      orders.placeOrder(
        { idempotencyKey: "short", shippingAddress: address, payment: { method: PaymentMethod.CASH_ON_DELIVERY } },
        w.buyer,
      ),
      "idempotency_key",
    ),
  "OrderService/ListOrders": async ({ orders }, w) => {
    expect((await orders.listOrders({}, w.buyer)).orders.map((order) => order.id)).toEqual([w.order.id]);
  },
  "OrderService/GetOrder": async ({ orders }, w) => {
    expect((await orders.getOrder({ id: w.order.id }, w.buyer)).order).toMatchObject({
      id: w.order.id,
      userId: w.buyer.id,
      status: OrderStatus.CONFIRMED,
    });
  },
  "ShopOrderService/ListShopOrders": async ({ shopOrders }, w) => {
    const { shopOrders: listed } = await shopOrders.listShopOrders({ shopId: w.shop.id, pageSize: 100 }, w.asSeller);
    expect(listed.map((shopOrder) => shopOrder.orderId)).toContain(w.order.id);
  },
  "ShopOrderService/GetShopOrder": async ({ shopOrders }, w) => {
    const id = w.order.shopOrders[0]!.id;
    expect((await shopOrders.getShopOrder({ id }, w.asSeller)).shopOrder).toMatchObject({
      id,
      orderId: w.order.id,
      shopId: w.shop.id,
      status: ShopOrderStatus.CONFIRMED,
    });
  },
  // A random id: the world's shop order stays CONFIRMED for the other expectations and protocols.
  "ShopOrderService/AcceptShopOrder": ({ shopOrders }, w) => {
    const id = randomUUID();
    return expectFailure(shopOrders.acceptShopOrder({ id }, w.asSeller), Code.NotFound, `shop order ${id} not found`);
  },
  "ShopOrderService/ShipShopOrder": ({ shopOrders }, w) => {
    const id = randomUUID();
    const shipment = { carrier: "DHL", trackingNumber: "T1" };
    return expectFailure(
      shopOrders.shipShopOrder({ id, ...shipment }, w.asSeller),
      Code.NotFound,
      `shop order ${id} not found`,
    );
  },
  "ShopOrderService/DeliverShopOrder": ({ shopOrders }, w) => {
    const id = randomUUID();
    return expectFailure(shopOrders.deliverShopOrder({ id }, w.asSeller), Code.NotFound, `shop order ${id} not found`);
  },
  "ShopOrderService/CancelShopOrder": ({ shopOrders }, w) => {
    const id = randomUUID();
    return expectFailure(
      shopOrders.cancelShopOrder({ id, reason: "cannot supply" }, w.asSeller),
      Code.NotFound,
      `shop order ${id} not found`,
    );
  },
  // The shop's order was placed before the watch opens: since_time replays it at once.
  "ShopOrderService/WatchShopOrders": async ({ shopOrders }, w) => {
    const abort = new AbortController();
    const sinceTime = timestampFromDate(new Date(Date.now() - 3_600_000));
    try {
      for await (const update of shopOrders.watchShopOrders(
        { shopId: w.shop.id, sinceTime },
        { ...w.asSeller, signal: abort.signal, timeoutMs: 10_000 },
      )) {
        expect(update.shopOrder!.shopId).toBe(w.shop.id);
        expect(update.resumeToken).not.toBe("");
        return;
      }
      throw new Error("the stream ended without an update");
    } finally {
      abort.abort();
    }
  },
  "OrderService/CancelOrder": ({ orders }, w) => {
    const id = randomUUID();
    return expectFailure(orders.cancelOrder({ id }, w.buyer), Code.NotFound, `order ${id} not found`);
  },
  // The order was placed before the watch opens: since_time replays it, so the first update
  // comes at once. The abort ends the stream; leaving the loop alone would not, as connect-es'
  // stream iterator has no return().
  "OrderService/WatchOrders": async ({ orders }, w) => {
    const abort = new AbortController();
    const sinceTime = timestampFromDate(new Date(Date.now() - 3_600_000));
    try {
      for await (const update of orders.watchOrders(
        { sinceTime },
        { ...w.buyer, signal: abort.signal, timeoutMs: 10_000 },
      )) {
        expect(update.order!.id).toBe(w.order.id);
        expect(update.resumeToken).not.toBe("");
        return;
      }
      throw new Error("the stream ended without an update");
    } finally {
      abort.abort();
    }
  },

  "AdminService/ListUsers": async ({ admin }, w) => {
    expect(
      (await admin.listUsers({ query: devAccounts.customer.email }, w.asAdmin)).users.map((user) => user.id),
    ).toEqual([devAccounts.customer.id]);
  },
  "AdminService/GetUser": async ({ admin }, w) => {
    expect((await admin.getUser({ id: devAccounts.customer.id }, w.asAdmin)).user!.email).toBe(
      devAccounts.customer.email,
    );
  },
  // An admin's own account is refused before anything changes.
  "AdminService/SetUserRole": ({ admin }, w) =>
    expectFailure(
      admin.setUserRole({ id: devAccounts.admin.id, role: Role.CUSTOMER }, w.asAdmin),
      Code.FailedPrecondition,
      "id: an admin cannot change their own role",
    ),
  "AdminService/SetUserActive": ({ admin }, w) =>
    expectFailure(
      admin.setUserActive({ id: devAccounts.admin.id, active: false }, w.asAdmin),
      Code.FailedPrecondition,
      "id: an admin cannot deactivate or reactivate their own account",
    ),
  "AdminService/EraseUser": ({ admin }, w) =>
    expectFailure(
      admin.eraseUser({ id: devAccounts.admin.id, reason: "asked" }, w.asAdmin),
      Code.FailedPrecondition,
      "id: an admin cannot erase their own account",
    ),
  "AdminService/ListOrders": async ({ admin }, w) => {
    expect((await admin.listOrders({ userId: w.buyer.id }, w.asAdmin)).orders.map((order) => order.id)).toEqual([
      w.order.id,
    ]);
  },
  // Admin service → the order service's internal API, whose not_found comes back unchanged.
  "AdminService/UpdateOrderStatus": ({ admin }, w) => {
    const id = randomUUID();
    return expectFailure(
      admin.updateOrderStatus({ id, status: OrderStatus.SHIPPED }, w.asAdmin),
      Code.NotFound,
      `order ${id} not found`,
    );
  },
  // The audit trail is projected from the event stream, so the buyer's sign-up shows up
  // shortly after beforeAll, not necessarily before the first protocol asks.
  "AdminService/ListAuditEvents": async ({ admin }, w) => {
    const read = () => admin.listAuditEvents({ subjectId: w.buyer.id, eventType: "user_registered" }, w.asAdmin);
    const { events } = await eventually(read, (response) => response.events.length > 0);
    expect(events.map((event) => event.subjectId)).toEqual([w.buyer.id]);
  },
  "AdminService/GetSalesReport": async ({ admin }, w) => {
    const today = new Date().toISOString().slice(0, 10);
    const midnight = new Date(`${today}T00:00:00Z`);
    const report = await admin.getSalesReport(
      { fromTime: timestampFromDate(midnight), toTime: timestampFromDate(new Date(midnight.getTime() + 86_400_000)) },
      w.asAdmin,
    );
    expect(report.revenueByDay.map((day) => day.day)).toEqual([today]);
  },
  // The one AdminService RPC a seller may call, for their own shop.
  "AdminService/GetShopSalesReport": async ({ admin }, w) => {
    const today = new Date().toISOString().slice(0, 10);
    const report = await admin.getShopSalesReport({ shopId: w.shop.id, fromDate: today, toDate: today }, w.asSeller);
    expect([report.shopId, report.days.map((day) => day.day)]).toEqual([w.shop.id, [today]]);
  },
  "AdminService/ListDeadLetters": ({ admin }, w) =>
    expectViolation(admin.listDeadLetters({ service: "billing" }, w.asAdmin), "service"),
  "AdminService/RedriveDeadLetter": ({ admin }, w) => {
    const id = randomUUID();
    return expectFailure(admin.redriveDeadLetter({ id }, w.asAdmin), Code.NotFound, `dead letter ${id} not found`);
  },
  "AdminService/ListShops": async ({ admin }, w) => {
    const { shops } = await admin.listShops({ sellerId: devAccounts.seller.id, pageSize: 100 }, w.asAdmin);
    expect(shops.length).toBeGreaterThan(0);
    expect(shops.every((shop) => shop.sellerId === devAccounts.seller.id)).toBe(true);
  },
  // Admin service → product's internal ShopAdminService, whose not_found comes back unchanged.
  "AdminService/SuspendShop": ({ admin }, w) => {
    const id = randomUUID();
    return expectFailure(admin.suspendShop({ id, reason: "spam" }, w.asAdmin), Code.NotFound, `shop ${id} not found`);
  },
  "AdminService/ReactivateShop": ({ admin }, w) => {
    const id = randomUUID();
    return expectFailure(admin.reactivateShop({ id }, w.asAdmin), Code.NotFound, `shop ${id} not found`);
  },
  // Admin service → product's internal CategoryAdminService.
  "AdminService/UpdateCategory": ({ admin }, w) => {
    const id = randomUUID();
    const rename = { category: { id, name: "Renamed" }, updateMask: { paths: ["name"] } };
    return expectFailure(admin.updateCategory(rename, w.asAdmin), Code.NotFound, `category ${id} not found`);
  },
  "AdminService/DeleteCategory": ({ admin }, w) => {
    const id = randomUUID();
    return expectFailure(admin.deleteCategory({ id }, w.asAdmin), Code.NotFound, `category ${id} not found`);
  },
  "AdminService/ListPayments": ({ admin }, w) =>
    expectViolation(admin.listPayments({ orderId: "not-a-uuid" }, w.asAdmin), "order_id"),
  // Admin service → payment's internal PaymentService, whose not_found comes back unchanged.
  "AdminService/RefundPayment": ({ admin }, w) => {
    const id = randomUUID();
    const refund = { id, amount: { currencyCode: "USD", amountMinor: 1n }, reason: "damaged" };
    return expectFailure(admin.refundPayment(refund, w.asAdmin), Code.NotFound, `payment ${id} not found`);
  },
};

function expectationFor(key: string): Expectation {
  const expectation = expectations[key];
  if (!expectation) throw new Error(`${key} has no expectation: add one to the table in this file`);
  return expectation;
}

/** Calls any method with one empty request message, whatever its kind, and reads the whole answer. */
async function callWithEmptyRequest(transport: Transport, method: DescMethod): Promise<void> {
  const request = create(method.input);
  if (method.methodKind === "unary") {
    await transport.unary(method as DescMethodUnary, undefined, 5_000, undefined, request);
    return;
  }
  const response = await transport.stream(
    method as DescMethodStreaming,
    undefined,
    5_000,
    undefined,
    createAsyncIterable([request]),
  );
  for await (const _ of response.message);
}

const protocols = [
  {
    name: "Connect JSON, HTTP/1.1",
    transport: (baseUrl: string) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  },
  {
    name: "Connect binary, h2c",
    transport: (baseUrl: string) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  },
  {
    name: "gRPC-Web binary, HTTP/1.1",
    transport: (baseUrl: string) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  },
  {
    name: "gRPC, h2c",
    transport: (baseUrl: string) => createGrpcTransport({ baseUrl }),
  },
];

const e2e = useMesh();
let world: World;

beforeAll(async () => {
  const { auth, products, shops, carts, orders } = e2e;
  const [{ asSeller, shopId, categoryId }, asCustomer, asAdmin, buyer, shopper] = await Promise.all([
    devSellerShelf(auth, products),
    signIn(auth, devAccounts.customer),
    signIn(auth, devAccounts.admin),
    registerCustomer(auth, "edge-buyer"),
    registerCustomer(auth, "edge-shopper"),
  ]);
  const searchWord = `edgeprobe${randomBytes(4).toString("hex")}`;
  const { product } = await products.createProduct(
    {
      product: {
        shopId,
        categoryId,
        name: `Kettle ${searchWord}`,
        price: { currencyCode: "USD", amountMinor: 2500n },
        stockOnHand: 100,
      },
    },
    asSeller,
  );
  const { shop } = await shops.getShop({ id: shopId });
  await carts.addCartItem({ productId: product!.id, quantity: 1 }, buyer);
  const { order } = await orders.placeOrder(
    { idempotencyKey: randomUUID(), shippingAddress: address, payment: { method: PaymentMethod.CASH_ON_DELIVERY } },
    buyer,
  );
  await carts.addCartItem({ productId: product!.id, quantity: 2 }, shopper);
  world = { asCustomer, asSeller, asAdmin, buyer, shopper, product: product!, searchWord, shop: shop!, order: order! };
});

describe("the table of expectations", () => {
  it("when an RPC is added to a public service, then it must be given an expectation here (and a removed one loses its own)", () => {
    expect(Object.keys(expectations).sort()).toEqual(publicMethods.map(({ key }) => key).sort());
  });

  it("when the internal services are listed from gen/, then the mesh's internal APIs and reflection are among them", () => {
    expect(internalMethods.map(({ path }) => path)).toEqual(
      expect.arrayContaining([
        "bazaar.product.v1.InventoryService/ReserveStock",
        "bazaar.auth.v1.UserDirectoryService/ListUsers",
        "bazaar.order.v1.OrderAdminService/UpdateOrderStatus",
        "bazaar.events.v1.DeadLetterService/RedriveDeadLetter",
        "bazaar.payment.v1.PaymentService/CreatePayment",
        "bazaar.payment.v1.PaymentService/RefundPayment",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      ]),
    );
  });
});

describe.each(protocols)("through the edge over $name", ({ transport: transportTo }) => {
  let transport: Transport;
  let clients: Clients;
  beforeAll(() => {
    transport = transportTo(e2e.mesh.edgeUrl);
    clients = clientsOver(transport);
  });

  it.each(publicMethods)(
    "when a client calls $key, then the answer comes from its backend's handler",
    async ({ key }) => {
      await expectationFor(key)(clients, world);
    },
  );

  // Unimplemented is what gRPC and Connect clients know as "this server has no such method"
  // (Connect's HTTP 404); not_found would read like a handler's "order … not found". A backend
  // reached with one of these would answer it or refuse it with a code of its own.
  it.each(internalMethods)(
    "when a client calls internal $path, then the edge has no route for it",
    async ({ method }) => {
      const error = await failureOf(callWithEmptyRequest(transport, method));
      expect(Code[error.code], error.message).toBe(Code[Code.Unimplemented]);
    },
  );
});

describe("Connect GET, JSON over HTTP/1.1", () => {
  // With useHttpGet, connect-es sends exactly the NO_SIDE_EFFECTS methods as GET (the message in
  // the query string) and keeps POST for the rest, so each of these calls is a GET.
  const reads = publicMethods.filter(
    ({ method }) => method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
  );
  let clients: Clients;
  beforeAll(() => {
    clients = clientsOver(
      createConnectTransport({
        baseUrl: e2e.mesh.edgeUrl,
        httpVersion: "1.1",
        useBinaryFormat: false,
        useHttpGet: true,
      }),
    );
  });

  it("when the reads are listed, then the anonymous catalog reads are among them", () => {
    expect(reads.map(({ key }) => key)).toEqual(
      expect.arrayContaining(["ProductService/GetProduct", "ProductService/ListCategories"]),
    );
  });

  it.each(reads)("when a client GETs $key, then the answer comes from its backend's handler", async ({ key }) => {
    await expectationFor(key)(clients, world);
  });
});
