// Converging: a payment is moved to where the provider says it stands now, with an event for
// every move on the way. Webhooks and reconciliation both end here, and neither trusts what an
// event says happened: each asks the provider (retrieve) and converges on the answer, so a
// duplicate, a delivery out of order or a lost webhook leaves the same result.
import type { Transaction } from "kysely";
import { inTransaction } from "../../kit/db.ts";
import { appendEvent, type NewEvent } from "../../kit/events.ts";
import type { PaymentDatabase } from "../db/database.ts";
import { findPayment, markReconciled, moveStatus, stalePaymentIds } from "../db/payment.repository.ts";
import type { PaymentDeps } from "./manage-payments.ts";
import type { Payment, PaymentStatus } from "./payment.ts";
import type { ProviderPayment } from "./provider.ts";

const source = "payment";

/** Not yet decided on our side: a webhook or reconciliation may still move them. */
const open: readonly PaymentStatus[] = ["REQUIRES_ACTION", "PROCESSING"];

/**
 * Moves `payment` (read under its row lock in `trx`) toward the provider's `view`; answers the
 * statuses it moved through. Moves only go forward: nothing leaves FAILED, CAPTURED or a
 * refund status, so an older view arriving late changes nothing.
 */
export async function convergeOn(
  trx: Transaction<PaymentDatabase>,
  deps: PaymentDeps,
  payment: Payment,
  view: ProviderPayment,
): Promise<PaymentStatus[]> {
  const ids = { paymentId: payment.id, orderId: payment.orderId };
  const money = (amountMinor: bigint) => ({ currencyCode: payment.currencyCode, amountMinor });
  const moves: PaymentStatus[] = [];
  const move = async (
    from: readonly PaymentStatus[],
    to: PaymentStatus,
    payload: NewEvent["payload"] | undefined,
    set: { capturedMinor?: bigint; failureReason?: string } = {},
  ) => {
    if (!(await moveStatus(trx, payment.id, from, to, set))) return false;
    moves.push(to);
    if (payload) await appendEvent(trx, { source, subjectId: payment.id, payload });
    return true;
  };
  const authorized: NewEvent["payload"] = {
    case: "paymentAuthorized",
    value: { ...ids, amount: money(payment.amountMinor) },
  };

  if (payment.status === "CANCELED" && view.status === "AUTHORIZED") {
    // Succeeded at the provider after we voided it (a race a real provider allows): void it
    // again there; on our side it stays cancelled, never authorized.
    await deps.provider.cancel({ paymentId: payment.id, providerPaymentId: payment.providerPaymentId });
    return moves;
  }
  if (open.includes(payment.status)) {
    switch (view.status) {
      case "PROCESSING":
        await move(["REQUIRES_ACTION"], "PROCESSING", undefined);
        return moves;
      case "AUTHORIZED":
        await move(open, "AUTHORIZED", authorized);
        return moves;
      case "CAPTURED":
        // It skipped AUTHORIZED on our side: announce both, in order.
        if (!(await move(open, "AUTHORIZED", authorized))) return moves;
        break;
      case "FAILED":
        await move(
          open,
          "FAILED",
          { case: "paymentFailed", value: { ...ids, reason: view.failureReason ?? "" } },
          {
            failureReason: view.failureReason ?? "",
          },
        );
        return moves;
      case "CANCELED":
        await move(open, "CANCELED", { case: "paymentCanceled", value: ids });
        return moves;
      default:
        return moves;
    }
  }
  const now = moves.length > 0 ? moves.at(-1)! : payment.status;
  if (now !== "AUTHORIZED") return moves;
  switch (view.status) {
    case "CAPTURED":
      await move(
        ["AUTHORIZED"],
        "CAPTURED",
        { case: "paymentCaptured", value: { ...ids, amount: money(view.amountCapturedMinor) } },
        { capturedMinor: view.amountCapturedMinor },
      );
      break;
    case "CANCELED":
      await move(["AUTHORIZED"], "CANCELED", { case: "paymentCanceled", value: ids });
      break;
    case "FAILED":
      await move(
        ["AUTHORIZED"],
        "FAILED",
        { case: "paymentFailed", value: { ...ids, reason: view.failureReason ?? "" } },
        {
          failureReason: view.failureReason ?? "",
        },
      );
      break;
  }
  return moves;
}

/** Asks the provider about one payment and converges on its answer in one transaction. */
export async function convergePayment(deps: PaymentDeps, paymentId: string): Promise<PaymentStatus[]> {
  const known = await findPayment(deps.db, paymentId);
  if (!known) return [];
  const view = await deps.provider.retrieve({ paymentId, providerPaymentId: known.providerPaymentId });
  return inTransaction(deps.db, async (trx) => {
    const payment = await findPayment(trx, paymentId, { lock: true });
    return payment ? convergeOn(trx, deps, payment, view) : [];
  });
}

/** Statuses reconciliation asks the provider about once they have not changed for a while. */
export const reconciled: readonly PaymentStatus[] = ["REQUIRES_ACTION", "PROCESSING", "AUTHORIZED"];

export type ReconcileOutcome = "settled" | "unchanged" | "failed";

/**
 * Converges payments left waiting (REQUIRES_ACTION, PROCESSING, AUTHORIZED) for longer than
 * `afterSeconds`, so a lost webhook never leaves a payment, and its order, waiting for ever.
 */
export async function reconcilePayments(
  deps: PaymentDeps,
  options: { afterSeconds: number; limit?: number; onError?: (paymentId: string, error: unknown) => void },
): Promise<Record<ReconcileOutcome, number>> {
  const counts: Record<ReconcileOutcome, number> = { settled: 0, unchanged: 0, failed: 0 };
  for (const id of await stalePaymentIds(deps.db, reconciled, options.afterSeconds, options.limit ?? 100)) {
    try {
      counts[(await convergePayment(deps, id)).length > 0 ? "settled" : "unchanged"]++;
    } catch (error) {
      counts.failed++;
      options.onError?.(id, error);
    }
    // Asked once per threshold, answered or not: a payment that stays AUTHORIZED (or whose
    // provider keeps failing) does not take every run's places from the others.
    await markReconciled(deps.db, id);
  }
  return counts;
}
