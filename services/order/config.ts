// The order service's configuration.
import { defaultPorts, envReader, readServiceBaseConfig, type Env, type ServiceBaseConfig } from "../kit/config.ts";
import type { PricingPolicy } from "./domain/order.ts";

export interface OrderConfig extends ServiceBaseConfig {
  productAddress: string;
  cartAddress: string;
  currencyCode: string;
  pricing: PricingPolicy;
}

export function loadOrderConfig(env: Env): OrderConfig {
  const read = envReader(env);
  return {
    ...readServiceBaseConfig(read, "order"),
    productAddress: read.address("BAZAAR_PRODUCT_ADDR", `127.0.0.1:${defaultPorts.product}`),
    cartAddress: read.address("BAZAAR_CART_ADDR", `127.0.0.1:${defaultPorts.cart}`),
    currencyCode: read.matching("BAZAAR_CURRENCY", "USD", /^[A-Z]{3}$/, "an ISO 4217 code like USD"),
    pricing: {
      taxRateBasisPoints: read.int("BAZAAR_TAX_RATE_BASIS_POINTS", 500, { min: 0, max: 10_000 }),
      shippingMinor: BigInt(read.int("BAZAAR_SHIPPING_COST_MINOR", 0, { min: 0 })),
    },
  };
}
