// A provider's webhook: verified, recorded once, applied by converging its payment on the
// provider's current view. The event id is recorded in the transaction that applies it, so the
// same event delivered many times (also at once) changes things once; the others are
// DUPLICATE. An event for a payment not stored yet (it can arrive before CreatePayment's insert
// commits) is KEPT and applied by applyKeptWebhooks once the payment exists.
import { inTransaction } from "../../kit/db.ts";
import type { WebhookOutcome } from "../db/database.ts";
import { findPayment, findPaymentByProviderId } from "../db/payment.repository.ts";
import {
  insertWebhookEvent,
  keptWebhookEvents,
  settleKeptWebhookEvent,
  type WebhookEventRow,
} from "../db/webhook.repository.ts";
import { convergeOn } from "./converge.ts";
import type { PaymentDeps } from "./manage-payments.ts";
import type { Payment } from "./payment.ts";

/** No provider of this name is configured: NOT_FOUND. */
export class WebhookProviderNotFoundError extends Error {
  override name = "WebhookProviderNotFoundError";
  readonly provider: string;
  constructor(provider: string) {
    super(`no payment provider "${provider}" is configured`);
    this.provider = provider;
  }
}

export interface WebhookDelivery {
  provider: string;
  payload: Buffer;
  headers: Record<string, string>;
}

export interface WebhookAnswer {
  eventId: string;
  outcome: Exclude<WebhookOutcome, "EXPIRED"> | "DUPLICATE";
}

/** Throws WebhookSignatureError (nothing stored) or WebhookProviderNotFoundError. */
export async function handleWebhook(deps: PaymentDeps, delivery: WebhookDelivery): Promise<WebhookAnswer> {
  if (delivery.provider !== deps.provider.name) throw new WebhookProviderNotFoundError(delivery.provider);
  const event = deps.provider.verifyWebhook(delivery.payload, delivery.headers);
  const row: WebhookEventRow = {
    provider: deps.provider.name,
    eventId: event.eventId.slice(0, 255),
    eventType: event.type,
    providerPaymentId: event.providerPaymentId.slice(0, 255),
    paymentId: (event.paymentId ?? "").slice(0, 36),
  };
  const answer = (outcome: WebhookAnswer["outcome"]): WebhookAnswer => ({ eventId: event.eventId, outcome });
  // Refund events change nothing here: RefundPayment records refunds as the provider answers them.
  if (!event.type.startsWith("payment.")) {
    const recorded = await inTransaction(deps.db, (trx) => insertWebhookEvent(trx, row, "IGNORED"));
    return answer(recorded ? "IGNORED" : "DUPLICATE");
  }
  const payment = await paymentOf(deps, row);
  if (!payment) {
    const recorded = await inTransaction(deps.db, (trx) => insertWebhookEvent(trx, row, "KEPT"));
    return answer(recorded ? "KEPT" : "DUPLICATE");
  }
  // Asked before the transaction, so no row lock waits on the provider; a view that is older
  // than a concurrent convergence's is harmless, as moves only go forward.
  const view = await deps.provider.retrieve({ paymentId: payment.id, providerPaymentId: payment.providerPaymentId });
  const applied = await inTransaction(deps.db, async (trx) => {
    if (!(await insertWebhookEvent(trx, { ...row, paymentId: payment.id }, "APPLIED"))) return false;
    const locked = await findPayment(trx, payment.id, { lock: true });
    await convergeOn(trx, deps, locked!, view);
    return true;
  });
  return answer(applied ? "APPLIED" : "DUPLICATE");
}

export interface KeptWebhookRun {
  applied: number;
  waiting: number;
  expired: Array<{ provider: string; eventId: string; ageSeconds: number }>;
}

/**
 * Applies KEPT webhooks whose payment now exists; gives up on those older than
 * `maxAgeSeconds` (EXPIRED: kept for inspection, never deleted).
 */
export async function applyKeptWebhooks(
  deps: PaymentDeps,
  options: { maxAgeSeconds: number },
): Promise<KeptWebhookRun> {
  const run: KeptWebhookRun = { applied: 0, waiting: 0, expired: [] };
  for (const kept of await keptWebhookEvents(deps.db, 100)) {
    if (kept.provider !== deps.provider.name) continue;
    const payment = await paymentOf(deps, kept);
    if (!payment) {
      if (kept.ageSeconds > options.maxAgeSeconds) {
        if (await settleKeptWebhookEvent(deps.db, kept.provider, kept.eventId, "EXPIRED")) {
          run.expired.push({ provider: kept.provider, eventId: kept.eventId, ageSeconds: kept.ageSeconds });
        }
      } else {
        run.waiting++;
      }
      continue;
    }
    const view = await deps.provider.retrieve({ paymentId: payment.id, providerPaymentId: payment.providerPaymentId });
    const applied = await inTransaction(deps.db, async (trx) => {
      if (!(await settleKeptWebhookEvent(trx, kept.provider, kept.eventId, "APPLIED"))) return false;
      const locked = await findPayment(trx, payment.id, { lock: true });
      await convergeOn(trx, deps, locked!, view);
      return true;
    });
    if (applied) run.applied++;
  }
  return run;
}

async function paymentOf(deps: PaymentDeps, row: Pick<WebhookEventRow, "paymentId" | "providerPaymentId">) {
  let payment: Payment | undefined;
  if (row.paymentId) payment = await findPayment(deps.db, row.paymentId);
  if (!payment && row.providerPaymentId) {
    payment = await findPaymentByProviderId(deps.db, deps.provider.name, row.providerPaymentId);
  }
  return payment;
}
