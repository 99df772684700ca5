// Every SQL statement of the payment service. Status moves are conditional on the status they
// start from (UPDATE … WHERE status IN …), so of two concurrent moves one wins and the other
// sees it changed nothing.
import { sql, type Kysely, type Transaction } from "kysely";
import type { Payment, PaymentStatus, Refund } from "../domain/payment.ts";
import type { PaymentDatabase, PaymentRow, RefundRow } from "./database.ts";

type Db = Kysely<PaymentDatabase> | Transaction<PaymentDatabase>;

export async function findPayment(db: Db, id: string, options: { lock?: boolean } = {}): Promise<Payment | undefined> {
  let query = db.selectFrom("payments").selectAll().where("id", "=", id);
  if (options.lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row ? withRefunds(db, row) : undefined;
}

export async function findPaymentByOrder(db: Db, orderId: string): Promise<Payment | undefined> {
  const row = await db.selectFrom("payments").selectAll().where("order_id", "=", orderId).executeTakeFirst();
  return row ? withRefunds(db, row) : undefined;
}

/** The payment a provider's id names (webhooks that do not echo the Bazaar id). */
export async function findPaymentByProviderId(
  db: Db,
  provider: string,
  providerPaymentId: string,
): Promise<Payment | undefined> {
  const row = await db
    .selectFrom("payments")
    .selectAll()
    .where("provider_payment_id", "=", providerPaymentId)
    .where("provider", "=", provider)
    .executeTakeFirst();
  return row ? withRefunds(db, row) : undefined;
}

/**
 * Ids of payments in one of `statuses` that neither changed nor were reconciled for
 * `olderThanSeconds`, those waiting longest first.
 */
export async function stalePaymentIds(
  db: Db,
  statuses: readonly PaymentStatus[],
  olderThanSeconds: number,
  limit: number,
): Promise<string[]> {
  const before = sql<Date>`UTC_TIMESTAMP(6) - INTERVAL ${olderThanSeconds} SECOND`;
  const rows = await db
    .selectFrom("payments")
    .select("id")
    .where("status", "in", [...statuses])
    .where("update_time", "<", before)
    .where((eb) => eb.or([eb("reconcile_time", "is", null), eb("reconcile_time", "<", before)]))
    .orderBy(sql`COALESCE(reconcile_time, update_time)`)
    .limit(limit)
    .execute();
  return rows.map((row) => row.id);
}

/** Notes that reconciliation asked the provider about a payment just now. */
export async function markReconciled(db: Db, id: string): Promise<void> {
  await db.updateTable("payments").set({ reconcile_time: sql<Date>`UTC_TIMESTAMP(6)` }).where("id", "=", id).execute();
}

export interface NewPayment {
  id: string;
  orderId: string;
  currencyCode: string;
  amountMinor: bigint;
  status: PaymentStatus;
  provider: string;
  providerPaymentId: string;
  redirectUrl: string;
  clientSecret: string;
  failureReason: string;
  /** What the provider took already (a capture at authorization). */
  capturedMinor: bigint;
}

/**
 * Inserts a payment, created and updated now; answers it as stored, or undefined when the order
 * already has one (the unique order_id). The times come from here, not the server's clock, so
 * the answer is the row without reading it back.
 */
export async function insertPayment(
  trx: Transaction<PaymentDatabase>,
  payment: NewPayment,
): Promise<Payment | undefined> {
  const now = new Date();
  const row: PaymentRow = {
    id: payment.id,
    order_id: payment.orderId,
    currency_code: payment.currencyCode,
    amount_minor: payment.amountMinor.toString(),
    status: payment.status,
    provider: payment.provider,
    provider_payment_id: payment.providerPaymentId,
    redirect_url: payment.redirectUrl,
    client_secret: payment.clientSecret,
    failure_reason: payment.failureReason,
    captured_minor: payment.capturedMinor.toString(),
    refunded_minor: "0",
    create_time: now,
    update_time: now,
    reconcile_time: null,
  };
  try {
    const { reconcile_time: _neverSet, ...stored } = row;
    await trx
      .insertInto("payments")
      .values({
        ...stored,
        amount_minor: payment.amountMinor,
        captured_minor: payment.capturedMinor,
        refunded_minor: 0n,
      })
      .execute();
    return paymentOf(row, []);
  } catch (error) {
    if ((error as { errno?: number }).errno === 1062) return undefined;
    throw error;
  }
}

/** Moves a payment to `to` when it is in one of `from`; true when this call moved it. */
export async function moveStatus(
  trx: Transaction<PaymentDatabase>,
  id: string,
  from: readonly PaymentStatus[],
  to: PaymentStatus,
  set: { capturedMinor?: bigint; failureReason?: string } = {},
): Promise<boolean> {
  const result = await trx
    .updateTable("payments")
    .set({
      status: to,
      ...(set.capturedMinor !== undefined ? { captured_minor: set.capturedMinor } : {}),
      ...(set.failureReason !== undefined ? { failure_reason: set.failureReason.slice(0, 300) } : {}),
      ...(to !== "REQUIRES_ACTION" ? { redirect_url: "", client_secret: "" } : {}),
      update_time: new Date(),
    })
    .where("id", "=", id)
    .where("status", "in", [...from])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function findRefundByKey(db: Db, refundKey: string): Promise<Refund | undefined> {
  const row = await db.selectFrom("payment_refunds").selectAll().where("refund_key", "=", refundKey).executeTakeFirst();
  return row ? refundOf(row) : undefined;
}

/**
 * Records a refund and adds it to its payment's total; false when its refund key was taken
 * meanwhile (by a refund of another payment: the caller holds this payment's row lock). The
 * CHECK on payments keeps the total within the capture all the same.
 */
export async function insertRefund(
  trx: Transaction<PaymentDatabase>,
  refund: Omit<Refund, "createTime">,
  status: PaymentStatus,
): Promise<boolean> {
  try {
    await trx
      .insertInto("payment_refunds")
      .values({
        id: refund.id,
        payment_id: refund.paymentId,
        refund_key: refund.refundKey,
        amount_minor: refund.amountMinor,
        provider_refund_id: refund.providerRefundId,
      })
      .execute();
  } catch (error) {
    if ((error as { errno?: number }).errno === 1062) return false;
    throw error;
  }
  await trx
    .updateTable("payments")
    .set((eb) => ({
      refunded_minor: eb("refunded_minor", "+", refund.amountMinor as never) as never,
      status,
      update_time: new Date(),
    }))
    .where("id", "=", refund.paymentId)
    .execute();
  return true;
}

export interface PaymentFilter {
  status?: PaymentStatus;
  orderId?: string;
  /** Rows older than this id (UUIDv7 ids sort by creation). */
  beforeId?: string;
  limit: number;
}

/** Newest first, without refunds (a list does not show them). */
export async function listPayments(db: Db, filter: PaymentFilter): Promise<Payment[]> {
  let query = db.selectFrom("payments").selectAll().orderBy("id", "desc").limit(filter.limit);
  if (filter.status) query = query.where("status", "=", filter.status);
  if (filter.orderId) query = query.where("order_id", "=", filter.orderId);
  if (filter.beforeId) query = query.where("id", "<", filter.beforeId);
  const rows = await query.execute();
  return rows.map((row) => paymentOf(row, []));
}

/**
 * The payment with its refunds. refunded_minor grows in the statement that records each refund
 * (every refund is of a positive amount), so a payment at 0 has none to read.
 */
async function withRefunds(db: Db, row: PaymentRow): Promise<Payment> {
  if (BigInt(row.refunded_minor) === 0n) return paymentOf(row, []);
  const refunds = await db
    .selectFrom("payment_refunds")
    .selectAll()
    .where("payment_id", "=", row.id)
    .orderBy("id")
    .execute();
  return paymentOf(row, refunds.map(refundOf));
}

function paymentOf(row: PaymentRow, refunds: Refund[]): Payment {
  return {
    id: row.id,
    orderId: row.order_id,
    currencyCode: row.currency_code,
    amountMinor: BigInt(row.amount_minor),
    status: row.status,
    provider: row.provider,
    providerPaymentId: row.provider_payment_id,
    nextAction:
      row.status === "REQUIRES_ACTION" ? { redirectUrl: row.redirect_url, clientSecret: row.client_secret } : undefined,
    failureReason: row.failure_reason,
    capturedMinor: BigInt(row.captured_minor),
    refundedMinor: BigInt(row.refunded_minor),
    createTime: row.create_time,
    updateTime: row.update_time,
    refunds,
  };
}

function refundOf(row: RefundRow): Refund {
  return {
    id: row.id,
    paymentId: row.payment_id,
    refundKey: row.refund_key,
    amountMinor: BigInt(row.amount_minor),
    providerRefundId: row.provider_refund_id,
    createTime: row.create_time,
  };
}
