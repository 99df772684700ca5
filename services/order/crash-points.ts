// Test-only crash points (BAZAAR_ORDER_CRASH_AT): the process dies at a named moment between
// checkout's or a cancellation's steps, so the e2e tests can prove that the recovery loop finishes
// what was left half done. They wrap the stock port the use cases call; the use cases know
// nothing of them, and production wiring refuses them (config.ts).
import type { StockPort } from "./domain/ports.ts";

export const crashPoints = [
  "none",
  /** Stock held, no payment started. */
  "after-stock-reserve",
  /** Payment taken (card) and recorded, the held stock not yet committed. */
  "before-stock-commit",
  /** A shop order's cancellation committed, its stock and refund not yet given back. */
  "before-stock-give-back",
] as const;

export type CrashPoint = (typeof crashPoints)[number];

/**
 * The stock port, dying at `point`. `die` is SIGKILL in the service; a test's may throw. Past a
 * `die` that returns, the step never settles, as if the process were gone.
 */
export function crashingStock(stock: StockPort, point: CrashPoint, die: () => void): StockPort {
  const dead = (): Promise<never> => {
    die();
    return new Promise<never>(() => {});
  };
  switch (point) {
    case "none":
      return stock;
    case "after-stock-reserve":
      return { ...stock, reserve: (orderId, items, options) => stock.reserve(orderId, items, options).then(dead) };
    case "before-stock-commit":
      return { ...stock, commit: dead };
    case "before-stock-give-back":
      return { ...stock, giveBackItems: dead };
  }
}
