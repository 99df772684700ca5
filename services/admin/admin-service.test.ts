// AdminService's handlers in memory against a database of their own, with auth's directory,
// order's admin service, product's shop moderation, payment's payments and the dead letters of
// every service in memory: only admins get in,
// an admin cannot lock themselves out, changes go out under the admin service's identity and are
// audited, and each refusal answers its code.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import { EventSchema, type Event } from "../../gen/bazaar/events/v1/events_pb.ts";
import { OrderStatus, ShopOrderStatus } from "../../gen/bazaar/order/v1/order_pb.ts";
import { PaymentStatus } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { ShopStatus } from "../../gen/bazaar/product/v1/product_pb.ts";
import type { AccessRules } from "../kit/auth.ts";
import { uuidv7 } from "../kit/ids.ts";
import { bind } from "../kit/serve.ts";
import { cachedShopOwners } from "../kit/shop-owners.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { recordDeadLetter } from "../kit/dead-letters.ts";
import { errorInfoOf } from "../kit/error-info.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import {
  createTestTokens,
  oneOfEach,
  signedIn,
  type Callers,
  type SignedIn,
  type TestTokens,
} from "../kit/testing/tokens.ts";
import { applyAllOnce } from "../kit/consumer.ts";
import { inTransaction } from "../kit/db.ts";
import { adminAccessRules } from "./access-rules.ts";
import { createAdminService } from "./admin-service.ts";
import type { AdminDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { clearProjections } from "./db/projections.repository.ts";
import { applyToProjections, projectionsConsumer } from "./domain/projections.ts";
import {
  adminServiceAuthorization,
  deadLettersOf,
  inMemoryDirectory,
  inMemoryCategories,
  inMemoryOrders,
  inMemoryPayments,
  inMemoryShops,
  serviceToken,
  type InMemoryDirectory,
  type OrderErasures,
} from "./in-memory-ports.ts";

let db: Kysely<AdminDatabase>;
let tokens: TestTokens;
let callers: Callers;
let server: InMemoryServer;
let admin: Client<typeof AdminService>;
let me: SignedIn;
const directory = inMemoryDirectory();
const orderErasures: OrderErasures = { calls: [], down: false };
const shops = inMemoryShops();
const payments = inMemoryPayments();
const categoryId = uuidv7();
// Ids of two services' dead letters, oldest first, interleaved in time.
const letterIds = Array.from({ length: 5 }, () => uuidv7());

function adminServiceWith(users: InMemoryDirectory): InMemoryServer {
  return serveInMemory({
    services: [
      bind(
        AdminService,
        createAdminService({
          db,
          deadLetters: deadLettersOf({
            cart: [letterIds[0]!, letterIds[2]!, letterIds[4]!],
            order: [letterIds[1]!, letterIds[3]!],
          }),
          outbox: { wake() {} },
          directory: users.client,
          orders: inMemoryOrders(orderErasures),
          shops: shops.client,
          shopOwners: cachedShopOwners(shops.catalog),
          categories: inMemoryCategories(categoryId, 3),
          payments: payments.client,
          serviceToken,
          currencyCode: "EUR",
        }),
      ),
    ],
    rules: adminAccessRules,
    verifier: tokens.verifier,
  });
}

beforeAll(async () => {
  db = await migratedTestDatabase<AdminDatabase>("admin_handlers", migrations);
  tokens = await createTestTokens();
  callers = await oneOfEach(tokens);
  me = await signedIn(tokens, "admin");
  server = adminServiceWith(directory);
  admin = server.client(AdminService);
});

afterAll(async () => {
  await db?.destroy();
});

/** The events this admin service has written to its outbox, decoded. */
async function outboxEvents() {
  const rows = await db.selectFrom("outbox").select("payload").orderBy("id").execute();
  return rows.map((row) => fromBinary(EventSchema, row.payload));
}

describe("who may call the admin service", () => {
  // Every RPC is for admins, no one else, not even another service; but a shop's sales report,
  // which sellers reach too (the handler then keeps them to their own shops).
  const adminOnly = Object.fromEntries(AdminService.methods.map((m) => [m.localName, "admin"]));
  const rules = { ...adminOnly, getShopSalesReport: "seller" } as AccessRules<typeof AdminService>;
  it.each(accessMatrix(AdminService, rules))("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(server.transport, method, callers[caller])).toBe(expected);
  });
});

describe("changing accounts", () => {
  it("when an admin changes a role, then the directory is called as the admin service and the change is audited under the admin's name", async () => {
    const user = directory.add();
    const { user: changed } = await admin.setUserRole({ id: user.id, role: Role.SELLER }, me.options);
    expect(changed?.role).toBe(Role.SELLER);
    expect(directory.authorizations.at(-1)).toBe(adminServiceAuthorization);

    const audited = (await outboxEvents()).filter((e) => e.payload.case === "adminActionPerformed");
    expect(audited.at(-1)).toMatchObject({ actorId: me.id, subjectId: user.id });
    expect(audited.at(-1)?.payload.value).toMatchObject({
      action: "SetUserRole",
      targetType: "user",
      targetId: user.id,
    });
  });

  it("when an admin changes their own role or deactivates themselves, then failed_precondition and the directory is not called", async () => {
    const calls = directory.authorizations.length;
    const demote = admin.setUserRole({ id: me.id, role: Role.CUSTOMER }, me.options);
    expect((await failureOf(demote)).code).toBe(Code.FailedPrecondition);
    const lockOut = admin.setUserActive({ id: me.id, active: false }, me.options);
    expect((await failureOf(lockOut)).code).toBe(Code.FailedPrecondition);
    expect(directory.authorizations.length).toBe(calls);
  });

  it("when the user does not exist, then GetUser and SetUserActive answer the directory's not_found, and nothing is audited", async () => {
    const before = (await outboxEvents()).length;
    expect((await failureOf(admin.getUser({ id: uuidv7() }, me.options))).code).toBe(Code.NotFound);
    expect((await failureOf(admin.setUserActive({ id: uuidv7(), active: false }, me.options))).code).toBe(
      Code.NotFound,
    );
    expect((await outboxEvents()).length).toBe(before);
  });

  it("when auth cannot be reached, then ListUsers answers unavailable, which clients retry", async () => {
    const unreachable = inMemoryDirectory();
    unreachable.goDown();
    const error = await failureOf(adminServiceWith(unreachable).client(AdminService).listUsers({}, me.options));
    expect(error.code).toBe(Code.Unavailable);
  });

  it("when the order does not exist, then UpdateOrderStatus answers order's not_found", async () => {
    const move = admin.updateOrderStatus({ id: uuidv7(), status: OrderStatus.SHIPPED }, me.options);
    expect((await failureOf(move)).code).toBe(Code.NotFound);
  });
});

describe("reports and lists", () => {
  it("when a sales report spans more than 366 days, then GetSalesReport answers invalid_argument", async () => {
    const report = admin.getSalesReport(
      {
        fromTime: timestampFromDate(new Date("2024-01-01T00:00:00Z")),
        toTime: timestampFromDate(new Date("2025-06-01T00:00:00Z")),
      },
      me.options,
    );
    expect((await failureOf(report)).code).toBe(Code.InvalidArgument);
  });

  it("when a page token was not handed out by ListAuditEvents, then it answers invalid_argument", async () => {
    const list = admin.listAuditEvents({ pageToken: "bm90LWEtdG9rZW4" }, me.options);
    expect((await failureOf(list)).code).toBe(Code.InvalidArgument);
  });

  it("when dead letters are listed a page at a time, then every service's come newest first, each once", async () => {
    const first = await admin.listDeadLetters({ pageSize: 3 }, me.options);
    const second = await admin.listDeadLetters({ pageSize: 3, pageToken: first.nextPageToken }, me.options);
    const listed = [...first.deadLetters, ...second.deadLetters];
    expect(listed.map((l) => l.id)).toEqual([...letterIds].reverse());
    expect(listed.map((l) => l.service)).toEqual(["cart", "order", "cart", "order", "cart"]);
    expect(second.nextPageToken).toBe("");
  });

  it("when no service has the dead letter, then RedriveDeadLetter answers not_found; the one that has it redrives it", async () => {
    expect((await failureOf(admin.redriveDeadLetter({ id: uuidv7() }, me.options))).code).toBe(Code.NotFound);
    const { deadLetter } = await admin.redriveDeadLetter({ id: letterIds[1]! }, me.options);
    expect(deadLetter?.service).toBe("order");
  });
});

describe("moderating shops", () => {
  /** The admin's audited actions on `shopId`, oldest first. */
  async function auditedOn(shopId: string) {
    return (await outboxEvents()).filter(
      (e) => e.payload.case === "adminActionPerformed" && e.payload.value.targetId === shopId,
    );
  }

  it("when an admin suspends a shop, then product is called as the admin service naming the admin, and the action is audited with its reason", async () => {
    const shop = shops.add();
    const { shop: suspended } = await admin.suspendShop({ id: shop.id, reason: "  fake reviews " }, me.options);
    expect(suspended).toMatchObject({ id: shop.id, status: ShopStatus.SUSPENDED, suspendReason: "fake reviews" });
    expect(shops.changes.at(-1)).toEqual({ authorization: adminServiceAuthorization, actorId: me.id });

    const audited = await auditedOn(shop.id);
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ actorId: me.id, subjectId: shop.id });
    expect(audited[0]?.payload.value).toMatchObject({ action: "SuspendShop", targetType: "shop", targetId: shop.id });
    expect(JSON.parse((audited[0]!.payload.value as { detailsJson: string }).detailsJson)).toMatchObject({
      reason: "  fake reviews ",
    });
  });

  it("when an admin reactivates a suspended shop, then it is active and the action is audited; repeating either changes and audits nothing", async () => {
    const shop = shops.add();
    await admin.suspendShop({ id: shop.id, reason: "spam" }, me.options);
    await admin.suspendShop({ id: shop.id, reason: "spam again" }, me.options);
    const { shop: reactivated } = await admin.reactivateShop({ id: shop.id }, me.options);
    expect(reactivated?.status).toBe(ShopStatus.ACTIVE);
    await admin.reactivateShop({ id: shop.id }, me.options);
    const actions = (await auditedOn(shop.id)).map((e) => (e.payload.value as { action: string }).action);
    expect(actions).toEqual(["SuspendShop", "ReactivateShop"]);
  });

  it("when the reason is missing or blank, then SuspendShop answers invalid_argument and product is not called", async () => {
    const shop = shops.add();
    const calls = shops.changes.length;
    expect((await failureOf(admin.suspendShop({ id: shop.id, reason: "" }, me.options))).code).toBe(
      Code.InvalidArgument,
    );
    expect((await failureOf(admin.suspendShop({ id: shop.id, reason: "   " }, me.options))).code).toBe(
      Code.InvalidArgument,
    );
    expect(shops.changes.length).toBe(calls);
    expect(shop.status).toBe(ShopStatus.ACTIVE);
  });

  it("when the shop does not exist, then SuspendShop and ReactivateShop answer product's not_found, and nothing is audited", async () => {
    const before = (await outboxEvents()).length;
    expect((await failureOf(admin.suspendShop({ id: uuidv7(), reason: "spam" }, me.options))).code).toBe(Code.NotFound);
    expect((await failureOf(admin.reactivateShop({ id: uuidv7() }, me.options))).code).toBe(Code.NotFound);
    expect((await outboxEvents()).length).toBe(before);
  });

  it("when a seller or a customer suspends a shop, then permission_denied and product is not called", async () => {
    const shop = shops.add();
    const calls = shops.changes.length;
    for (const caller of [callers.seller, callers.customer]) {
      expect((await failureOf(admin.suspendShop({ id: shop.id, reason: "spam" }, caller))).code).toBe(
        Code.PermissionDenied,
      );
    }
    expect(shops.changes.length).toBe(calls);
    expect(shop.status).toBe(ShopStatus.ACTIVE);
  });

  it("when shops are listed by status, then product's answer comes back as it is", async () => {
    const shop = shops.add();
    await admin.suspendShop({ id: shop.id, reason: "spam" }, me.options);
    const { shops: suspended } = await admin.listShops({ status: ShopStatus.SUSPENDED }, me.options);
    expect(suspended.map((s) => s.id)).toContain(shop.id);
    expect(suspended.every((s) => s.status === ShopStatus.SUSPENDED)).toBe(true);
  });
});

describe("editing categories", () => {
  const auditedCategory = async () =>
    (await outboxEvents()).filter(
      (e) => e.payload.case === "adminActionPerformed" && e.payload.value.targetId === categoryId,
    );

  it("when an admin renames a category, then product does it and the action is audited with the category as target", async () => {
    const { category } = await admin.updateCategory(
      { category: { id: categoryId, name: "Teas" }, updateMask: { paths: ["name"] } },
      me.options,
    );
    expect(category?.name).toBe("Teas");
    const audited = await auditedCategory();
    expect(audited.at(-1)).toMatchObject({ actorId: me.id, subjectId: categoryId });
    expect(audited.at(-1)?.payload.value).toMatchObject({ action: "UpdateCategory", targetType: "category" });
  });

  it("when an admin deletes a category in use without a target, then product's failed_precondition and nothing is audited; with one, the move is reported and audited", async () => {
    const before = (await auditedCategory()).length;
    expect((await failureOf(admin.deleteCategory({ id: categoryId }, me.options))).code).toBe(Code.FailedPrecondition);
    expect((await auditedCategory()).length).toBe(before);
    const { movedProductCount } = await admin.deleteCategory({ id: categoryId, moveProductsTo: uuidv7() }, me.options);
    expect(movedProductCount).toBe(3);
    expect((await auditedCategory()).at(-1)?.payload.value).toMatchObject({ action: "DeleteCategory" });
  });

  it("when the category does not exist, then UpdateCategory and DeleteCategory answer product's not_found", async () => {
    const rename = { category: { id: uuidv7(), name: "X" }, updateMask: { paths: ["name"] } };
    expect((await failureOf(admin.updateCategory(rename, me.options))).code).toBe(Code.NotFound);
    expect((await failureOf(admin.deleteCategory({ id: uuidv7() }, me.options))).code).toBe(Code.NotFound);
  });
});

describe("payments and refunds", () => {
  const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });
  /** The admin's audited refunds of `paymentId`, oldest first. */
  async function refundsAudited(paymentId: string) {
    return (await outboxEvents()).filter(
      (e) =>
        e.payload.case === "adminActionPerformed" &&
        e.payload.value.action === "RefundPayment" &&
        e.payload.value.targetId === paymentId,
    );
  }
  const detailsOf = (event: Event) => JSON.parse((event.payload.value as { detailsJson: string }).detailsJson);

  it("when an admin lists payments, then the filters and the page token reach the payment service as they are", async () => {
    const paymentId = payments.addCaptured(500n);
    const orderId = uuidv7();
    const filters = { status: PaymentStatus.CAPTURED, orderId, pageSize: 7, pageToken: "b3BhcXVl" };
    const { payments: listed } = await admin.listPayments(filters, me.options);
    expect(payments.listRequests.at(-1)).toMatchObject(filters);
    expect(listed.map((p) => p.id)).toContain(paymentId);
  });

  it("when an admin refunds with a key, then payment is called as the admin service with the prefixed key, and the refund is audited with its reason", async () => {
    const paymentId = payments.addCaptured(1000n);
    const { refund, payment } = await admin.refundPayment(
      { id: paymentId, amount: usd(300n), reason: " damaged in transit ", refundKey: "ticket-42" },
      me.options,
    );
    expect(refund).toMatchObject({ refundKey: "admin:ticket-42", amount: usd(300n) });
    expect(payment).toMatchObject({ status: PaymentStatus.PARTIALLY_REFUNDED, refunded: usd(300n) });
    expect(payments.refundCalls.at(-1)).toEqual({
      authorization: adminServiceAuthorization,
      refundKey: "admin:ticket-42",
    });
    const audited = await refundsAudited(paymentId);
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ actorId: me.id, subjectId: paymentId });
    expect(audited[0]?.payload.value).toMatchObject({ targetType: "payment", targetId: paymentId });
    expect(detailsOf(audited[0]!)).toEqual({
      id: paymentId,
      amount: { currencyCode: "USD", amountMinor: "300" },
      reason: "damaged in transit",
      refundKey: "admin:ticket-42",
    });
  });

  it("when the same refund is asked twice with one key, also at once, then it is made and audited once", async () => {
    const paymentId = payments.addCaptured(1000n);
    const ask = () =>
      admin.refundPayment({ id: paymentId, amount: usd(400n), reason: "late", refundKey: "k-1" }, me.options);
    const answers = await Promise.all([ask(), ask()]);
    const again = await ask();
    expect(new Set([...answers, again].map((a) => a.refund?.id)).size).toBe(1);
    expect(again.payment?.refunded).toMatchObject(usd(400n));
    expect(await refundsAudited(paymentId)).toHaveLength(1);
  });

  it("when no key is given, then a retry of the same request refunds once; another reason is another refund", async () => {
    const paymentId = payments.addCaptured(1000n);
    const first = await admin.refundPayment({ id: paymentId, amount: usd(100n), reason: "late" }, me.options);
    const retry = await admin.refundPayment({ id: paymentId, amount: usd(100n), reason: " late" }, me.options);
    expect(retry.refund?.id).toBe(first.refund?.id);
    expect(first.refund?.refundKey).toMatch(/^admin:derived:[0-9a-f]{64}$/);
    const other = await admin.refundPayment({ id: paymentId, amount: usd(100n), reason: "scratched" }, me.options);
    expect(other.refund?.id).not.toBe(first.refund?.id);
    expect(other.payment?.refunded).toMatchObject(usd(200n));
    expect(await refundsAudited(paymentId)).toHaveLength(2);
  });

  it("when the refund is more than is left, then payment's failed_precondition with REFUND_EXCEEDS_CAPTURE comes through, and nothing is audited", async () => {
    const paymentId = payments.addCaptured(1000n);
    await admin.refundPayment({ id: paymentId, amount: usd(900n), reason: "most" }, me.options);
    const error = await failureOf(
      admin.refundPayment({ id: paymentId, amount: usd(101n), reason: "rest" }, me.options),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(error)).toEqual({
      reason: "REFUND_EXCEEDS_CAPTURE",
      metadata: { payment_id: paymentId, requested: "101", refundable: "100" },
    });
    expect(await refundsAudited(paymentId)).toHaveLength(1);
  });

  it("when a key is reused for another amount, then REFUND_KEY_REUSED comes through", async () => {
    const paymentId = payments.addCaptured(1000n);
    await admin.refundPayment({ id: paymentId, amount: usd(10n), reason: "a", refundKey: "k-2" }, me.options);
    const error = await failureOf(
      admin.refundPayment({ id: paymentId, amount: usd(20n), reason: "a", refundKey: "k-2" }, me.options),
    );
    expect(errorInfoOf(error)).toEqual({
      reason: "REFUND_KEY_REUSED",
      metadata: { payment_id: paymentId, refund_key: "admin:k-2" },
    });
  });

  it("when the payment does not exist, then not_found and nothing is audited", async () => {
    const id = uuidv7();
    expect((await failureOf(admin.refundPayment({ id, amount: usd(1n), reason: "x" }, me.options))).code).toBe(
      Code.NotFound,
    );
    expect(await refundsAudited(id)).toEqual([]);
  });

  it("when the reason is blank or the key holds a colon, then invalid_argument and payment is not called", async () => {
    const paymentId = payments.addCaptured(1000n);
    const calls = payments.refundCalls.length;
    for (const request of [
      { id: paymentId, amount: usd(1n), reason: "   " },
      { id: paymentId, amount: usd(1n), reason: "" },
      { id: paymentId, amount: usd(1n), reason: "x", refundKey: "derived:abc" },
    ]) {
      expect((await failureOf(admin.refundPayment(request, me.options))).code).toBe(Code.InvalidArgument);
    }
    expect(payments.refundCalls.length).toBe(calls);
  });

  it("when a seller, a customer or an anonymous caller refunds, then permission_denied or unauthenticated and payment is not called", async () => {
    const paymentId = payments.addCaptured(1000n);
    const calls = payments.refundCalls.length;
    const refund = { id: paymentId, amount: usd(1n), reason: "x" };
    for (const caller of [callers.seller, callers.customer]) {
      expect((await failureOf(admin.refundPayment(refund, caller))).code).toBe(Code.PermissionDenied);
      expect((await failureOf(admin.listPayments({}, caller))).code).toBe(Code.PermissionDenied);
    }
    expect((await failureOf(admin.refundPayment(refund, callers.anonymous))).code).toBe(Code.Unauthenticated);
    expect((await failureOf(admin.listPayments({}, callers.anonymous))).code).toBe(Code.Unauthenticated);
    expect(payments.refundCalls.length).toBe(calls);
  });
});

describe("erasing users", () => {
  /** The audited EraseUser actions on the user. */
  async function erasuresAudited(userId: string) {
    return (await outboxEvents()).filter(
      (e) =>
        e.payload.case === "adminActionPerformed" &&
        e.payload.value.action === "EraseUser" &&
        e.payload.value.targetId === userId,
    );
  }

  const applied = (event: Event) => db.transaction().execute((trx) => applyToProjections(event, trx));
  const registration = (userId: string, email: string) =>
    create(EventSchema, {
      id: uuidv7(),
      source: "auth",
      actorId: userId,
      subjectId: userId,
      payload: {
        case: "userRegistered",
        value: { userId, email, displayName: "Ada Lovelace", role: Role.CUSTOMER },
      },
    });
  const auditTextAbout = async (userId: string) =>
    JSON.stringify(await db.selectFrom("audit_events").selectAll().where("subject_id", "=", userId).execute());

  it("when an admin erases a customer, then order and auth erase their parts under the admin service's identity, and the erasure is audited with its reason", async () => {
    const user = directory.add();
    const { user: erased } = await admin.eraseUser({ id: user.id, reason: "GDPR request of 2026-12-01" }, me.options);
    expect(erased).toMatchObject({ id: user.id, email: `erased+${user.id}@invalid`, active: false });
    expect(orderErasures.calls.at(-1)).toEqual({ userId: user.id, authorization: adminServiceAuthorization });
    expect(directory.erasures.at(-1)).toEqual({ userId: user.id, actorId: me.id });
    expect(directory.authorizations.at(-1)).toBe(adminServiceAuthorization);
    const audited = await erasuresAudited(user.id);
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ actorId: me.id, subjectId: user.id });
    expect(JSON.parse((audited[0]!.payload.value as { detailsJson: string }).detailsJson)).toEqual({
      id: user.id,
      reason: "GDPR request of 2026-12-01",
    });
    const tombstone = await db.selectFrom("erased_users").selectAll().where("user_id", "=", user.id).executeTakeFirst();
    expect(tombstone?.complete_time).toBeInstanceOf(Date);
  });

  it("when an erased user is erased again, then it succeeds, and nothing more is erased or audited", async () => {
    const user = directory.add();
    await admin.eraseUser({ id: user.id, reason: "asked" }, me.options);
    const erasures = directory.erasures.length;
    await admin.eraseUser({ id: user.id, reason: "asked twice" }, me.options);
    expect(directory.erasures.length).toBe(erasures);
    expect(await erasuresAudited(user.id)).toHaveLength(1);
  });

  it("when an admin erases their own account, then failed_precondition and no service is called", async () => {
    const calls = directory.authorizations.length;
    const erase = admin.eraseUser({ id: me.id, reason: "tired" }, me.options);
    expect((await failureOf(erase)).code).toBe(Code.FailedPrecondition);
    expect(directory.authorizations.length).toBe(calls);
  });

  it("when the user does not exist, then not_found and nothing is erased or audited", async () => {
    const id = uuidv7();
    const [orders, before] = [orderErasures.calls.length, (await outboxEvents()).length];
    expect((await failureOf(admin.eraseUser({ id, reason: "asked" }, me.options))).code).toBe(Code.NotFound);
    expect(orderErasures.calls.length).toBe(orders);
    expect((await outboxEvents()).length).toBe(before);
    expect(await db.selectFrom("erased_users").selectAll().where("user_id", "=", id).execute()).toEqual([]);
  });

  it("when the reason is blank, then invalid_argument", async () => {
    const user = directory.add();
    expect((await failureOf(admin.eraseUser({ id: user.id, reason: "  " }, me.options))).code).toBe(
      Code.InvalidArgument,
    );
  });

  it("when the user owns a shop, then failed_precondition with USER_OWNS_SHOPS naming it, and nothing is erased", async () => {
    const seller = directory.add();
    const shop = shops.add(seller.id);
    const error = await failureOf(admin.eraseUser({ id: seller.id, reason: "asked" }, me.options));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(error)).toEqual({
      reason: "USER_OWNS_SHOPS",
      metadata: { user_id: seller.id, shop_id: shop.id },
    });
    expect(seller.active).toBe(true);
    expect(await erasuresAudited(seller.id)).toEqual([]);
  });

  it("when the order service is down, then unavailable with the account already locked; a retry finishes the erasure, audited once", async () => {
    const user = directory.add();
    orderErasures.down = true;
    try {
      const error = await failureOf(admin.eraseUser({ id: user.id, reason: "asked" }, me.options));
      expect(error.code).toBe(Code.Unavailable);
    } finally {
      orderErasures.down = false;
    }
    expect(user.active).toBe(false);
    expect(orderErasures.calls.map((c) => c.userId)).not.toContain(user.id);
    const pending = await db.selectFrom("erased_users").selectAll().where("user_id", "=", user.id).executeTakeFirst();
    expect(pending?.complete_time).toBeNull();

    await admin.eraseUser({ id: user.id, reason: "asked" }, me.options);
    expect(orderErasures.calls.at(-1)?.userId).toBe(user.id);
    const done = await db.selectFrom("erased_users").selectAll().where("user_id", "=", user.id).executeTakeFirst();
    expect(done?.complete_time).toBeInstanceOf(Date);
    expect(await erasuresAudited(user.id)).toHaveLength(1);
  });

  it("when a user is erased, then their sign-up in the audit trail loses e-mail and name, and replaying it (a rebuild) does not bring them back", async () => {
    const user = directory.add();
    const email = `ada-${uuidv7()}@example.test`;
    const signUp = registration(user.id, email);
    await applied(signUp);
    expect(await auditTextAbout(user.id)).toContain(email);

    await admin.eraseUser({ id: user.id, reason: "asked" }, me.options);
    const scrubbed = await auditTextAbout(user.id);
    expect(scrubbed).not.toContain(email);
    expect(scrubbed).not.toContain("Ada Lovelace");
    expect(scrubbed).toContain(`user ${user.id} registered as CUSTOMER`);

    await clearProjections(db, projectionsConsumer.name);
    await applied(signUp);
    const rebuilt = await auditTextAbout(user.id);
    expect(rebuilt).toContain(`user ${user.id} registered as CUSTOMER`);
    expect(rebuilt).not.toContain(email);
  });

  it("when a sign-up of the user was dead-lettered, then the dead letter loses e-mail and name but still names the user", async () => {
    const user = directory.add();
    const email = `ada-${uuidv7()}@example.test`;
    const signUp = registration(user.id, email);
    await recordDeadLetter(db, {
      consumer: projectionsConsumer.name,
      eventId: signUp.id,
      subject: "bazaar.auth.user_registered",
      payload: toBinary(EventSchema, signUp),
      error: new Error("database down"),
      attempts: 5,
    });
    await admin.eraseUser({ id: user.id, reason: "asked" }, me.options);
    const letter = await db
      .selectFrom("dead_letters")
      .selectAll()
      .where("event_id", "=", signUp.id)
      .executeTakeFirstOrThrow();
    expect(Buffer.from(letter.payload).includes(email)).toBe(false);
    expect(fromBinary(EventSchema, letter.payload).payload).toMatchObject({
      case: "userRegistered",
      value: { userId: user.id, email: "", displayName: "" },
    });
  });

  it("when UserErased arrives from auth, then the admin projections scrub the sign-up and remember the user as erased", async () => {
    const userId = uuidv7();
    const email = `grace-${uuidv7()}@example.test`;
    await applied(registration(userId, email));
    await applied(
      create(EventSchema, {
        id: uuidv7(),
        source: "auth",
        subjectId: userId,
        payload: { case: "userErased", value: { userId } },
      }),
    );
    expect(await auditTextAbout(userId)).not.toContain(email);
    expect(await db.selectFrom("erased_users").select("user_id").where("user_id", "=", userId).execute()).toHaveLength(
      1,
    );
  });

  it("when the sign-up and the erasure arrive in one batch, then the sign-up's audit entry (written with the batch's others) is scrubbed too", async () => {
    const userId = uuidv7();
    const email = `hedy-${uuidv7()}@example.test`;
    const erasure = create(EventSchema, {
      id: uuidv7(),
      source: "auth",
      subjectId: userId,
      payload: { case: "userErased", value: { userId } },
    });
    const deliveries = [registration(userId, email), erasure].map((event) => ({
      event,
      subject: "bazaar.auth.user",
      traceParent: undefined,
    }));
    expect(await applyAllOnce(db, projectionsConsumer.name, deliveries, applyToProjections)).toBe(true);
    const audit = await auditTextAbout(userId);
    expect(audit).toContain(`user ${userId} registered as CUSTOMER`);
    expect(audit).not.toContain(email);
  });
});

describe("a shop's sales report", () => {
  /** Projects an order of `units` units at 250 a unit for the shop, placed now. */
  async function sold(shopId: string, sellerId: string, units: number) {
    const orderId = uuidv7();
    const money = (amountMinor: bigint) => ({ currencyCode: "EUR", amountMinor });
    const event = create(EventSchema, {
      id: uuidv7(),
      occurTime: timestampFromDate(new Date()),
      source: "order",
      subjectId: orderId,
      payload: {
        case: "orderPlaced",
        value: {
          orderId,
          userId: uuidv7(),
          items: [
            {
              productId: uuidv7(),
              shopId,
              name: "Tea",
              quantity: units,
              unitPrice: money(250n),
              lineTotal: money(250n * BigInt(units)),
            },
          ],
          total: money(250n * BigInt(units) + 99n),
          shopOrders: [{ shopOrderId: uuidv7(), shopId, sellerId, subtotal: money(250n * BigInt(units)) }],
        },
      },
    });
    await inTransaction(db, (trx) => applyToProjections(event, trx));
  }

  it("when a seller reads their own shop's report, then it covers the last 30 days with today's sale in it", async () => {
    const seller = await signedIn(tokens, "seller");
    const shop = shops.add(seller.id);
    await sold(shop.id, seller.id, 3);
    const report = await admin.getShopSalesReport({ shopId: shop.id }, seller.options);
    const today = new Date().toISOString().slice(0, 10);
    expect(report.days).toHaveLength(30);
    expect([report.toDate, report.days.at(-1)?.day]).toEqual([today, today]);
    expect(report.days.at(-1)).toMatchObject({ units: 3n, orderCount: 1, revenue: { amountMinor: 750n } });
    expect(report.totalRevenue).toEqual(expect.objectContaining({ currencyCode: "EUR", amountMinor: 750n }));
    expect(report.shopOrdersByStatus.map((s) => [s.status, s.count])).toEqual([[ShopOrderStatus.CONFIRMED, 1]]);
    expect([report.placedShopOrders, report.cancelledShopOrders, report.cancellationRate]).toEqual([1, 0, 0]);
  });

  it("when an admin reads any shop's report, then it answers", async () => {
    const shop = shops.add();
    await sold(shop.id, shop.sellerId, 2);
    const report = await admin.getShopSalesReport({ shopId: shop.id }, me.options);
    expect(report.totalUnits).toBe(2n);
  });

  it("when another seller asks for a shop, then permission_denied SHOP_NOT_OWNED naming it; an unknown shop is not_found", async () => {
    const owner = await signedIn(tokens, "seller");
    const shop = shops.add(owner.id);
    await sold(shop.id, owner.id, 1);
    const other = await signedIn(tokens, "seller");
    const theirs = await failureOf(
      admin.getShopSalesReport({ shopId: shop.id, fromDate: "2026-02-30" }, other.options),
    );
    expect([theirs.code, errorInfoOf(theirs)]).toEqual([
      Code.PermissionDenied,
      { reason: "SHOP_NOT_OWNED", metadata: { shop_id: shop.id } },
    ]);
    const unknown = await failureOf(admin.getShopSalesReport({ shopId: uuidv7() }, me.options));
    expect(unknown.code).toBe(Code.NotFound);
  });

  it("when a customer or an anonymous caller asks, then permission_denied or unauthenticated", async () => {
    const shop = shops.add();
    const asCustomer = await failureOf(admin.getShopSalesReport({ shopId: shop.id }, callers.customer));
    const asNobody = await failureOf(admin.getShopSalesReport({ shopId: shop.id }, callers.anonymous));
    expect([asCustomer.code, asNobody.code]).toEqual([Code.PermissionDenied, Code.Unauthenticated]);
  });

  it.each([
    [{ fromDate: "2026-02-30" }, /^from_date: /],
    [{ toDate: "2026-13-01" }, /^to_date: /],
    [{ fromDate: "2026-03-02", toDate: "2026-03-01" }, /^to_date: must not be before from_date$/],
    [{ fromDate: "2025-01-01", toDate: "2026-01-02" }, /^to_date: a report covers at most 366 days$/],
    [{ fromDate: "01/03/2026" }, /from_date/],
  ])("when the range is %o, then invalid_argument names the field", async (range, message) => {
    const seller = await signedIn(tokens, "seller");
    const shop = shops.add(seller.id);
    const error = await failureOf(admin.getShopSalesReport({ shopId: shop.id, ...range }, seller.options));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(message);
  });
});
