// The refunds already audited: SQL of AdminService.RefundPayment's audit-once rule.
import type { Transaction } from "kysely";
import type { AdminDatabase } from "./database.ts";

/** Remembers the refund as audited; false when it already was. */
export async function recordAuditedRefund(
  trx: Transaction<AdminDatabase>,
  refund: { refundId: string; paymentId: string },
): Promise<boolean> {
  const result = await trx
    .insertInto("audited_refunds")
    .ignore()
    .values({ refund_id: refund.refundId, payment_id: refund.paymentId })
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}
