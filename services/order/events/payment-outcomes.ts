// The checkout saga's second half: the payment service's events move an order that waits for
// its payment. A card confirmed by the buyer (3-D Secure) or a provider that answered late
// arrives here as PaymentAuthorized or PaymentCaptured (or PaymentFailed), usually through a
// webhook; a PaymentRequiresAction for an order that ended meanwhile voids the payment. The
// handler reads the payment's current state rather than trusting the event's order, so
// duplicates and events that overtake each other, or overtake checkout itself, end the same way.
import type { Kysely } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import type { OrderDatabase } from "../db/database.ts";
import { followPaymentOfOrder } from "../domain/card-payment.ts";
import { checkoutActor } from "../domain/settle.ts";
import type { OrderDeps } from "../domain/ports.ts";

export const paymentOutcomesConsumer = {
  name: "order-payment-outcomes",
  filterSubject: "bazaar.payment.>",
  /**
   * A payment moved by the order service's own call (checkout's CreatePayment, a capture, a void)
   * is followed by whoever made the call, with its answer in hand, or by the recovery loop if that
   * process went away: its event has nothing left for this consumer, which also left it to
   * checkout when it read the order (followPaymentOfOrder's `leaveToCheckout`). Every card
   * checkout's PaymentCaptured is one: skipping it saves a transaction per order. Except a
   * payment that waits for the buyer: checkout's request may have been on its way while the
   * recovery loop, seeing no payment, cancelled the order, and checkout may never hear the
   * answer (its caller went away, its process died); its event is then what voids it.
   */
  wants: (event: Event) => event.actorId !== checkoutActor || event.payload.case === "paymentRequiresAction",
};

/**
 * The consumer's handler. It reads in the consumer's transaction (`trx`); the order's own writes
 * are their own transactions, each idempotent.
 */
export function followPaymentEvents(deps: OrderDeps): (event: Event, trx?: Kysely<OrderDatabase>) => Promise<void> {
  return async (event, trx) => {
    switch (event.payload.case) {
      // A capture is the order service's own doing, or the provider's as it authorized
      // (automatic capture: a payment taken at once announces only its capture). A void may be
      // the provider's (an expired 3-D Secure): the waiting order is cancelled at once.
      case "paymentAuthorized":
      case "paymentCaptured":
      case "paymentFailed":
      case "paymentCanceled":
      case "paymentRequiresAction":
        // A payment of no order (an admin's or a test's) is no business of checkout's.
        if (event.payload.value.orderId)
          await followPaymentOfOrder(deps, event.payload.value.orderId, { leaveToCheckout: true }, trx);
        return;
      default:
        return;
    }
  };
}
