import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ConfigError, envReader, readServiceBaseConfig, readTracingConfig } from "./config.ts";

describe("service configuration", () => {
  it("when nothing is set, then local-dev defaults are used", () => {
    const config = readServiceBaseConfig(envReader({}), "product");
    expect(config).toEqual({
      environment: "development",
      authAddress: "127.0.0.1:50051",
      serviceSecret: "local-dev-only-service-secret",
      accessTokenTtlSeconds: 900,
      listenAddress: "127.0.0.1:50052",
      mysqlUrl: "mysql://root@127.0.0.1:3306",
      database: "bazaar_product",
      natsUrl: "nats://127.0.0.1:4222",
      natsStreamReplicas: 1,
      logLevel: "info",
      metricsAddress: "127.0.0.1:9452",
      tracing: { tracesEndpoint: undefined, batchDelayMs: 5_000 },
    });
  });

  it("when a metrics address is given, then Prometheus is served there; a bad one fails naming the variable", () => {
    expect(
      readServiceBaseConfig(envReader({ BAZAAR_ORDER_METRICS_ADDR: "0.0.0.0:19454" }), "order").metricsAddress,
    ).toBe("0.0.0.0:19454");
    expect(readServiceBaseConfig(envReader({}), "admin").metricsAddress).toBe("127.0.0.1:9455");
    expect(() => readServiceBaseConfig(envReader({ BAZAAR_ORDER_METRICS_ADDR: "9454" }), "order")).toThrow(
      /BAZAAR_ORDER_METRICS_ADDR must be host:port/,
    );
  });

  it.each([
    ["BAZAAR_PRODUCT_ADDR", "localhost", /BAZAAR_PRODUCT_ADDR must be host:port/],
    ["BAZAAR_PRODUCT_ADDR", "127.0.0.1:99999", /BAZAAR_PRODUCT_ADDR must be host:port/],
    ["BAZAAR_MYSQL_URL", "postgres://x@y/z", /BAZAAR_MYSQL_URL must use mysql/],
    [
      "BAZAAR_PRODUCT_ADDR",
      "127.0.0.1:1,127.0.0.1:2",
      /BAZAAR_PRODUCT_LISTEN_ADDR is required when BAZAAR_PRODUCT_ADDR names several replicas/,
    ],
    [
      "BAZAAR_PRODUCT_ADDR",
      "dns:///product",
      /BAZAAR_PRODUCT_ADDR must be host:port, a comma-separated list of them, or dns:\/\/\/name:port/,
    ],
    ["BAZAAR_NATS_URL", "not a url", /BAZAAR_NATS_URL must be a URL/],
    ["BAZAAR_NATS_URL", "nats://127.0.0.1:4222,oops", /BAZAAR_NATS_URL must be a URL/],
    ["BAZAAR_LOG_LEVEL", "loud", /BAZAAR_LOG_LEVEL must be one of/],
    ["BAZAAR_ENV", "production", /BAZAAR_SERVICE_SECRET must be set in production/],
    ["BAZAAR_ACCESS_TOKEN_TTL_SECONDS", "5", /BAZAAR_ACCESS_TOKEN_TTL_SECONDS must be an integer between 60 and 3600/],
  ])("when %s is %j, then reading fails naming the variable", (name, value, message) => {
    expect(() => readServiceBaseConfig(envReader({ [name]: value }), "product")).toThrow(message);
  });

  it("when replicas are named, then peers get the list or DNS name and the process its own listen address", () => {
    const config = readServiceBaseConfig(
      envReader({
        BAZAAR_AUTH_ADDR: "dns:///auth.bazaar.svc:50051",
        BAZAAR_PRODUCT_ADDR: "127.0.0.1:21000, 127.0.0.1:21001",
        BAZAAR_PRODUCT_LISTEN_ADDR: "127.0.0.1:21001",
        BAZAAR_NATS_URL: "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
        BAZAAR_NATS_STREAM_REPLICAS: "3",
      }),
      "product",
    );
    expect(config).toMatchObject({
      authAddress: "dns:///auth.bazaar.svc:50051",
      listenAddress: "127.0.0.1:21001",
      natsUrl: "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
      natsStreamReplicas: 3,
    });
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, "http://collector:4318/v1/traces"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }, "http://collector:4318/v1/traces"],
    [
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/otlp",
      },
      "https://traces.example/otlp",
    ],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" }, undefined],
    [{}, undefined],
  ])("when the OTLP variables are %j, then spans go to %s", (env, endpoint) => {
    expect(readTracingConfig(envReader(env)).tracesEndpoint).toBe(endpoint);
  });

  it("when the OTLP endpoint is not an http(s) URL, then reading fails naming the variable", () => {
    expect(() => readTracingConfig(envReader({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }))).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT must/,
    );
  });

  it("when a URL with a password is invalid, then the error does not print the password", () => {
    const read = () => readServiceBaseConfig(envReader({ BAZAAR_MYSQL_URL: "http://app:s3cret@db:3306" }), "product");
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/app:\*\*\*@db/);
    expect(read).not.toThrow(/s3cret/);
  });

  it("when a service process starts with a bad variable, then it exits at once with one line naming it", () => {
    const result = spawnSync(process.execPath, ["services/product/main.ts"], {
      env: { ...process.env, BAZAAR_PRODUCT_ADDR: "nowhere" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      'config error: BAZAAR_PRODUCT_ADDR must be host:port, a comma-separated list of them, or dns:///name:port, got "nowhere"',
    ]);
  });
});
