// The admin service's neighbours in memory, for its tests: auth's user directory, order's admin
// service, product's shop reads, shop moderation and category editing, payment's payments, and
// every service's dead letters, as services reached over router transports that remember the
// authorization each call carried.
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Client,
  type HandlerContext,
} from "@connectrpc/connect";
import { UserDirectoryService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import { DeadLetterService } from "../../gen/bazaar/events/v1/dead_letters_pb.ts";
import { OrderAdminService } from "../../gen/bazaar/order/v1/order_pb.ts";
import {
  PaymentService,
  PaymentStatus,
  type ListPaymentsRequest,
  type Payment,
  type Refund,
} from "../../gen/bazaar/payment/v1/payment_pb.ts";
import {
  CategoryAdminService,
  ShopAdminService,
  ShopService,
  ShopStatus,
} from "../../gen/bazaar/product/v1/product_pb.ts";
import type { ServiceName } from "../kit/config.ts";
import { reasonedError } from "../kit/error-info.ts";
import { uuidv7 } from "../kit/ids.ts";
import { notYetImplemented } from "../kit/not-implemented.ts";
import type { ServiceTokenSource } from "../kit/identity.ts";

/** The admin service's own identity, as the token source hands it out. */
export const adminServiceAuthorization = "Bearer admin-service-token";

export const serviceToken: ServiceTokenSource = { authorization: async () => adminServiceAuthorization };

export interface DirectoryUser {
  id: string;
  email: string;
  role: Role;
  active: boolean;
}

export interface InMemoryDirectory {
  client: Client<typeof UserDirectoryService>;
  /** Adds a customer and returns them. */
  add(): DirectoryUser;
  /** The authorization header of every call, in order. */
  authorizations: string[];
  /** Every erasure that changed a user, in order. */
  erasures: Array<{ userId: string; actorId: string }>;
  goDown(): void;
}

export function inMemoryDirectory(): InMemoryDirectory {
  const users = new Map<string, DirectoryUser>();
  const authorizations: string[] = [];
  const erasures: InMemoryDirectory["erasures"] = [];
  let down = false;
  const userOf = (id: string, ctx: HandlerContext) => {
    authorizations.push(ctx.requestHeader.get("authorization") ?? "");
    if (down) throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
    const user = users.get(id);
    if (!user) throw new ConnectError(`user ${id} not found`, Code.NotFound);
    return user;
  };
  const transport = createRouterTransport((router) =>
    router.service(UserDirectoryService, {
      listUsers(_, ctx) {
        authorizations.push(ctx.requestHeader.get("authorization") ?? "");
        if (down) throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
        return { users: [...users.values()] };
      },
      getUser: (request, ctx) => ({ user: userOf(request.id, ctx) }),
      setUserRole(request, ctx) {
        const user = userOf(request.id, ctx);
        user.role = request.role;
        return { user };
      },
      setUserActive(request, ctx) {
        const user = userOf(request.id, ctx);
        user.active = request.active;
        return { user };
      },
      eraseUser(request, ctx) {
        const user = userOf(request.id, ctx);
        const changed = user.active || !user.email.startsWith("erased+");
        Object.assign(user, { email: `erased+${user.id}@invalid`, active: false });
        if (changed) erasures.push({ userId: user.id, actorId: request.actorId });
        return { user, changed };
      },
    }),
  );
  return {
    client: createClient(UserDirectoryService, transport),
    authorizations,
    erasures,
    add() {
      const user = { id: uuidv7(), email: `${uuidv7()}@example.test`, role: Role.CUSTOMER, active: true };
      users.set(user.id, user);
      return user;
    },
    goDown: () => (down = true),
  };
}

/** What the in-memory order service was asked to erase, and whether it answers at all. */
export interface OrderErasures {
  /** The user id and authorization of every EraseBuyerData that got through, in order. */
  calls: Array<{ userId: string; authorization: string }>;
  down: boolean;
}

/** Order's admin service, knowing no orders: every move answers not_found. */
export function inMemoryOrders(erasures: OrderErasures = { calls: [], down: false }): Client<typeof OrderAdminService> {
  const transport = createRouterTransport((router) =>
    router.service(OrderAdminService, {
      listAllOrders: () => ({ orders: [] }),
      updateOrderStatus(request) {
        throw new ConnectError(`order ${request.id} not found`, Code.NotFound);
      },
      eraseBuyerData(request, ctx) {
        if (erasures.down) throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
        erasures.calls.push({ userId: request.userId, authorization: ctx.requestHeader.get("authorization") ?? "" });
        return { erasedOrderCount: 0 };
      },
    }),
  );
  return createClient(OrderAdminService, transport);
}

export interface InMemoryShop {
  id: string;
  sellerId: string;
  status: ShopStatus;
  suspendReason: string;
}

export interface InMemoryShops {
  client: Client<typeof ShopAdminService>;
  /** Product's public shop reads over the same shops (GetShop only). */
  catalog: Client<typeof ShopService>;
  /** Opens an active shop (of a new seller unless one is named) and returns it. */
  add(sellerId?: string): InMemoryShop;
  /** The authorization header and actor_id of every change, in order. */
  changes: Array<{ authorization: string; actorId: string }>;
}

/** Product's shop moderation over shops held in memory; a repeated change answers changed = false. */
export function inMemoryShops(): InMemoryShops {
  const shops = new Map<string, InMemoryShop>();
  const changes: InMemoryShops["changes"] = [];
  const moderate = (id: string, actorId: string, ctx: HandlerContext, to: InMemoryShop["status"], reason: string) => {
    changes.push({ authorization: ctx.requestHeader.get("authorization") ?? "", actorId });
    const shop = shops.get(id);
    if (!shop) throw new ConnectError(`shop ${id} not found`, Code.NotFound);
    const changed = shop.status !== to;
    if (changed) Object.assign(shop, { status: to, suspendReason: reason });
    return { shop, changed };
  };
  const transport = createRouterTransport((router) =>
    router.service(ShopAdminService, {
      listAllShops: (request) => ({
        shops: [...shops.values()].filter(
          (shop) =>
            (!request.status || shop.status === request.status) &&
            (!request.sellerId || shop.sellerId === request.sellerId),
        ),
      }),
      suspendShop: (request, ctx) => moderate(request.id, request.actorId, ctx, ShopStatus.SUSPENDED, request.reason),
      reactivateShop: (request, ctx) => moderate(request.id, request.actorId, ctx, ShopStatus.ACTIVE, ""),
    }),
  );
  const catalogTransport = createRouterTransport((router) =>
    router.service(ShopService, {
      ...notYetImplemented(ShopService, "no test"),
      getShop(request) {
        const shop = shops.get(request.id);
        if (!shop) throw new ConnectError(`shop ${request.id} not found`, Code.NotFound);
        return { shop: { id: shop.id, sellerId: shop.sellerId, status: shop.status } };
      },
    }),
  );
  return {
    client: createClient(ShopAdminService, transport),
    catalog: createClient(ShopService, catalogTransport),
    changes,
    add(sellerId = uuidv7()) {
      const shop = { id: uuidv7(), sellerId, status: ShopStatus.ACTIVE, suspendReason: "" };
      shops.set(shop.id, shop);
      return shop;
    },
  };
}

/**
 * Product's category editing knowing one category, `knownId`, with `productCount` products:
 * other ids answer not_found, deleting it without a target answers failed_precondition.
 */
export function inMemoryCategories(knownId: string, productCount: number): Client<typeof CategoryAdminService> {
  const transport = createRouterTransport((router) =>
    router.service(CategoryAdminService, {
      updateCategory(request) {
        if (request.category?.id !== knownId)
          throw new ConnectError(`category ${request.category?.id} not found`, Code.NotFound);
        return { category: request.category };
      },
      deleteCategory(request) {
        if (request.id !== knownId) throw new ConnectError(`category ${request.id} not found`, Code.NotFound);
        if (!request.moveProductsTo) throw new ConnectError("category in use", Code.FailedPrecondition);
        return { movedProductCount: productCount };
      },
    }),
  );
  return createClient(CategoryAdminService, transport);
}

/** One service's dead letters (UUIDv7 ids, so newest sorts last). */
export function inMemoryDeadLetters(ids: string[]): Client<typeof DeadLetterService> {
  const letters = ids.map((id) => ({ id, consumer: "test-consumer", eventId: uuidv7(), subject: "bazaar.test" }));
  const transport = createRouterTransport((router) =>
    router.service(DeadLetterService, {
      ...notYetImplemented(DeadLetterService, "no test"),
      listDeadLetters(request) {
        const older = letters.filter((l) => !request.beforeId || l.id < request.beforeId);
        return { deadLetters: older.sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, request.pageSize || 20) };
      },
      redriveDeadLetter(request) {
        const letter = letters.find((l) => l.id === request.id);
        if (!letter) throw new ConnectError(`dead letter ${request.id} not found`, Code.NotFound);
        return { deadLetter: letter };
      },
    }),
  );
  return createClient(DeadLetterService, transport);
}

/** Every service with the given dead letters, none for the others. */
export function deadLettersOf(
  letters: Partial<Record<ServiceName, string[]>>,
): Record<ServiceName, Client<typeof DeadLetterService>> {
  const names: ServiceName[] = ["auth", "product", "cart", "order", "admin"];
  return Object.fromEntries(names.map((name) => [name, inMemoryDeadLetters(letters[name] ?? [])])) as Record<
    ServiceName,
    Client<typeof DeadLetterService>
  >;
}

export interface InMemoryPayments {
  client: Client<typeof PaymentService>;
  /** Adds a payment of `amountMinor` USD, captured in full, and returns its id. */
  addCaptured(amountMinor: bigint): string;
  /** Every ListPayments request as it arrived, in order. */
  listRequests: ListPaymentsRequest[];
  /** The authorization header and refund key of every RefundPayment, in order. */
  refundCalls: Array<{ authorization: string; refundKey: string }>;
}

/**
 * Payment's PaymentService over captured payments in memory, keeping its refund rules: one refund
 * per key (a repeat answers it, another amount or payment is REFUND_KEY_REUSED), never more than
 * the capture (REFUND_EXCEEDS_CAPTURE). ListPayments answers every payment, newest first.
 */
export function inMemoryPayments(): InMemoryPayments {
  const payments = new Map<string, Payment>();
  const refunds = new Map<string, { paymentId: string; refund: Refund }>();
  const listRequests: ListPaymentsRequest[] = [];
  const refundCalls: InMemoryPayments["refundCalls"] = [];
  const usd = (amountMinor: bigint) => ({
    $typeName: "bazaar.common.v1.Money" as const,
    currencyCode: "USD",
    amountMinor,
  });
  const transport = createRouterTransport((router) =>
    router.service(PaymentService, {
      ...notYetImplemented(PaymentService, "no test"),
      listPayments(request) {
        listRequests.push(request);
        return { payments: [...payments.values()].reverse(), nextPageToken: "" };
      },
      refundPayment(request, ctx) {
        refundCalls.push({ authorization: ctx.requestHeader.get("authorization") ?? "", refundKey: request.refundKey });
        const payment = payments.get(request.id);
        if (!payment) throw new ConnectError(`payment ${request.id} not found`, Code.NotFound);
        const amountMinor = request.amount!.amountMinor;
        const known = refunds.get(request.refundKey);
        if (known) {
          if (known.paymentId !== payment.id || known.refund.amount!.amountMinor !== amountMinor)
            throw reasonedError("REFUND_KEY_REUSED", "refund key reused", {
              payment_id: payment.id,
              refund_key: request.refundKey,
            });
          return { refund: known.refund, payment };
        }
        const left = payment.captured!.amountMinor - payment.refunded!.amountMinor;
        if (amountMinor > left)
          throw reasonedError("REFUND_EXCEEDS_CAPTURE", "more than is left", {
            payment_id: payment.id,
            requested: String(amountMinor),
            refundable: String(left),
          });
        const refund = {
          $typeName: "bazaar.payment.v1.Refund" as const,
          id: uuidv7(),
          refundKey: request.refundKey,
          amount: usd(amountMinor),
          providerRefundId: `re_${uuidv7()}`,
        };
        refunds.set(request.refundKey, { paymentId: payment.id, refund });
        payment.refunds.push(refund);
        payment.refunded = usd(payment.refunded!.amountMinor + amountMinor);
        payment.status = amountMinor === left ? PaymentStatus.REFUNDED : PaymentStatus.PARTIALLY_REFUNDED;
        return { refund, payment };
      },
    }),
  );
  return {
    client: createClient(PaymentService, transport),
    listRequests,
    refundCalls,
    addCaptured(amountMinor) {
      const id = uuidv7();
      payments.set(id, {
        $typeName: "bazaar.payment.v1.Payment",
        id,
        orderId: uuidv7(),
        amount: usd(amountMinor),
        status: PaymentStatus.CAPTURED,
        provider: "test",
        providerPaymentId: `pi_${id}`,
        failureReason: "",
        captured: usd(amountMinor),
        refunded: usd(0n),
        refunds: [],
      });
      return id;
    },
  };
}
