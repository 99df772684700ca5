// The cart service's configuration.
import { defaultPorts, envReader, readServiceBaseConfig, type Env, type ServiceBaseConfig } from "../kit/config.ts";

export interface CartConfig extends ServiceBaseConfig {
  /** Where the product service is (BatchGetProducts). */
  productAddress: string;
  currencyCode: string;
}

export function loadCartConfig(env: Env): CartConfig {
  const read = envReader(env);
  return {
    ...readServiceBaseConfig(read, "cart"),
    productAddress: read.address("BAZAAR_PRODUCT_ADDR", `127.0.0.1:${defaultPorts.product}`),
    currencyCode: read.matching("BAZAAR_CURRENCY", "USD", /^[A-Z]{3}$/, "an ISO 4217 code like USD"),
  };
}
