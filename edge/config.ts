// The edge's configuration, from BAZAAR_* environment variables (see README).
import { envReader, defaultPorts, readLogLevel, type Env } from "../services/kit/config.ts";

export interface EdgeConfig {
  /** host:port the public HTTP server listens on (HTTP/1.1 and h2c on the same port). */
  address: string;
  backends: { auth: string; product: string; cart: string; order: string; admin: string };
  /** Largest request body accepted, checked before parsing. */
  maxBodyBytes: number;
  /** Deadline given to a backend call when the client sent none. */
  defaultTimeoutMs: number;
  logLevel: string;
}

export function loadEdgeConfig(env: Env): EdgeConfig {
  const read = envReader(env);
  const backend = (name: keyof typeof defaultPorts) =>
    read.address(`BAZAAR_${name.toUpperCase()}_ADDR`, `127.0.0.1:${defaultPorts[name]}`);
  return {
    address: read.address("BAZAAR_EDGE_ADDR", "127.0.0.1:8080"),
    backends: {
      auth: backend("auth"),
      product: backend("product"),
      cart: backend("cart"),
      order: backend("order"),
      admin: backend("admin"),
    },
    maxBodyBytes: read.int("BAZAAR_EDGE_MAX_BODY_BYTES", 64 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
    defaultTimeoutMs: read.int("BAZAAR_EDGE_TIMEOUT_MS", 5_000, { min: 100, max: 60_000 }),
    logLevel: readLogLevel(read),
  };
}
