// Typed configuration from environment variables. Every value is read once at start; a bad
// value stops the process with one line naming the variable, before anything is listening.

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type Env = Readonly<Record<string, string | undefined>>;

export interface EnvReader {
  string(name: string, fallback?: string): string;
  int(name: string, fallback: number, range?: { min?: number; max?: number }): number;
  url(name: string, fallback: string, protocols: string[]): string;
  /** One URL or a comma-separated list of them. */
  urls(name: string, fallback: string, protocols: string[]): string;
  /** host:port, as gRPC addresses are written: where this process listens. */
  address(name: string, fallback: string): string;
  /**
   * Where a service is reached: host:port, a comma-separated list of host:port (replicas,
   * balanced by the client), or dns:///name:port (every address the name resolves to).
   */
  target(name: string, fallback: string): string;
  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T;
  matching(name: string, fallback: string, pattern: RegExp, description: string): string;
  /** "1"/"true" or "0"/"false". */
  flag(name: string, fallback: boolean): boolean;
}

export function envReader(env: Env): EnvReader {
  const raw = (name: string) => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };
  return {
    string(name, fallback) {
      const value = raw(name) ?? fallback;
      if (value === undefined) throw new ConfigError(`${name} is required`);
      return value;
    },
    int(name, fallback, range = {}) {
      const text = raw(name);
      if (text === undefined) return fallback;
      const value = Number(text);
      const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
      if (!Number.isInteger(value) || value < min || value > max) {
        throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${text}"`);
      }
      return value;
    },
    url(name, fallback, protocols) {
      const text = raw(name) ?? fallback;
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw new ConfigError(`${name} must be a URL (${protocols.join(" or ")}), got "${redact(text)}"`);
      }
      if (!protocols.includes(url.protocol.replace(/:$/, ""))) {
        throw new ConfigError(`${name} must use ${protocols.join(" or ")}, got "${redact(text)}"`);
      }
      return text;
    },
    urls(name, fallback, protocols) {
      const items = (raw(name) ?? fallback).split(",").map((item) => item.trim());
      return items.map((item) => envReader({ [name]: item }).url(name, item, protocols)).join(",");
    },
    address(name, fallback) {
      const text = raw(name) ?? fallback;
      if (!isHostPort(text)) throw new ConfigError(`${name} must be host:port, got "${text}"`);
      return text;
    },
    target(name, fallback) {
      const text = raw(name) ?? fallback;
      const dns = /^dns:\/\/\/[\w.-]+:\d{1,5}$/i.test(text);
      const items = text.split(",").map((item) => item.trim());
      if (!dns && !items.every(isHostPort)) {
        throw new ConfigError(
          `${name} must be host:port, a comma-separated list of them, or dns:///name:port, got "${text}"`,
        );
      }
      return dns ? text : items.join(",");
    },
    oneOf(name, fallback, allowed) {
      const value = (raw(name) ?? fallback) as (typeof allowed)[number];
      if (!allowed.includes(value))
        throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${value}"`);
      return value;
    },
    matching(name, fallback, pattern, description) {
      const value = raw(name) ?? fallback;
      if (!pattern.test(value)) throw new ConfigError(`${name} must be ${description}, got "${value}"`);
      return value;
    },
    flag(name, fallback) {
      const value = raw(name)?.toLowerCase();
      if (value === undefined) return fallback;
      if (value === "1" || value === "true") return true;
      if (value === "0" || value === "false") return false;
      throw new ConfigError(`${name} must be 1/true or 0/false, got "${value}"`);
    },
  };
}

function isHostPort(text: string): boolean {
  const match = /^(\[[0-9a-f:]+\]|[\w.-]+):(\d{1,5})$/i.exec(text);
  return match !== null && Number(match[2]) <= 65535;
}

/** Hides a password in a URL so a config error never prints a secret. */
function redact(text: string): string {
  return text.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}

/** What every service process needs, read from its own variables. */
export interface ServiceBaseConfig {
  /** "production" refuses the local-dev defaults of secrets. */
  environment: "development" | "production";
  /** Address the gRPC server listens on. */
  listenAddress: string;
  mysqlUrl: string;
  /** This service's own database on the MySQL server. */
  database: string;
  /** One NATS URL, or several comma-separated (the servers of a cluster). */
  natsUrl: string;
  /** Copies JetStream keeps of the event stream: 3 on a 3-node cluster. */
  natsStreamReplicas: number;
  logLevel: string;
  /** Where the auth service is: JWKS for verifying tokens, service tokens for internal calls. */
  authAddress: string;
  /** Shared secret a service trades for a service token (see ServiceIdentityService). */
  serviceSecret: string;
  /** Lifetime of access tokens; also how far back deactivations must be remembered. */
  accessTokenTtlSeconds: number;
  /** host:port of the Prometheus listener (/metrics): its own port, never the service's. */
  metricsAddress: string;
  tracing: TracingConfig;
}

/** OpenTelemetry tracing, configured by the standard OTEL_* variables. */
export interface TracingConfig {
  /** Where spans are sent (OTLP over HTTP, JSON); undefined: tracing is off. */
  tracesEndpoint: string | undefined;
  /** How long finished spans wait to be sent together (OTEL_BSP_SCHEDULE_DELAY). */
  batchDelayMs: number;
}

/** LOCAL-DEV DEFAULT ONLY: refused when BAZAAR_ENV=production. */
export const devServiceSecret = "local-dev-only-service-secret";

export const defaultPorts = {
  auth: 50051,
  product: 50052,
  cart: 50053,
  order: 50054,
  admin: 50055,
  payment: 50056,
  notification: 50057,
} as const;
export type ServiceName = keyof typeof defaultPorts;
/** Prometheus listeners: the edge's, then one per service in the order of defaultPorts. */
export const defaultMetricsPorts = {
  edge: 9450,
  auth: 9451,
  product: 9452,
  cart: 9453,
  order: 9454,
  admin: 9455,
  payment: 9456,
  notification: 9457,
} as const;

/**
 * What a process that reads the event stream needs (every service, and the edge): its own NATS
 * user when it has one, else the shared URL; the stream's copies; and the access tokens'
 * lifetime, how far back its deny list replays.
 */
export function readEventStreamConfig(
  env: EnvReader,
  process: ServiceName | "edge",
): { natsUrl: string; natsStreamReplicas: number; accessTokenTtlSeconds: number } {
  return {
    natsUrl: env.urls(
      `BAZAAR_${process.toUpperCase()}_NATS_URL`,
      env.urls("BAZAAR_NATS_URL", "nats://127.0.0.1:4222", ["nats", "tls"]),
      ["nats", "tls"],
    ),
    natsStreamReplicas: env.int("BAZAAR_NATS_STREAM_REPLICAS", 1, { min: 1, max: 5 }),
    accessTokenTtlSeconds: env.int("BAZAAR_ACCESS_TOKEN_TTL_SECONDS", 900, { min: 60, max: 3600 }),
  };
}

export function readServiceBaseConfig(env: EnvReader, service: ServiceName): ServiceBaseConfig {
  const upper = service.toUpperCase();
  const environment = env.oneOf("BAZAAR_ENV", "development", ["development", "production"]);
  const serviceSecret = env.string("BAZAAR_SERVICE_SECRET", devServiceSecret);
  if (environment === "production" && serviceSecret === devServiceSecret) {
    throw new ConfigError("BAZAAR_SERVICE_SECRET must be set in production (the default is for local development)");
  }
  if (serviceSecret.length < 16) throw new ConfigError("BAZAAR_SERVICE_SECRET must be at least 16 characters");
  return {
    environment,
    listenAddress: readListenAddress(env, service),
    mysqlUrl: env.url("BAZAAR_MYSQL_URL", "mysql://root@127.0.0.1:3306", ["mysql"]),
    database: env.string(`BAZAAR_${upper}_DB`, `bazaar_${service}`),
    ...readEventStreamConfig(env, service),
    logLevel: readLogLevel(env),
    authAddress: serviceTarget(env, "auth"),
    serviceSecret,
    metricsAddress: env.address(`BAZAAR_${upper}_METRICS_ADDR`, `127.0.0.1:${defaultMetricsPorts[service]}`),
    tracing: readTracingConfig(env),
  };
}

/**
 * Tracing is on when an OTLP endpoint is set: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, or
 * OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended (the OTLP rule), unless
 * OTEL_SDK_DISABLED=true. The exporter reads its other OTEL_EXPORTER_OTLP_* variables (headers,
 * timeout, compression) itself.
 */
export function readTracingConfig(env: EnvReader): TracingConfig {
  const protocols = ["http", "https"];
  const tracesOnly = env.string("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "");
  const shared = env.string("OTEL_EXPORTER_OTLP_ENDPOINT", "");
  const endpoint = tracesOnly
    ? env.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", protocols)
    : shared
      ? `${env.url("OTEL_EXPORTER_OTLP_ENDPOINT", "", protocols).replace(/\/+$/, "")}/v1/traces`
      : undefined;
  return {
    tracesEndpoint: env.flag("OTEL_SDK_DISABLED", false) ? undefined : endpoint,
    batchDelayMs: env.int("OTEL_BSP_SCHEDULE_DELAY", 5_000, { min: 10, max: 60_000 }),
  };
}

/** Where a service is reached by others (BAZAAR_<SERVICE>_ADDR). */
export function serviceTarget(env: EnvReader, service: ServiceName): string {
  return env.target(`BAZAAR_${service.toUpperCase()}_ADDR`, `127.0.0.1:${defaultPorts[service]}`);
}

/**
 * Where this process listens: BAZAAR_<SERVICE>_LISTEN_ADDR, else its BAZAAR_<SERVICE>_ADDR when
 * that is one host:port. Replicas (a list or a DNS name in _ADDR) each need a listen address.
 */
function readListenAddress(env: EnvReader, service: ServiceName): string {
  const upper = service.toUpperCase();
  const target = serviceTarget(env, service);
  const single = isHostPort(target) ? target : undefined;
  if (single === undefined && env.string(`BAZAAR_${upper}_LISTEN_ADDR`, "") === "") {
    throw new ConfigError(`BAZAAR_${upper}_LISTEN_ADDR is required when BAZAAR_${upper}_ADDR names several replicas`);
  }
  return env.address(`BAZAAR_${upper}_LISTEN_ADDR`, single ?? "");
}

export function readLogLevel(env: EnvReader): string {
  return env.oneOf("BAZAAR_LOG_LEVEL", "info", ["trace", "debug", "info", "warn", "error", "silent"]);
}

/** Runs a config loader; on a ConfigError prints its one line and exits with status 2. */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return Object.freeze(load());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`config error: ${error.message}\n`);
    process.exit(2);
  }
}
