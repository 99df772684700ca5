// The card part of the checkout saga. Checkout starts the payment; what it answers decides the
// next step, now or later: authorized → payment captured, order CONFIRMED (the stock of an order
// that only held it committed first); declined → PAYMENT_FAILED with the stock back; waiting for
// the buyer (3-D Secure) or for the provider → the order stays PENDING until a payment event
// (events/payment-outcomes.ts) or the recovery loop moves it on. The same step runs for checkout,
// each payment event and recovery, so a webhook that overtakes checkout, a duplicate event or a
// crash between steps ends the same way.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { OrderDatabase } from "../db/database.ts";
import { findOrder, findOrderStanding, recordAuthorizedPayment, recordAwaitedPayment } from "../db/order.repository.ts";
import type { OrderFacts } from "./order.ts";
import { startPayment, type CardPayment } from "./payments.ts";
import type { OrderDeps } from "./ports.ts";
import {
  abandonOrder,
  confirmOrder,
  endedUnfulfilled,
  giveBack,
  isOutcomeUnknown,
  repeatUntilKnown,
} from "./settle.ts";

/** Checkout's card step, once the stock is taken. */
export async function payByCard(
  deps: OrderDeps,
  order: OrderFacts,
  request: { cardToken: string; returnUrl: string },
): Promise<void> {
  const payment = await startPayment(deps.payments, {
    orderId: order.id,
    amountMinor: order.totalMinor,
    currencyCode: deps.currencyCode,
    cardToken: request.cardToken,
    returnUrl: request.returnUrl,
    capture: deps.captureAtOnce,
  });
  if (!payment) {
    const reason = "the payment provider is unavailable";
    return abandonOrder(deps, order, "PAYMENT_FAILED", reason, { status: "FAILED", failureReason: reason });
  }
  await followPayment(deps, order, payment);
  if (payment.status === "REQUIRES_ACTION" || payment.status === "PROCESSING") {
    // A decision that came before the wait was recorded was left to checkout by the payment
    // events' consumer (see followPaymentOfOrder): one more look now that the order waits.
    const now = await deps.payments.ofOrder(order.id);
    if (now && now.status !== payment.status) await followPaymentOfOrder(deps, order.id);
  }
}

/**
 * Moves an order along by where its payment stands. A PENDING order follows it; an order that
 * was cancelled or failed meanwhile gets a payment that went through anyway given back (a late
 * success). `waitIsOver`: the order's time to wait for the buyer or provider has run out.
 */
export async function followPayment(
  deps: OrderDeps,
  order: OrderFacts,
  payment: CardPayment,
  options: { waitIsOver?: boolean } = {},
): Promise<void> {
  const facts = { reference: payment.providerPaymentId, paymentId: payment.id };
  switch (payment.status) {
    case "AUTHORIZED":
    case "CAPTURED":
      return finishPaidOrder(deps, order, payment);
    case "FAILED": {
      const reason = payment.failureReason || "the card was declined";
      return abandonOrder(deps, order, "PAYMENT_FAILED", reason, {
        status: "DECLINED",
        failureReason: reason,
        ...facts,
      });
    }
    case "REQUIRES_ACTION":
    case "PROCESSING": {
      if (options.waitIsOver) {
        return abandonOrder(deps, order, "CANCELLED", "the payment was not completed in time", {
          status: payment.status,
          ...facts,
        });
      }
      const giveUpAt = new Date(Date.now() + deps.paymentWaitMs);
      const waiting = {
        status: payment.status,
        ...facts,
        ...(payment.nextAction && { nextAction: payment.nextAction }),
      };
      if (await recordAwaitedPayment(deps.db, order.id, waiting, giveUpAt)) return;
      // The order ended first: the recovery loop found no payment while checkout's request to
      // start one was still on its way, and cancelled. An authorization left awaiting the buyer
      // must not outlive its order; one still PROCESSING is given back when its outcome arrives.
      if (payment.status === "REQUIRES_ACTION") await giveBackIfEnded(deps, order.id);
      return;
    }
    default:
      // Voided or refunded by someone else: nothing will be paid.
      return abandonOrder(deps, order, "CANCELLED", "the payment was cancelled", { status: "FAILED", ...facts });
  }
}

async function finishPaidOrder(deps: OrderDeps, order: OrderFacts, payment: CardPayment): Promise<void> {
  const facts = { reference: payment.providerPaymentId, paymentId: payment.id };
  if (payment.status === "CAPTURED" && order.stockTaken === "SOLD") {
    // Taken as it was authorized (automatic capture): confirming is all that is left. An order
    // settled first (the wait ran out, the buyer cancelled) gets the money refunded instead.
    return confirmOrder(deps, order, "paid", { status: "CAPTURED", ...facts });
  }
  if (!(await recordAuthorizedPayment(deps.db, order.id, facts))) {
    // The order was settled first. Cancelled or failed (the wait ran out, the buyer cancelled):
    // the money goes back, the order stays as it is.
    return giveBackIfEnded(deps, order.id);
  }
  // Orders placed when checkout only held the stock: the hold is committed now that it is paid.
  if (order.stockTaken === "HELD") {
    try {
      await repeatUntilKnown(() => deps.stock.commit(order.id));
    } catch (error) {
      if (isOutcomeUnknown(error)) throw error;
      // The hold expired or was given back by a cancellation while the buyer paid.
      return abandonOrder(deps, order, "CANCELLED", "the stock hold ran out before the payment completed");
    }
  }
  try {
    await repeatUntilKnown(() => deps.payments.capture(payment.id));
  } catch (error) {
    if (isOutcomeUnknown(error) || ConnectError.from(error).code !== Code.FailedPrecondition) throw error;
    // Voided meanwhile (by a cancellation that lost the race to this step): nothing to take.
    return abandonOrder(deps, order, "PAYMENT_FAILED", "the payment could not be taken", {
      status: "FAILED",
      ...facts,
    });
  }
  await confirmOrder(deps, order, "paid", { status: "CAPTURED", ...facts });
}

/** For a payment that comes after its order ended unfulfilled: stock and money go back. */
async function giveBackIfEnded(deps: OrderDeps, orderId: string): Promise<void> {
  const current = await findOrderStanding(deps.db, orderId);
  if (endedUnfulfilled(current?.status)) await giveBack(deps, orderId);
}

/**
 * The current payment of an order and where the order is, for a payment event or recovery.
 * `reader` reads the order's standing: a payment event's consumer passes its own transaction,
 * whose connection it holds anyway. Asking the pool for a second one waited behind checkouts
 * holding all of it: the consumer's event lag reached a p99 of 4.9 s under 32 card checkouts.
 */
export async function followPaymentOfOrder(
  deps: OrderDeps,
  orderId: string,
  options: { waitIsOver?: boolean; leaveToCheckout?: boolean } = {},
  reader: Kysely<OrderDatabase> = deps.db,
): Promise<void> {
  // One row first: most payment events find their order settled by checkout already.
  const standing = await findOrderStanding(reader, orderId);
  if (standing?.paymentMethod !== "CARD") return;
  // `leaveToCheckout` (a payment event): while checkout has not recorded a wait, the payment's
  // outcome is checkout's to follow — it is still running, or the recovery loop takes its order
  // over. Events are published the moment the payment service commits, mostly before checkout
  // hears the answer; following them too did every confirmation twice.
  const checkoutFollows =
    standing.status === "PENDING" && (standing.paymentStatus === "PENDING" || standing.paymentStatus === "AUTHORIZED");
  if (options.leaveToCheckout && checkoutFollows) return;
  if (standing.status !== "PENDING" && !endedUnfulfilled(standing.status)) return;
  // A cancelled order whose payment was given back already has nothing left to follow.
  if (standing.status !== "PENDING" && ["VOIDED", "REFUNDED"].includes(standing.paymentStatus)) return;
  const payment = await deps.payments.ofOrder(orderId);
  if (!payment) return;
  // A cancelled or failed order only cares about a payment that went through anyway, or one
  // started too late that waits for the buyer (voided).
  const wentThrough = payment.status === "AUTHORIZED" || payment.status === "CAPTURED";
  if (standing.status !== "PENDING" && !wentThrough && payment.status !== "REQUIRES_ACTION") return;
  // An event telling a waiting order what it already records has nothing new for it.
  if (options.leaveToCheckout && standing.status === "PENDING" && standing.paymentStatus === payment.status) return;
  const order = await findOrder(deps.db, orderId);
  if (order) await followPayment(deps, order, payment, options);
}
