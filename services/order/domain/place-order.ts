// Checkout, the saga the order service owns: read the cart, take prices from the catalog, write
// the order PENDING, hold the stock, take payment, commit the stock, confirm. Every failure after
// the order exists is compensated (stock released, order CANCELLED or PAYMENT_FAILED), so no
// failed checkout leaves stock held or an order pending.
import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import { OrderStatus as ProtoOrderStatus } from "../../../gen/bazaar/order/v1/order_pb.ts";
import { inTransaction } from "../../kit/db.ts";
import { appendEvent } from "../../kit/events.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { OrderDatabase } from "../db/database.ts";
import { findOrder, findOrderIdByKey, insertPendingOrder, recordStatus } from "../db/order.repository.ts";
import {
  EmptyCartError,
  IdempotencyKeyReusedError,
  totalsOf,
  UnavailableProductsError,
  type Address,
  type Order,
  type OrderLine,
  type OrderStatus,
  type PaymentMethod,
  type PricingPolicy,
} from "./order.ts";
import type { PaymentProvider } from "./payments.ts";

/** What checkout needs from other services, bound to the calling user. */
export interface CheckoutPorts {
  cartLines(): Promise<Array<{ productId: string; quantity: number }>>;
  products(ids: string[]): Promise<Array<{ productId: string; shopId: string; name: string; unitPriceMinor: bigint; forSale: boolean }>>;
  reserve(reservationId: string, items: Array<{ productId: string; quantity: number }>): Promise<void>;
  commit(reservationId: string): Promise<void>;
  release(reservationId: string): Promise<void>;
}

export interface CheckoutDeps {
  db: Kysely<OrderDatabase>;
  outbox: OutboxNotifier;
  payments: PaymentProvider;
  pricing: PricingPolicy;
  currencyCode: string;
}

export interface CheckoutRequest {
  userId: string;
  idempotencyKey: string;
  shippingAddress: Address;
  paymentMethod: PaymentMethod;
  cardToken: string;
}

/** Order statuses as the contract spells them, for events and responses. */
export const protoStatus: Record<OrderStatus, ProtoOrderStatus> = {
  PENDING: ProtoOrderStatus.PENDING,
  CONFIRMED: ProtoOrderStatus.CONFIRMED,
  PROCESSING: ProtoOrderStatus.PROCESSING,
  SHIPPED: ProtoOrderStatus.SHIPPED,
  DELIVERED: ProtoOrderStatus.DELIVERED,
  CANCELLED: ProtoOrderStatus.CANCELLED,
  PAYMENT_FAILED: ProtoOrderStatus.PAYMENT_FAILED,
};

export async function placeOrder(deps: CheckoutDeps, ports: CheckoutPorts, request: CheckoutRequest): Promise<Order> {
  const cart = await ports.cartLines();
  if (cart.length === 0) throw new EmptyCartError("the cart is empty");
  const fingerprint = fingerprintOf(request, cart);

  const earlier = await findOrderIdByKey(deps.db, request.userId, request.idempotencyKey);
  if (earlier) return settledOrder(deps, earlier, fingerprint);

  // Prices come from the catalog now, never from the cart or the client.
  const products = new Map((await ports.products(cart.map((line) => line.productId))).map((p) => [p.productId, p]));
  const unavailable = cart.filter((line) => !products.get(line.productId)?.forSale).map((line) => line.productId);
  if (unavailable.length > 0) throw new UnavailableProductsError(`no longer for sale: ${unavailable.join(", ")}`);
  const lines: OrderLine[] = cart.map((line) => {
    const product = products.get(line.productId)!;
    return { ...product, quantity: line.quantity, lineTotalMinor: product.unitPriceMinor * BigInt(line.quantity) };
  });
  const totals = totalsOf(lines, deps.pricing);

  const orderId = uuidv7();
  const created = await inTransaction(deps.db, (trx) =>
    insertPendingOrder(trx, {
      id: orderId,
      userId: request.userId,
      currencyCode: deps.currencyCode,
      lines,
      ...totals,
      shippingAddress: request.shippingAddress,
      paymentMethod: request.paymentMethod,
      idempotencyKey: request.idempotencyKey,
      requestFingerprint: fingerprint,
    }),
  );
  if (!created) {
    // Another call with the same key won the insert a moment ago.
    return settledOrder(deps, (await findOrderIdByKey(deps.db, request.userId, request.idempotencyKey))!, fingerprint);
  }

  const items = lines.map((line) => ({ productId: line.productId, quantity: line.quantity }));
  try {
    await ports.reserve(orderId, items);
  } catch (error) {
    await ports.release(orderId).catch(() => undefined);
    await moveTo(deps, orderId, request.userId, "PENDING", "CANCELLED", "stock could not be reserved");
    throw error;
  }

  if (request.paymentMethod === "CARD") {
    const outcome = await authorizeWithRetry(deps.payments, { orderId, amountMinor: totals.totalMinor, currencyCode: deps.currencyCode, cardToken: request.cardToken });
    if (outcome.kind !== "authorized") {
      await ports.release(orderId);
      await moveTo(deps, orderId, request.userId, "PENDING", "PAYMENT_FAILED", outcome.reason, {
        status: outcome.kind === "declined" ? "DECLINED" : "FAILED",
        failureReason: outcome.reason,
      });
      return (await findOrder(deps.db, orderId))!;
    }
    await ports.commit(orderId);
    await moveTo(deps, orderId, request.userId, "PENDING", "CONFIRMED", "paid", { status: "AUTHORIZED", reference: outcome.reference }, lines, totals.totalMinor);
  } else {
    await ports.commit(orderId);
    await moveTo(deps, orderId, request.userId, "PENDING", "CONFIRMED", "cash on delivery", undefined, lines, totals.totalMinor);
  }
  return (await findOrder(deps.db, orderId))!;
}

/** The order an earlier call with this key made, once it has left PENDING (or a few seconds passed). */
async function settledOrder(deps: CheckoutDeps, earlier: { id: string; fingerprint: string }, fingerprint: string): Promise<Order> {
  if (earlier.fingerprint !== fingerprint) {
    throw new IdempotencyKeyReusedError("idempotency_key was already used for a different checkout");
  }
  const deadline = Date.now() + 8_000;
  let order = (await findOrder(deps.db, earlier.id))!;
  while (order.status === "PENDING" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    order = (await findOrder(deps.db, earlier.id))!;
  }
  return order;
}

async function authorizeWithRetry(payments: PaymentProvider, request: Parameters<PaymentProvider["authorize"]>[0]) {
  let outcome = await payments.authorize(request);
  for (let attempt = 1; outcome.kind === "unavailable" && attempt < 3; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    outcome = await payments.authorize(request);
  }
  return outcome;
}

async function moveTo(
  deps: CheckoutDeps,
  orderId: string,
  userId: string,
  from: OrderStatus,
  to: OrderStatus,
  note: string,
  payment?: Parameters<typeof recordStatus>[4],
  placedLines?: OrderLine[],
  totalMinor?: bigint,
): Promise<void> {
  await inTransaction(deps.db, async (trx) => {
    await recordStatus(trx, orderId, to, note, payment);
    await appendEvent(trx, {
      source: "order",
      actorId: userId,
      subjectId: orderId,
      payload: { case: "orderStatusChanged", value: { orderId, userId, oldStatus: protoStatus[from], newStatus: protoStatus[to], note } },
    });
    if (to === "PAYMENT_FAILED") {
      await appendEvent(trx, { source: "order", actorId: userId, subjectId: orderId, payload: { case: "paymentFailed", value: { orderId, userId, reason: note } } });
    }
    if (placedLines && totalMinor !== undefined) {
      await appendEvent(trx, {
        source: "order",
        actorId: userId,
        subjectId: orderId,
        payload: {
          case: "orderPlaced",
          value: {
            orderId,
            userId,
            items: placedLines.map((line) => ({
              productId: line.productId,
              shopId: line.shopId,
              name: line.name,
              quantity: line.quantity,
              unitPrice: { currencyCode: deps.currencyCode, amountMinor: line.unitPriceMinor },
              lineTotal: { currencyCode: deps.currencyCode, amountMinor: line.lineTotalMinor },
            })),
            total: { currencyCode: deps.currencyCode, amountMinor: totalMinor },
          },
        },
      });
    }
  });
  deps.outbox.wake();
}

function fingerprintOf(request: CheckoutRequest, cart: Array<{ productId: string; quantity: number }>): string {
  const lines = [...cart].sort((a, b) => (a.productId < b.productId ? -1 : 1)).map((l) => `${l.productId}x${l.quantity}`);
  const payload = JSON.stringify({ lines, address: request.shippingAddress, method: request.paymentMethod, card: request.cardToken });
  return createHash("sha256").update(payload).digest("hex");
}
