// The admin service's configuration.
import {
  envReader,
  readServiceBaseConfig,
  serviceTarget,
  type Env,
  type ServiceBaseConfig,
  type ServiceName,
} from "../kit/config.ts";

export interface AdminConfig extends ServiceBaseConfig {
  /** Where the order service is (OrderAdminService). */
  orderAddress: string;
  /**
   * Where every service is (BAZAAR_<SERVICE>_ADDR), for their dead letters (DeadLetterService);
   * product's and payment's are also where shops, categories and payments are managed.
   */
  serviceAddresses: Record<ServiceName, string>;
  currencyCode: string;
}

export function loadAdminConfig(env: Env): AdminConfig {
  const read = envReader(env);
  const base = readServiceBaseConfig(read, "admin");
  const addressOf = (service: ServiceName) => serviceTarget(read, service);
  return {
    ...base,
    orderAddress: addressOf("order"),
    serviceAddresses: {
      auth: addressOf("auth"),
      product: addressOf("product"),
      cart: addressOf("cart"),
      order: addressOf("order"),
      admin: addressOf("admin"),
      payment: addressOf("payment"),
      notification: addressOf("notification"),
    },
    currencyCode: read.matching("BAZAAR_CURRENCY", "USD", /^[A-Z]{3}$/, "an ISO 4217 code like USD"),
  };
}
