// The admin service's configuration.
import { defaultPorts, envReader, readServiceBaseConfig, type Env, type ServiceBaseConfig } from "../kit/config.ts";

export interface AdminConfig extends ServiceBaseConfig {
  /** Where the order service is (OrderAdminService). */
  orderAddress: string;
  currencyCode: string;
}

export function loadAdminConfig(env: Env): AdminConfig {
  const read = envReader(env);
  return {
    ...readServiceBaseConfig(read, "admin"),
    orderAddress: read.address("BAZAAR_ORDER_ADDR", `127.0.0.1:${defaultPorts.order}`),
    currencyCode: read.matching("BAZAAR_CURRENCY", "USD", /^[A-Z]{3}$/, "an ISO 4217 code like USD"),
  };
}
