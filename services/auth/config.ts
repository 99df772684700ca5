// The auth service's configuration.
import { envReader, readServiceBaseConfig, type Env, type ServiceBaseConfig } from "../kit/config.ts";

export interface AuthConfig extends ServiceBaseConfig {
  /** LOCAL DEV: create the dev accounts on first start. */
  demoSeed: boolean;
}

export function loadAuthConfig(env: Env): AuthConfig {
  const read = envReader(env);
  return { ...readServiceBaseConfig(read, "auth"), demoSeed: read.flag("BAZAAR_DEMO_SEED", false) };
}
