// Orders, lines and status history: the only place in the order service with SQL.
import { type RawBuilder, sql, type Kysely, type Transaction } from "kysely";
import { deferStatement, gatherUntilCommit, jsonColumn, nextInSequence } from "../../kit/db.ts";
import type { PostalAddress } from "../../kit/postal-address.ts";
import {
  followsOrderInto,
  paidStatuses,
  shopOrderStatusFor,
  type Shipment,
  type NewShopOrder,
  type Order,
  type OrderLine,
  type OrderStatus,
  type PaymentMethod,
  type PaymentStatus,
  type ShopOrder,
  type ShopOrderStatus,
} from "../domain/order.ts";
import type { RefundFacts } from "../domain/refunds.ts";
import type { OrderDatabase, OrderLineRow, OrderRow, OrderStatusHistoryRow, ShopOrderRow } from "./database.ts";

type Db = Kysely<OrderDatabase> | Transaction<OrderDatabase>;

export type NewOrder = Pick<
  Order,
  | "id"
  | "userId"
  | "currencyCode"
  | "lines"
  | "subtotalMinor"
  | "taxMinor"
  | "shippingMinor"
  | "totalMinor"
  | "shippingAddress"
  | "stockTaken"
> & {
  paymentMethod: PaymentMethod;
  idempotencyKey: string;
  requestFingerprint: string;
  shopOrders: NewShopOrder[];
};

/**
 * Inserts a PENDING order, due for recovery at settleAfter unless checkout settles it first;
 * false when the user already used the idempotency key.
 */
export async function insertPendingOrder(
  trx: Transaction<OrderDatabase>,
  order: NewOrder,
  settleAfter: Date,
): Promise<boolean> {
  const result = await trx
    .insertInto("orders")
    .ignore()
    .values({
      id: order.id,
      user_id: order.userId,
      status: "PENDING",
      currency_code: order.currencyCode,
      subtotal_minor: order.subtotalMinor,
      tax_minor: order.taxMinor,
      shipping_minor: order.shippingMinor,
      total_minor: order.totalMinor,
      shipping_address: JSON.stringify(order.shippingAddress),
      payment_method: order.paymentMethod,
      payment_status: order.paymentMethod === "CASH_ON_DELIVERY" ? "DUE_ON_DELIVERY" : "PENDING",
      idempotency_key: order.idempotencyKey,
      request_fingerprint: order.requestFingerprint,
      settle_after: settleAfter,
      stock_taken: order.stockTaken,
    })
    .executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
  // Lines and shop orders go with the next statement: nothing reads their answer.
  await deferStatement(
    trx,
    trx.insertInto("order_lines").values(
      order.lines.map((line) => ({
        order_id: order.id,
        product_id: line.productId,
        shop_id: line.shopId,
        name: line.name,
        unit_price_minor: line.unitPriceMinor,
        quantity: line.quantity,
        line_total_minor: line.lineTotalMinor,
        image: line.imageJson,
      })),
    ),
  );
  await deferStatement(
    trx,
    trx.insertInto("shop_orders").values(
      order.shopOrders.map((shopOrder) => ({
        id: shopOrder.id,
        order_id: order.id,
        shop_id: shopOrder.shopId,
        seller_id: shopOrder.sellerId,
        subtotal_minor: shopOrder.subtotalMinor,
        status: "PENDING" as const,
      })),
    ),
  );
  await appendHistory(trx, order.id, order.userId, "PENDING", "");
  await appendShopOrderHistory(trx, order.shopOrders, "PENDING", "");
  return true;
}

export async function findOrderIdByKey(
  db: Db,
  userId: string,
  key: string,
): Promise<{ id: string; fingerprint: string } | undefined> {
  const row = await db
    .selectFrom("orders")
    .select(["id", "request_fingerprint"])
    .where("user_id", "=", userId)
    .where("idempotency_key", "=", key)
    .executeTakeFirst();
  return row && { id: row.id, fingerprint: row.request_fingerprint };
}

export interface PaymentFacts {
  status: PaymentStatus;
  reference?: string;
  failureReason?: string;
  paymentId?: string;
}

/** An order's shop orders as checkout split it. */
export type PlacedShopOrder = Pick<NewShopOrder, "id" | "shopId" | "sellerId" | "subtotalMinor">;

export type TransitionOutcome =
  | {
      moved: true;
      from: OrderStatus;
      /** Its shop orders, in shop id order, as read under the order's lock. */
      shopOrders: PlacedShopOrder[];
    }
  | { moved: false; current: OrderStatus | undefined };

/**
 * Moves an order to a status if it is in one of `from`, with its history entry and any payment
 * facts. The row lock makes concurrent moves of one order take turns: the loser sees the
 * winner's status. `settle`: "due" leaves work for the recovery loop now, "done" clears it.
 */
export async function transitionOrder(
  trx: Transaction<OrderDatabase>,
  id: string,
  from: readonly OrderStatus[],
  to: OrderStatus,
  note: string,
  options: { payment?: PaymentFacts; settle?: "due" | "done" } = {},
): Promise<TransitionOutcome> {
  // The order with its shop orders in one read, all locked, the order's row first (as
  // lockShopOrder takes them): moves of the whole order and of one shop order take turns.
  const rows = await trx
    .selectFrom("orders")
    .leftJoin("shop_orders", "shop_orders.order_id", "orders.id")
    .select([
      "orders.status",
      "orders.user_id",
      "shop_orders.id as shop_order_id",
      "shop_orders.shop_id",
      "shop_orders.seller_id",
      "shop_orders.subtotal_minor",
      "shop_orders.status as shop_order_status",
    ])
    .where("orders.id", "=", id)
    .orderBy("shop_orders.shop_id")
    .forUpdate()
    .execute();
  const row = rows[0];
  if (!row || !from.includes(row.status)) return { moved: false, current: row?.status };
  const shopOrders = rows.flatMap((r) =>
    r.shop_order_id === null
      ? []
      : [
          {
            id: r.shop_order_id,
            shopId: r.shop_id!,
            sellerId: r.seller_id!,
            subtotalMinor: BigInt(r.subtotal_minor!),
            status: r.shop_order_status!,
          },
        ],
  );
  // A parcel on its way cannot be cancelled with its order.
  const shipped = shopOrders.some((shopOrder) => shopOrder.status === "SHIPPED" || shopOrder.status === "DELIVERED");
  if (to === "CANCELLED" && shipped) return { moved: false, current: row.status };
  const { payment, settle } = options;
  await deferStatement(
    trx,
    trx
      .updateTable("orders")
      .set({
        status: to,
        ...(payment && { payment_status: payment.status }),
        ...(payment?.reference !== undefined && { payment_reference: payment.reference }),
        ...(payment?.failureReason !== undefined && { payment_failure_reason: payment.failureReason }),
        ...(payment?.paymentId !== undefined && { payment_id: payment.paymentId }),
        ...(payment && payment.status !== "REQUIRES_ACTION" && { payment_redirect_url: "", payment_client_secret: "" }),
        ...(settle === "due" && { settle_after: sql<Date>`UTC_TIMESTAMP(6)` }),
        ...(settle === "done" && { settle_after: null }),
        update_time: sql<Date>`UTC_TIMESTAMP(6)`,
      })
      .where("id", "=", id),
  );
  await appendHistory(trx, id, row.user_id, to, note);
  await followOrderStatus(trx, shopOrders, shopOrderStatusFor(to), note);
  return {
    moved: true,
    from: row.status,
    shopOrders: shopOrders.map(({ id, shopId, sellerId, subtotalMinor }) => ({ id, shopId, sellerId, subtotalMinor })),
  };
}

/**
 * Moves the order's shop orders that are behind it along (the rules in shopOrderStatusFor and
 * followsOrderInto), each with a history entry.
 */
async function followOrderStatus(
  trx: Transaction<OrderDatabase>,
  shopOrders: ReadonlyArray<{ id: string; shopId: string; status: ShopOrderStatus }>,
  to: ShopOrderStatus,
  note: string,
): Promise<void> {
  const moving = shopOrders.filter((shopOrder) => followsOrderInto(shopOrder.status, to));
  if (moving.length === 0) return;
  await deferStatement(
    trx,
    trx
      .updateTable("shop_orders")
      .set({ status: to, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
      .where(
        "id",
        "in",
        moving.map((shopOrder) => shopOrder.id),
      ),
  );
  await appendShopOrderHistory(trx, moving, to, note);
}

/**
 * History entries of shop orders, each the next change of its shop's feed (WatchShopOrders).
 * With `feedOf`, the entry is also the next change of that buyer's feed (WatchOrders); without,
 * the order's own history entry of the same change is. The shop feed's part waits for the
 * commit (writeShopOrderHistory).
 */
async function appendShopOrderHistory(
  trx: Transaction<OrderDatabase>,
  shopOrders: ReadonlyArray<{ id: string; shopId: string }>,
  status: ShopOrderStatus,
  note: string,
  feedOf?: string,
): Promise<void> {
  if (shopOrders.length === 0) return;
  const feed = feedOf === undefined ? {} : { user_id: feedOf, user_seq: await nextFeedSeq(trx, feedOf) };
  for (const shopOrder of shopOrders)
    await gatherUntilCommit(trx, writeShopOrderHistory, {
      shopOrderId: shopOrder.id,
      shopId: shopOrder.shopId,
      status,
      note,
      feed,
    });
}

interface ShopHistoryEntry {
  shopOrderId: string;
  shopId: string;
  status: ShopOrderStatus;
  note: string;
  feed: { user_id?: string; user_seq?: RawBuilder<number> };
}

/**
 * Writes shop order history entries just before their transaction commits, each taking the next
 * number of its shop's feed. Every order of a shop takes that shop's feed row, so its lock is
 * taken last and held for as short as can be; and in shop id order (the order of one shop's
 * entries kept), so two transactions sharing shops never wait in a circle.
 */
const writeShopOrderHistory = async (trx: Transaction<OrderDatabase>, entries: ShopHistoryEntry[]) => {
  const byShop = [...entries].sort((a, b) => (a.shopId < b.shopId ? -1 : a.shopId > b.shopId ? 1 : 0));
  for (const entry of byShop) {
    const shopSeq = await nextShopFeedSeq(trx, entry.shopId);
    await deferStatement(
      trx,
      trx.insertInto("shop_order_status_history").values({
        shop_order_id: entry.shopOrderId,
        status: entry.status,
        note: entry.note,
        ...entry.feed,
        shop_id: entry.shopId,
        shop_seq: shopSeq,
      }),
    );
  }
};

/** The next number of the shop's feed; the feed row's lock orders commits. */
function nextShopFeedSeq(trx: Transaction<OrderDatabase>, shopId: string): Promise<RawBuilder<number>> {
  return nextInSequence(trx, "shop_feed", "shop_id", shopId);
}

/** A shop order locked for a fulfilment move, with what the move needs to know. */
export interface LockedShopOrder {
  id: string;
  orderId: string;
  shopId: string;
  sellerId: string;
  status: ShopOrderStatus;
  subtotalMinor: bigint;
  userId: string;
  orderStatus: OrderStatus;
  orderTotalMinor: bigint;
}

/**
 * Locks a shop order and its order for a fulfilment move. The order's row is locked first, as
 * transitionOrder does, so a shop's move and a move of the whole order take turns.
 */
export async function lockShopOrder(trx: Transaction<OrderDatabase>, id: string): Promise<LockedShopOrder | undefined> {
  const found = await trx.selectFrom("shop_orders").select("order_id").where("id", "=", id).executeTakeFirst();
  if (!found) return undefined;
  const order = await trx
    .selectFrom("orders")
    .select(["status", "user_id", "total_minor"])
    .where("id", "=", found.order_id)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const row = await trx
    .selectFrom("shop_orders")
    .selectAll()
    .where("id", "=", id)
    .forUpdate()
    .executeTakeFirstOrThrow();
  return {
    id: row.id,
    orderId: row.order_id,
    shopId: row.shop_id,
    sellerId: row.seller_id,
    status: row.status,
    subtotalMinor: BigInt(row.subtotal_minor),
    userId: order.user_id,
    orderStatus: order.status,
    orderTotalMinor: BigInt(order.total_minor),
  };
}

/**
 * Moves a locked shop order (lockShopOrder) to `to`, with the shipment when it ships, and its
 * history entry; then its order to `orderTo` when that differs. The buyer's feed gets one entry:
 * the order's if it moved, else the shop order's. Returns the statuses of all the order's shop
 * orders after the move.
 */
export async function moveLockedShopOrder(
  trx: Transaction<OrderDatabase>,
  shopOrder: LockedShopOrder,
  to: ShopOrderStatus,
  note: string,
  orderToFor: (statuses: ShopOrderStatus[]) => OrderStatus,
  shipment?: Shipment,
): Promise<{ orderTo: OrderStatus }> {
  await trx
    .updateTable("shop_orders")
    .set({
      status: to,
      ...(shipment && {
        carrier: shipment.carrier,
        tracking_number: shipment.trackingNumber,
        tracking_url: shipment.trackingUrl,
      }),
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", shopOrder.id)
    .execute();
  const siblings = await trx
    .selectFrom("shop_orders")
    .select("status")
    .where("order_id", "=", shopOrder.orderId)
    .execute();
  const orderTo = orderToFor(siblings.map((row) => row.status));
  const orderMoves = orderTo !== shopOrder.orderStatus;
  await appendShopOrderHistory(trx, [shopOrder], to, note, orderMoves ? undefined : shopOrder.userId);
  if (orderMoves) {
    await trx
      .updateTable("orders")
      .set({ status: orderTo, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
      .where("id", "=", shopOrder.orderId)
      .execute();
    await appendHistory(trx, shopOrder.orderId, shopOrder.userId, orderTo, note);
  }
  return { orderTo };
}

/**
 * Records that an order's card payment went through (AUTHORIZED) while the order is still
 * PENDING; false once it has moved on. From here on recovery finishes the order instead of
 * cancelling it.
 */
export async function recordAuthorizedPayment(
  db: Db,
  id: string,
  payment: { reference: string; paymentId: string },
): Promise<boolean> {
  const result = await db
    .updateTable("orders")
    .set({
      payment_status: "AUTHORIZED",
      payment_reference: payment.reference,
      payment_id: payment.paymentId,
      payment_redirect_url: "",
      payment_client_secret: "",
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", id)
    .where("status", "=", "PENDING")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Records that a PENDING order waits for its buyer (REQUIRES_ACTION, with what they must do)
 * or its provider (PROCESSING), and hands it to the recovery loop at `giveUpAt`. Only over a
 * payment not heard of yet: a payment event that got in first (AUTHORIZED, a failure) wins.
 */
export async function recordAwaitedPayment(
  db: Db,
  id: string,
  payment: {
    status: "REQUIRES_ACTION" | "PROCESSING";
    reference: string;
    paymentId: string;
    nextAction?: { redirectUrl: string; clientSecret: string };
  },
  giveUpAt: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("orders")
    .set({
      payment_status: payment.status,
      payment_reference: payment.reference,
      payment_id: payment.paymentId,
      payment_redirect_url: payment.nextAction?.redirectUrl ?? "",
      payment_client_secret: payment.nextAction?.clientSecret ?? "",
      settle_after: giveUpAt,
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", id)
    .where("status", "=", "PENDING")
    .where("payment_status", "in", ["PENDING", "REQUIRES_ACTION", "PROCESSING"])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Marks an order's compensation done: payment status (if it changed) and nothing left to settle. */
export async function markSettled(db: Db, id: string, paymentStatus?: PaymentStatus): Promise<void> {
  await db
    .updateTable("orders")
    .set({ settle_after: null, ...(paymentStatus && { payment_status: paymentStatus }) })
    .where("id", "=", id)
    .execute();
}

/**
 * What a refund of part of a locked order (lockShopOrder) must know: what was paid (the total of
 * an authorized card payment), what earlier refunds gave back, the tax, and every shop order's
 * subtotal in shop id order.
 */
export async function refundFactsOf(trx: Transaction<OrderDatabase>, orderId: string): Promise<RefundFacts> {
  const order = await trx
    .selectFrom("orders")
    .select(["total_minor", "tax_minor", "payment_method", "payment_status"])
    .where("id", "=", orderId)
    .executeTakeFirstOrThrow();
  const shopOrders = await trx
    .selectFrom("shop_orders")
    .select(["id", "subtotal_minor"])
    .where("order_id", "=", orderId)
    .orderBy("shop_id")
    .execute();
  const paid = order.payment_method === "CARD" && paidStatuses.includes(order.payment_status);
  return {
    paidMinor: paid ? BigInt(order.total_minor) : 0n,
    refundedMinor: await refundedSoFar(trx, orderId),
    taxMinor: BigInt(order.tax_minor),
    shopOrders: shopOrders.map((row) => ({ id: row.id, subtotalMinor: BigInt(row.subtotal_minor) })),
  };
}

async function refundedSoFar(db: Db, orderId: string): Promise<bigint> {
  const row = await db
    .selectFrom("order_refunds")
    .select((eb) => eb.fn.sum<string | null>("amount_minor").as("refunded"))
    .where("order_id", "=", orderId)
    .executeTakeFirst();
  return BigInt(row?.refunded ?? 0);
}

/** Records a refund once per key; a repeat with the same key changes nothing. */
export async function recordRefund(
  db: Db,
  refund: { orderId: string; refundKey: string; shopOrderId?: string; amountMinor: bigint },
): Promise<void> {
  await db
    .insertInto("order_refunds")
    .ignore()
    .values({
      order_id: refund.orderId,
      refund_key: refund.refundKey,
      shop_order_id: refund.shopOrderId ?? null,
      amount_minor: refund.amountMinor,
    })
    .execute();
}

/** The amount recorded under a refund key; undefined when none was. */
export async function refundOf(db: Db, refundKey: string): Promise<bigint | undefined> {
  const row = await db
    .selectFrom("order_refunds")
    .select("amount_minor")
    .where("refund_key", "=", refundKey)
    .executeTakeFirst();
  return row && BigInt(row.amount_minor);
}

/**
 * Records the refund of what is left of a cancelled order's payment (its total less the shop
 * orders' refunds) under the order's id, once; returns the amount recorded under that key (0
 * when nothing was left). Under the order's row lock, so no shop order's refund slips between
 * the sum and the insert.
 */
export async function recordRemainingRefund(trx: Transaction<OrderDatabase>, orderId: string): Promise<bigint> {
  await trx.selectFrom("orders").select("id").where("id", "=", orderId).forUpdate().executeTakeFirstOrThrow();
  const earlier = await refundOf(trx, orderId);
  if (earlier !== undefined) return earlier;
  const facts = await refundFactsOf(trx, orderId);
  const left = facts.paidMinor - facts.refundedMinor;
  if (left <= 0n) return 0n;
  await recordRefund(trx, { orderId, refundKey: orderId, amountMinor: left });
  return left;
}

/** Marks a cancelled shop order's stock and refund as still to be given back, from now. */
export async function markShopOrderSettleDue(trx: Transaction<OrderDatabase>, id: string): Promise<void> {
  await trx
    .updateTable("shop_orders")
    .set({ settle_after: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .execute();
}

/** A cancelled shop order whose stock or refund is still to be given back. */
export interface ShopOrderSettlement {
  id: string;
  orderId: string;
  items: Array<{ productId: string; quantity: number }>;
  /** What its cancellation recorded to refund, if anything. */
  refundMinor: bigint | undefined;
}

/** The settlement a shop order still owes; undefined when it owes none. */
export async function findShopOrderSettlement(db: Db, id: string): Promise<ShopOrderSettlement | undefined> {
  const row = await db
    .selectFrom("shop_orders")
    .select(["id", "order_id", "shop_id"])
    .where("id", "=", id)
    .where("settle_after", "is not", null)
    .executeTakeFirst();
  if (!row) return undefined;
  const lines = await db
    .selectFrom("order_lines")
    .select(["product_id", "quantity"])
    .where("order_id", "=", row.order_id)
    .where("shop_id", "=", row.shop_id)
    .orderBy("product_id")
    .execute();
  return {
    id,
    orderId: row.order_id,
    items: lines.map((line) => ({ productId: line.product_id, quantity: line.quantity })),
    refundMinor: await refundOf(db, id),
  };
}

/**
 * Marks a shop order's settlement done. When its order is cancelled and nothing of the card
 * payment is left unrefunded, the order's payment is REFUNDED.
 */
export async function markShopOrderSettled(
  trx: Transaction<OrderDatabase>,
  id: string,
  orderId: string,
): Promise<void> {
  const order = await trx
    .selectFrom("orders")
    .select(["status", "payment_status", "total_minor"])
    .where("id", "=", orderId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  await trx.updateTable("shop_orders").set({ settle_after: null }).where("id", "=", id).execute();
  if (order.status !== "CANCELLED" || order.payment_status !== "CAPTURED") return;
  if ((await refundedSoFar(trx, orderId)) < BigInt(order.total_minor)) return;
  await trx.updateTable("orders").set({ payment_status: "REFUNDED" }).where("id", "=", orderId).execute();
}

/** claimOverdueOrders for cancelled shop orders whose settlement is overdue. */
export function claimOverdueShopOrders(db: Db, now: Date, leaseMs: number, limit: number): Promise<string[]> {
  return claimOverdueRows(db, "shop_orders", now, leaseMs, limit);
}

/**
 * Claims orders whose settling is overdue, each for leaseMs: a replica that crashes while
 * settling one leaves it to the next claim after the lease; two replicas never claim one order
 * at once.
 */
export function claimOverdueOrders(db: Db, now: Date, leaseMs: number, limit: number): Promise<string[]> {
  return claimOverdueRows(db, "orders", now, leaseMs, limit);
}

async function claimOverdueRows(
  db: Db,
  table: "orders" | "shop_orders",
  now: Date,
  leaseMs: number,
  limit: number,
): Promise<string[]> {
  const due = await db
    .selectFrom(table)
    .select("id")
    .where("settle_after", "<=", now)
    .orderBy("settle_after")
    .limit(limit)
    .execute();
  const claimed: string[] = [];
  for (const { id } of due) {
    // Conditional: of two replicas claiming the same row at once, one moves it on.
    const result = await db
      .updateTable(table)
      .set({ settle_after: new Date(now.getTime() + leaseMs) })
      .where("id", "=", id)
      .where("settle_after", "<=", now)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1) claimed.push(id);
  }
  return claimed;
}

/** The next number of the buyer's feed; the feed row's lock orders commits. */
function nextFeedSeq(trx: Transaction<OrderDatabase>, userId: string): Promise<RawBuilder<number>> {
  return nextInSequence(trx, "order_feed", "user_id", userId);
}

/** A history entry with the next number of the buyer's feed. */
async function appendHistory(
  trx: Transaction<OrderDatabase>,
  orderId: string,
  userId: string,
  status: OrderStatus,
  note: string,
): Promise<void> {
  const seq = await nextFeedSeq(trx, userId);
  await deferStatement(
    trx,
    trx.insertInto("order_status_history").values({ order_id: orderId, user_id: userId, user_seq: seq, status, note }),
  );
}

export interface FeedEntry {
  seq: number;
  orderId: string;
}

/**
 * The buyer's changes after a feed position, oldest first: the orders' status changes and the
 * shops' fulfilment moves that left the order's status as it was.
 */
export async function feedAfter(db: Db, userId: string, afterSeq: number, limit: number): Promise<FeedEntry[]> {
  const orderRows = await db
    .selectFrom("order_status_history")
    .select(["user_seq", "order_id"])
    .where("user_id", "=", userId)
    .where("user_seq", ">", String(afterSeq))
    .orderBy("user_seq")
    .limit(limit)
    .execute();
  const shopRows = await db
    .selectFrom("shop_order_status_history")
    .innerJoin("shop_orders", "shop_orders.id", "shop_order_status_history.shop_order_id")
    .select(["shop_order_status_history.user_seq", "shop_orders.order_id"])
    .where("shop_order_status_history.user_id", "=", userId)
    .where("shop_order_status_history.user_seq", ">", String(afterSeq))
    .orderBy("shop_order_status_history.user_seq")
    .limit(limit)
    .execute();
  return [...orderRows, ...shopRows]
    .map((row) => ({ seq: Number(row.user_seq), orderId: row.order_id }))
    .sort((a, b) => a.seq - b.seq)
    .slice(0, limit);
}

/** The buyer's last feed position before a time (0 when none); the whole feed when time is undefined. */
export async function feedPositionBefore(db: Db, userId: string, time?: Date): Promise<number> {
  let orders = db
    .selectFrom("order_status_history")
    .select((eb) => eb.fn.max("user_seq").as("seq"))
    .where("user_id", "=", userId);
  let shops = db
    .selectFrom("shop_order_status_history")
    .select((eb) => eb.fn.max("user_seq").as("seq"))
    .where("user_id", "=", userId);
  if (time) {
    orders = orders.where("time", "<", time);
    shops = shops.where("time", "<", time);
  }
  const [a, b] = await Promise.all([orders.executeTakeFirst(), shops.executeTakeFirst()]);
  return Math.max(Number(a?.seq ?? 0), Number(b?.seq ?? 0));
}

export interface ShopFeedEntry {
  seq: number;
  shopOrderId: string;
  /** How many history entries the shop order had right after this change. */
  historyLength: number;
}

/** A shop's changes after a feed position, oldest first; only a seller's shop orders with `sellerId`. */
export async function shopFeedAfter(
  db: Db,
  shop: { shopId: string; sellerId?: string },
  afterSeq: number,
  limit: number,
): Promise<ShopFeedEntry[]> {
  let select = db
    .selectFrom("shop_order_status_history")
    .select(["shop_order_status_history.shop_seq", "shop_order_status_history.shop_order_id"])
    .where("shop_order_status_history.shop_id", "=", shop.shopId)
    .where("shop_order_status_history.shop_seq", ">", String(afterSeq));
  if (shop.sellerId !== undefined) {
    select = select
      .innerJoin("shop_orders", "shop_orders.id", "shop_order_status_history.shop_order_id")
      .where("shop_orders.seller_id", "=", shop.sellerId);
  }
  const rows = await select.orderBy("shop_order_status_history.shop_seq").limit(limit).execute();
  if (rows.length === 0) return [];
  const histories = await db
    .selectFrom("shop_order_status_history")
    .select(["shop_order_id", "shop_seq"])
    .where("shop_order_id", "in", [...new Set(rows.map((row) => row.shop_order_id))])
    .execute();
  return rows.map((row) => ({
    seq: Number(row.shop_seq),
    shopOrderId: row.shop_order_id,
    historyLength: histories.filter(
      (h) => h.shop_order_id === row.shop_order_id && Number(h.shop_seq) <= Number(row.shop_seq),
    ).length,
  }));
}

/** The shop's last feed position before a time (0 when none); the whole feed when time is undefined. */
export async function shopFeedPositionBefore(db: Db, shopId: string, time?: Date): Promise<number> {
  let select = db
    .selectFrom("shop_order_status_history")
    .select((eb) => eb.fn.max("shop_seq").as("seq"))
    .where("shop_id", "=", shopId);
  if (time) select = select.where("time", "<", time);
  const row = await select.executeTakeFirst();
  return Number(row?.seq ?? 0);
}

export async function findOrder(db: Db, id: string): Promise<Order | undefined> {
  // The order's own row comes in the same statement as its details: one round trip.
  const details = await orderDetails(db, [id], { withOrderRows: true });
  return assembleOrders(details.orders, details)[0];
}

/** Where an order and its payment stand, without its lines and history: one row read. */
export async function findOrderStanding(
  db: Db,
  id: string,
): Promise<{ status: OrderStatus; paymentMethod: PaymentMethod; paymentStatus: PaymentStatus } | undefined> {
  const row = await db
    .selectFrom("orders")
    .select(["status", "payment_method", "payment_status"])
    .where("id", "=", id)
    .executeTakeFirst();
  return row && { status: row.status, paymentMethod: row.payment_method, paymentStatus: row.payment_status };
}

export interface OrderFilter {
  userId?: string;
  status?: OrderStatus;
  createdFrom?: Date;
  createdBefore?: Date;
  /** Keyset: only orders older than this id (ids are time-ordered UUIDv7). */
  beforeId?: string;
  limit: number;
}

/** Orders matching the filter, newest first. */
export async function listOrders(db: Db, filter: OrderFilter): Promise<Order[]> {
  let select = db.selectFrom("orders").selectAll();
  if (filter.userId) select = select.where("user_id", "=", filter.userId);
  if (filter.status) select = select.where("status", "=", filter.status);
  if (filter.createdFrom) select = select.where("create_time", ">=", filter.createdFrom);
  if (filter.createdBefore) select = select.where("create_time", "<", filter.createdBefore);
  if (filter.beforeId) select = select.where("id", "<", filter.beforeId);
  return withDetails(db, await select.orderBy("id", "desc").limit(filter.limit).execute());
}

async function withDetails(db: Db, rows: OrderRow[]): Promise<Order[]> {
  if (rows.length === 0) return [];
  return assembleOrders(
    rows,
    await orderDetails(
      db,
      rows.map((row) => row.id),
    ),
  );
}

/** What of an order's row an Order is made of. */
type OrderRowShown = Omit<OrderRow, "idempotency_key" | "request_fingerprint" | "settle_after">;

/** Orders from their rows and the details orderDetails read of them. */
function assembleOrders(
  rows: readonly OrderRowShown[],
  { lines, history, shopOrders, shopHistory, refunds }: Awaited<ReturnType<typeof orderDetails>>,
): Order[] {
  return rows.map((row) => {
    const orderLines = lines.filter((line) => line.order_id === row.id).map(orderLineOf);
    return {
      id: row.id,
      userId: row.user_id,
      status: row.status,
      currencyCode: row.currency_code,
      lines: orderLines,
      subtotalMinor: BigInt(row.subtotal_minor),
      taxMinor: BigInt(row.tax_minor),
      shippingMinor: BigInt(row.shipping_minor),
      totalMinor: BigInt(row.total_minor),
      shippingAddress: jsonColumn<PostalAddress>(row.shipping_address),
      payment: {
        method: row.payment_method,
        status: row.payment_status,
        reference: row.payment_reference,
        failureReason: row.payment_failure_reason,
        paymentId: row.payment_id,
        ...(row.payment_status === "REQUIRES_ACTION" && {
          nextAction: { redirectUrl: row.payment_redirect_url, clientSecret: row.payment_client_secret },
        }),
      },
      history: history
        .filter((h) => h.order_id === row.id)
        .map((h) => ({ status: h.status, time: h.time, note: h.note, seq: Number(h.user_seq) })),
      shopOrders: shopOrders
        .filter((shopOrder) => shopOrder.order_id === row.id)
        .map((shopOrder) => shopOrderOf(shopOrder, row.currency_code, orderLines, shopHistory, refunds)),
      refundedMinor: refunds.filter((r) => r.order_id === row.id).reduce((sum, r) => sum + BigInt(r.amount_minor), 0n),
      stockTaken: row.stock_taken,
      createTime: row.create_time,
      updateTime: row.update_time,
    };
  });
}

/**
 * The lines, status history, shop orders with their history, and refunds of the orders, in one
 * statement: each table's rows as JSON objects under one UNION ALL (money as exact text, times
 * as MariaDB writes DATETIME(6)), put back into their row shapes and orders here.
 */
async function orderDetails(db: Db, orderIds: string[], { withOrderRows = false } = {}) {
  const ids = sql.join(orderIds);
  const orderRows = withOrderRows
    ? sql`SELECT 'order' AS k, JSON_OBJECT('id', id, 'user_id', user_id, 'status', status,
        'currency_code', currency_code, 'subtotal_minor', CAST(subtotal_minor AS CHAR),
        'tax_minor', CAST(tax_minor AS CHAR), 'shipping_minor', CAST(shipping_minor AS CHAR),
        'total_minor', CAST(total_minor AS CHAR), 'shipping_address', shipping_address,
        'payment_method', payment_method, 'payment_status', payment_status,
        'payment_reference', payment_reference, 'payment_failure_reason', payment_failure_reason,
        'payment_id', payment_id, 'payment_redirect_url', payment_redirect_url,
        'payment_client_secret', payment_client_secret, 'stock_taken', stock_taken,
        'create_time', create_time, 'update_time', update_time) AS j
      FROM orders WHERE id IN (${ids})
    UNION ALL `
    : sql``;
  const { rows } = await sql<{ k: "order" | "line" | "history" | "shop" | "shop_history" | "refund"; j: unknown }>`
    ${orderRows}SELECT 'line' AS k, JSON_OBJECT('order_id', order_id, 'product_id', product_id, 'shop_id', shop_id,
        'name', name, 'unit_price_minor', CAST(unit_price_minor AS CHAR), 'quantity', quantity,
        'line_total_minor', CAST(line_total_minor AS CHAR), 'image', image) AS j
      FROM order_lines WHERE order_id IN (${ids})
    UNION ALL SELECT 'history', JSON_OBJECT('id', CAST(id AS CHAR), 'order_id', order_id, 'user_id', user_id,
        'user_seq', CAST(user_seq AS CHAR), 'status', status, 'note', note, 'time', time)
      FROM order_status_history WHERE order_id IN (${ids})
    UNION ALL SELECT 'shop', JSON_OBJECT('id', id, 'order_id', order_id, 'shop_id', shop_id, 'seller_id', seller_id,
        'subtotal_minor', CAST(subtotal_minor AS CHAR), 'status', status, 'carrier', carrier,
        'tracking_number', tracking_number, 'tracking_url', tracking_url, 'create_time', create_time,
        'update_time', update_time, 'settle_after', settle_after)
      FROM shop_orders WHERE order_id IN (${ids})
    UNION ALL SELECT 'shop_history', JSON_OBJECT('id', CAST(h.id AS CHAR), 'shop_order_id', h.shop_order_id,
        'status', h.status, 'note', h.note, 'time', h.time)
      FROM shop_order_status_history AS h JOIN shop_orders AS s ON s.id = h.shop_order_id
      WHERE s.order_id IN (${ids})
    UNION ALL SELECT 'refund', JSON_OBJECT('order_id', order_id, 'shop_order_id', shop_order_id,
        'amount_minor', CAST(amount_minor AS CHAR))
      FROM order_refunds WHERE order_id IN (${ids})`.execute(db);
  const of = <T>(kind: (typeof rows)[number]["k"]) =>
    rows.filter((row) => row.k === kind).map((row) => jsonColumn<T>(row.j));
  type Timed<T, K extends keyof T> = Omit<T, K> & Record<K, string>;
  const byId = (a: { id: string }, b: { id: string }) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1);
  const byText =
    <K extends string>(key: K) =>
    (a: Record<K, string>, b: Record<K, string>) =>
      a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0;
  return {
    orders: of<Timed<OrderRowShown, "create_time" | "update_time">>("order").map((order) => ({
      ...order,
      create_time: dateOfDatetime(order.create_time),
      update_time: dateOfDatetime(order.update_time),
    })),
    lines: of<OrderLineRow>("line").sort(byText("product_id")),
    history: of<Timed<OrderStatusHistoryRow, "time">>("history")
      .sort(byId)
      .map((h) => ({ ...h, time: dateOfDatetime(h.time) })),
    shopOrders: of<Timed<ShopOrderRow, "create_time" | "update_time"> & { settle_after: string | null }>("shop")
      .sort(byText("shop_id"))
      .map((shopOrder) => ({
        ...shopOrder,
        create_time: dateOfDatetime(shopOrder.create_time),
        update_time: dateOfDatetime(shopOrder.update_time),
        settle_after: shopOrder.settle_after === null ? null : dateOfDatetime(shopOrder.settle_after),
      })),
    shopHistory: of<{ id: string; shop_order_id: string; status: ShopOrderStatus; note: string; time: string }>(
      "shop_history",
    )
      .sort(byId)
      .map((h) => ({ ...h, time: dateOfDatetime(h.time) })),
    refunds: of<{ order_id: string; shop_order_id: string | null; amount_minor: string }>("refund"),
  };
}

/** A DATETIME(6) as MariaDB writes it in JSON ("2026-12-05 05:26:23.123456"), stored as UTC. */
function dateOfDatetime(text: string): Date {
  return new Date(`${text.replace(" ", "T")}Z`);
}

function orderLineOf(line: OrderLineRow): OrderLine {
  return {
    productId: line.product_id,
    shopId: line.shop_id,
    name: line.name,
    unitPriceMinor: BigInt(line.unit_price_minor),
    quantity: line.quantity,
    lineTotalMinor: BigInt(line.line_total_minor),
    imageJson: line.image,
  };
}

async function shopOrderHistories(db: Db, shopOrderIds: string[]) {
  if (shopOrderIds.length === 0) return [];
  return db
    .selectFrom("shop_order_status_history")
    .selectAll()
    .where("shop_order_id", "in", shopOrderIds)
    .orderBy("id")
    .execute();
}

async function refundsOf(db: Db, orderIds: string[]) {
  if (orderIds.length === 0) return [];
  return db
    .selectFrom("order_refunds")
    .select(["order_id", "shop_order_id", "amount_minor"])
    .where("order_id", "in", orderIds)
    .execute();
}

/** A shop order from its row, with its lines picked from its order's, its history entries and its refund. */
function shopOrderOf(
  row: ShopOrderRow,
  currencyCode: string,
  orderLines: OrderLine[],
  history: Array<{ shop_order_id: string; status: ShopOrderStatus; time: Date; note: string }>,
  refunds: Array<{ shop_order_id: string | null; amount_minor: string }>,
): ShopOrder {
  return {
    id: row.id,
    orderId: row.order_id,
    shopId: row.shop_id,
    sellerId: row.seller_id,
    currencyCode,
    lines: orderLines.filter((line) => line.shopId === row.shop_id),
    subtotalMinor: BigInt(row.subtotal_minor),
    status: row.status,
    carrier: row.carrier,
    trackingNumber: row.tracking_number,
    trackingUrl: row.tracking_url,
    history: history
      .filter((h) => h.shop_order_id === row.id)
      .map((h) => ({ status: h.status, time: h.time, note: h.note })),
    refundedMinor: refunds
      .filter((r) => r.shop_order_id === row.id)
      .reduce((sum, r) => sum + BigInt(r.amount_minor), 0n),
    createTime: row.create_time,
    updateTime: row.update_time,
  };
}

export async function findShopOrder(db: Db, id: string): Promise<ShopOrder | undefined> {
  return (await shopOrdersWithDetails(db, { id, limit: 1 }))[0];
}

export interface ShopOrderFilter {
  shopId?: string;
  /** Only shop orders of this seller: what a seller may see. */
  sellerId?: string;
  status?: ShopOrderStatus;
  /** Only shop orders created at or after this time. */
  createdFrom?: Date;
  /** Only shop orders created before this time. */
  createdBefore?: Date;
  /** Keyset: only shop orders older than this id (ids are time-ordered UUIDv7). */
  beforeId?: string;
  limit: number;
}

/** Shop orders matching the filter, newest first. */
export async function listShopOrders(db: Db, filter: ShopOrderFilter): Promise<ShopOrder[]> {
  return shopOrdersWithDetails(db, filter);
}

async function shopOrdersWithDetails(db: Db, filter: ShopOrderFilter & { id?: string }): Promise<ShopOrder[]> {
  let select = db
    .selectFrom("shop_orders")
    .innerJoin("orders", "orders.id", "shop_orders.order_id")
    .selectAll("shop_orders")
    .select(["orders.currency_code", "orders.shipping_address"]);
  if (filter.id) select = select.where("shop_orders.id", "=", filter.id);
  if (filter.shopId) select = select.where("shop_orders.shop_id", "=", filter.shopId);
  if (filter.sellerId) select = select.where("shop_orders.seller_id", "=", filter.sellerId);
  if (filter.status) select = select.where("shop_orders.status", "=", filter.status);
  if (filter.createdFrom) select = select.where("shop_orders.create_time", ">=", filter.createdFrom);
  if (filter.createdBefore) select = select.where("shop_orders.create_time", "<", filter.createdBefore);
  if (filter.beforeId) select = select.where("shop_orders.id", "<", filter.beforeId);
  const rows = await select.orderBy("shop_orders.id", "desc").limit(filter.limit).execute();
  if (rows.length === 0) return [];
  const lines = await db
    .selectFrom("order_lines")
    .selectAll()
    .where(
      "order_id",
      "in",
      rows.map((row) => row.order_id),
    )
    .orderBy("product_id")
    .execute();
  const history = await shopOrderHistories(
    db,
    rows.map((row) => row.id),
  );
  const refunds = await refundsOf(db, [...new Set(rows.map((row) => row.order_id))]);
  return rows.map((row) => ({
    ...shopOrderOf(
      row,
      row.currency_code,
      lines.filter((line) => line.order_id === row.order_id).map(orderLineOf),
      history,
      refunds,
    ),
    shippingAddress: jsonColumn<PostalAddress>(row.shipping_address),
  }));
}

/** The buyer's orders with their addresses, locked so a concurrent erasure waits. */
export async function lockShippingAddressesOfBuyer(
  trx: Transaction<OrderDatabase>,
  userId: string,
): Promise<Array<{ id: string; shippingAddress: PostalAddress }>> {
  const rows = await trx
    .selectFrom("orders")
    .select(["id", "shipping_address"])
    .where("user_id", "=", userId)
    .forUpdate()
    .execute();
  return rows.map((row) => ({ id: row.id, shippingAddress: jsonColumn<PostalAddress>(row.shipping_address) }));
}

export async function replaceShippingAddress(db: Db, orderId: string, address: PostalAddress): Promise<void> {
  await db
    .updateTable("orders")
    .set({ shipping_address: JSON.stringify(address) })
    .where("id", "=", orderId)
    .execute();
}
