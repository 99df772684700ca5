// The product service's configuration.
import { envReader, readServiceBaseConfig, type Env, type ServiceBaseConfig } from "../kit/config.ts";

export interface ProductConfig extends ServiceBaseConfig {
  /** ISO 4217 code of the one currency the catalog is priced in. */
  currencyCode: string;
  /** LOCAL DEV: seed the demo catalog on first start. */
  demoSeed: boolean;
}

export function loadProductConfig(env: Env): ProductConfig {
  const read = envReader(env);
  return {
    ...readServiceBaseConfig(read, "product"),
    currencyCode: read.matching("BAZAAR_CURRENCY", "USD", /^[A-Z]{3}$/, "an ISO 4217 code like USD"),
    demoSeed: read.flag("BAZAAR_DEMO_SEED", false),
  };
}
