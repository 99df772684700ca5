// The edge's configuration, from BAZAAR_* environment variables (see README).
import {
  ConfigError,
  defaultMetricsPorts,
  envReader,
  readEventStreamConfig,
  readLogLevel,
  readTracingConfig,
  serviceTarget,
  type defaultPorts,
  type Env,
  type TracingConfig,
} from "../services/kit/config.ts";
import { trustedProxies, type TrustedProxies } from "../services/kit/client-address.ts";
import type { RateLimit } from "./rate-limit.ts";

export interface EdgeConfig {
  /** host:port the public HTTP server listens on (HTTP/1.1 and h2c on the same port). */
  address: string;
  backends: {
    auth: string;
    product: string;
    cart: string;
    order: string;
    admin: string;
    payment: string;
    notification: string;
  };
  /** Largest request body accepted, checked before parsing (some RPCs allow more). */
  maxBodyBytes: number;
  /** Longest backend call of a read, a write and PlaceOrder; a client's shorter deadline wins. */
  readTimeoutMs: number;
  writeTimeoutMs: number;
  checkoutTimeoutMs: number;
  /** Browser origins allowed to call the edge (CORS); none by default. */
  corsOrigins: string[];
  /**
   * Where the storefront's pictures come from and go to: the renditions' public host and the
   * object store a browser PUTs uploads to. Its Content-Security-Policy allows these besides itself.
   */
  mediaOrigins: string[];
  /**
   * Whether the edge serves the browser storefront at / (and the pages mails link to) and the
   * Swagger UI at /docs. A deployment whose shop front lives elsewhere turns them off;
   * /openapi.json stays, as the description of the public API.
   */
  storefront: boolean;
  docs: boolean;
  /** Token buckets per client address and per signed-in user. */
  perAddressLimit: RateLimit;
  perUserLimit: RateLimit;
  /** Proxies in front of the edge whose X-Forwarded-For is believed (load balancers). */
  trustedProxies: TrustedProxies;
  /** How long browsers, CDNs and the edge may reuse an anonymous catalog answer; 0: not at all. */
  publicMaxAgeSeconds: number;
  /** How long the edge keeps a public answer while the catalog's events evict what changed. */
  publicCacheSeconds: number;
  /** The event stream: catalog changes for the cache, deactivations for the deny list. */
  natsUrl: string;
  natsStreamReplicas: number;
  /** Access tokens' lifetime: how far back the deny list's feed replays. */
  accessTokenTtlSeconds: number;
  logLevel: string;
  /** host:port of the Prometheus listener (/metrics), never the public address. */
  metricsAddress: string;
  tracing: TracingConfig;
}

const list = (text: string) =>
  text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

export function loadEdgeConfig(env: Env): EdgeConfig {
  const read = envReader(env);
  const backend = (name: keyof typeof defaultPorts) => serviceTarget(read, name);
  const corsOrigins = list(read.string("BAZAAR_EDGE_CORS_ORIGINS", ""));
  const badOrigin = corsOrigins.find((origin) => !/^https?:\/\/[\w.-]+(:\d{1,5})?$/.test(origin));
  if (badOrigin)
    throw new ConfigError(
      `BAZAAR_EDGE_CORS_ORIGINS must list origins like https://shop.example.com, got "${badOrigin}"`,
    );
  const address = read.address("BAZAAR_EDGE_ADDR", "127.0.0.1:8080");
  const metricsAddress = read.address("BAZAAR_EDGE_METRICS_ADDR", `127.0.0.1:${defaultMetricsPorts.edge}`);
  // Metrics tell the inside of the system; they never share the public port.
  const portOf = (hostPort: string) => hostPort.slice(hostPort.lastIndexOf(":") + 1);
  if (portOf(metricsAddress) !== "0" && portOf(metricsAddress) === portOf(address)) {
    throw new ConfigError(
      `BAZAAR_EDGE_METRICS_ADDR must use another port than BAZAAR_EDGE_ADDR, got "${metricsAddress}"`,
    );
  }
  return {
    address,
    backends: {
      auth: backend("auth"),
      product: backend("product"),
      cart: backend("cart"),
      order: backend("order"),
      admin: backend("admin"),
      // Only for POST /v1/webhooks/{provider} and the test provider's page /pay/test/{id}.
      payment: backend("payment"),
      notification: backend("notification"),
    },
    maxBodyBytes: read.int("BAZAAR_EDGE_MAX_BODY_BYTES", 64 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
    readTimeoutMs: read.int("BAZAAR_EDGE_READ_TIMEOUT_MS", 2_000, { min: 100, max: 60_000 }),
    writeTimeoutMs: read.int("BAZAAR_EDGE_WRITE_TIMEOUT_MS", 5_000, { min: 100, max: 60_000 }),
    checkoutTimeoutMs: read.int("BAZAAR_EDGE_CHECKOUT_TIMEOUT_MS", 8_000, { min: 100, max: 60_000 }),
    corsOrigins,
    mediaOrigins: mediaOrigins(read),
    storefront: read.flag("BAZAAR_EDGE_STOREFRONT", true),
    docs: read.flag("BAZAAR_EDGE_DOCS", true),
    perAddressLimit: {
      ratePerSecond: read.int("BAZAAR_EDGE_RATE_PER_ADDRESS", 100, { min: 1, max: 1_000_000 }),
      burst: read.int("BAZAAR_EDGE_BURST_PER_ADDRESS", 200, { min: 1, max: 1_000_000 }),
    },
    perUserLimit: {
      ratePerSecond: read.int("BAZAAR_EDGE_RATE_PER_USER", 30, { min: 1, max: 1_000_000 }),
      burst: read.int("BAZAAR_EDGE_BURST_PER_USER", 60, { min: 1, max: 1_000_000 }),
    },
    trustedProxies: trustedProxies(list(read.string("BAZAAR_EDGE_TRUSTED_PROXIES", "")), "BAZAAR_EDGE_TRUSTED_PROXIES"),
    publicMaxAgeSeconds: read.int("BAZAAR_EDGE_PUBLIC_MAX_AGE_S", 5, { min: 0, max: 3_600 }),
    publicCacheSeconds: read.int("BAZAAR_EDGE_PUBLIC_CACHE_S", 300, { min: 1, max: 86_400 }),
    ...readEventStreamConfig(read, "edge"),
    logLevel: readLogLevel(read),
    metricsAddress,
    tracing: readTracingConfig(read),
  };
}

/**
 * BAZAAR_EDGE_MEDIA_ORIGINS when set; else the origins the product service itself derives from
 * the same variables (BAZAAR_MEDIA_PUBLIC_URL, BAZAAR_MEDIA_S3_ENDPOINT, with its defaults), so
 * one setting serves both.
 */
function mediaOrigins(read: ReturnType<typeof envReader>): string[] {
  const given = list(read.string("BAZAAR_EDGE_MEDIA_ORIGINS", ""));
  const bad = given.find((origin) => !/^https?:\/\/[\w.-]+(:\d{1,5})?$/.test(origin));
  if (bad)
    throw new ConfigError(`BAZAAR_EDGE_MEDIA_ORIGINS must list origins like https://img.example.com, got "${bad}"`);
  if (given.length > 0) return given;
  const endpoint = read.url("BAZAAR_MEDIA_S3_ENDPOINT", "http://127.0.0.1:4569", ["http", "https"]);
  const publicUrl = read.url("BAZAAR_MEDIA_PUBLIC_URL", endpoint, ["http", "https"]);
  return [...new Set([new URL(publicUrl).origin, new URL(endpoint).origin])];
}
