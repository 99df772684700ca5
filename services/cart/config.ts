// The cart service's configuration.
import { defaultProductMaxAgeMs } from "./domain/manage-cart.ts";
import { envReader, readServiceBaseConfig, serviceTarget, type Env, type ServiceBaseConfig } from "../kit/config.ts";

export interface CartConfig extends ServiceBaseConfig {
  /** Where the product service is (BatchGetProducts). */
  productAddress: string;
  currencyCode: string;
  /** How old a product snapshot's facts may be for a cart change to go by them. */
  productMaxAgeMs: number;
}

export function loadCartConfig(env: Env): CartConfig {
  const read = envReader(env);
  return {
    ...readServiceBaseConfig(read, "cart"),
    productAddress: serviceTarget(read, "product"),
    currencyCode: read.matching("BAZAAR_CURRENCY", "USD", /^[A-Z]{3}$/, "an ISO 4217 code like USD"),
    productMaxAgeMs: read.int("BAZAAR_CART_PRODUCT_MAX_AGE_MS", defaultProductMaxAgeMs, { min: 0 }),
  };
}
