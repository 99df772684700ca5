// Test-only crash points (BAZAAR_ORDER_CRASH_AT): the process dies at a named moment between
// checkout's or a cancellation's steps, so the e2e tests can prove that the recovery loop finishes
// what was left half done. They wrap the ports the use cases call; the use cases know nothing of
// them, and production wiring refuses them (config.ts).
import type { OrderDeps } from "./domain/ports.ts";

export const crashPoints = [
  "none",
  /** Stock taken, no payment started. */
  "after-stock-reserve",
  /** Stock sold, the card payment authorized and recorded, not yet captured. */
  "before-payment-capture",
  /** A shop order's cancellation committed, its stock and refund not yet given back. */
  "before-stock-give-back",
] as const;

export type CrashPoint = (typeof crashPoints)[number];

type CrashablePorts = Pick<OrderDeps, "stock" | "payments">;

/**
 * The stock and payment ports, dying at `point`. `die` is SIGKILL in the service; a test's may
 * throw. Past a `die` that returns, the step never settles, as if the process were gone.
 */
export function crashingPorts({ stock, payments }: CrashablePorts, point: CrashPoint, die: () => void): CrashablePorts {
  const dead = (): Promise<never> => {
    die();
    return new Promise<never>(() => {});
  };
  switch (point) {
    case "none":
      return { stock, payments };
    case "after-stock-reserve":
      return {
        stock: { ...stock, reserve: (orderId, items, options) => stock.reserve(orderId, items, options).then(dead) },
        payments,
      };
    case "before-payment-capture":
      return { stock, payments: { ...payments, capture: dead } };
    case "before-stock-give-back":
      return { stock: { ...stock, giveBackItems: dead }, payments };
  }
}
