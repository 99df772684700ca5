// The order service's configuration.
import {
  ConfigError,
  envReader,
  readServiceBaseConfig,
  serviceTarget,
  type Env,
  type ServiceBaseConfig,
} from "../kit/config.ts";
import { crashPoints, type CrashPoint } from "./crash-points.ts";
import type { PricingPolicy } from "./domain/order.ts";

export interface OrderConfig extends ServiceBaseConfig {
  productAddress: string;
  cartAddress: string;
  paymentAddress: string;
  currencyCode: string;
  pricing: PricingPolicy;
  /** How long checkout has to settle an order before the recovery loop takes it over. */
  recoverAfterMs: number;
  /**
   * How long an order waits for its buyer to confirm a card payment (3-D Secure) or for a slow
   * provider before it is cancelled; shorter than the stock hold (BAZAAR_RESERVATION_TTL_SECONDS).
   */
  paymentWaitMs: number;
  recoverySweepMs: number;
  /** WatchOrders reads the feed at least this often, should NATS announcements stop. */
  feedPollMs: number;
  /** BAZAAR_REQUIRE_VERIFIED_EMAIL: PlaceOrder refuses buyers whose token says the e-mail is unverified. */
  requireVerifiedEmail: boolean;
  /**
   * A card payment is taken as it is authorized (the provider's automatic capture): one call and
   * one payment event fewer per order than authorizing, then capturing.
   */
  captureAtOnce: boolean;
  /** Test-only: the process kills itself (SIGKILL) at this checkout or cancellation step. */
  crashAt: CrashPoint;
}

export function loadOrderConfig(env: Env): OrderConfig {
  const read = envReader(env);
  const base = readServiceBaseConfig(read, "order");
  const crashAt = read.oneOf("BAZAAR_ORDER_CRASH_AT", "none", crashPoints);
  if (crashAt !== "none" && base.environment === "production")
    throw new ConfigError("BAZAAR_ORDER_CRASH_AT is for tests and refused in production");
  const captureAtOnce = read.flag("BAZAAR_ORDER_CAPTURE_AT_ONCE", true);
  if (crashAt === "before-payment-capture" && captureAtOnce)
    throw new ConfigError(
      "BAZAAR_ORDER_CRASH_AT=before-payment-capture needs BAZAAR_ORDER_CAPTURE_AT_ONCE=false: no capture step follows otherwise",
    );
  return {
    ...base,
    productAddress: serviceTarget(read, "product"),
    cartAddress: serviceTarget(read, "cart"),
    paymentAddress: serviceTarget(read, "payment"),
    currencyCode: read.matching("BAZAAR_CURRENCY", "USD", /^[A-Z]{3}$/, "an ISO 4217 code like USD"),
    pricing: {
      taxRateBasisPoints: read.int("BAZAAR_TAX_RATE_BASIS_POINTS", 500, { min: 0, max: 10_000 }),
      shippingMinor: BigInt(read.int("BAZAAR_SHIPPING_COST_MINOR", 0, { min: 0 })),
    },
    recoverAfterMs: read.int("BAZAAR_ORDER_RECOVER_AFTER_MS", 30_000, { min: 1_000 }),
    paymentWaitMs: read.int("BAZAAR_ORDER_PAYMENT_WAIT_SECONDS", 600, { min: 1, max: 86_400 }) * 1000,
    recoverySweepMs: read.int("BAZAAR_ORDER_RECOVERY_SWEEP_MS", 5_000, { min: 100 }),
    feedPollMs: read.int("BAZAAR_ORDER_FEED_POLL_MS", 5_000, { min: 100 }),
    requireVerifiedEmail: read.flag("BAZAAR_REQUIRE_VERIFIED_EMAIL", false),
    captureAtOnce,
    crashAt,
  };
}
