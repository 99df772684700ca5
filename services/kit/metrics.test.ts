// The process's Prometheus endpoint: RPC series counted in place come out as a valid counter and
// histogram, gauges read at scrape time are fresh, and a source that fails or hangs costs the
// scrape only its own gauges.
import { Code } from "@connectrpc/connect";
import { Gauge } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderService } from "../../gen/bazaar/order/v1/order_pb.ts";
import { createLogger } from "./log.ts";
import {
  edgeRecorder,
  refreshOnScrape,
  registry,
  rpcClientRecorder,
  rpcServerRecorder,
  serveMetrics,
  type MetricsServer,
} from "./metrics.ts";

const log = createLogger("metrics-test", "silent");
let server: MetricsServer;

beforeAll(async () => {
  server = await serveMetrics("127.0.0.1:0", log);
});
afterAll(async () => {
  await server?.close();
});

async function scrapeText(): Promise<{ status: number; contentType: string | null; text: string }> {
  const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() };
}

/** The value of one sample line, by its name and labels as written. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("the metrics endpoint", () => {
  it("when RPCs finish, then calls begun, calls by code and a cumulative latency histogram are served under grpc-prometheus's names", async () => {
    const placeOrder = OrderService.method.placeOrder;
    const calls = rpcServerRecorder(placeOrder);
    for (let i = 0; i < 4; i++) calls.started();
    calls.record(0, 0.004);
    calls.record(0, 0.2);
    calls.record(Code.FailedPrecondition, 0.0005);
    expect(rpcServerRecorder(placeOrder)).toBe(calls);

    const { status, contentType, text } = await scrapeText();
    expect(status).toBe(200);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const labels = 'grpc_type="unary",grpc_service="bazaar.order.v1.OrderService",grpc_method="PlaceOrder"';
    expect(text).toContain("# TYPE grpc_server_started_total counter");
    expect(sample(text, `grpc_server_started_total{${labels}}`), "one call still running").toBe(4);
    expect(text).toContain("# TYPE grpc_server_handled_total counter");
    expect(sample(text, `grpc_server_handled_total{${labels},grpc_code="OK"}`)).toBe(2);
    expect(sample(text, `grpc_server_handled_total{${labels},grpc_code="FailedPrecondition"}`)).toBe(1);
    expect(text).toContain("# TYPE grpc_server_handling_seconds histogram");
    expect(sample(text, `grpc_server_handling_seconds_bucket{${labels},le="0.001"}`)).toBe(1);
    expect(sample(text, `grpc_server_handling_seconds_bucket{${labels},le="0.005"}`)).toBe(2);
    expect(sample(text, `grpc_server_handling_seconds_bucket{${labels},le="0.1"}`)).toBe(2);
    expect(sample(text, `grpc_server_handling_seconds_bucket{${labels},le="0.25"}`)).toBe(3);
    expect(sample(text, `grpc_server_handling_seconds_bucket{${labels},le="+Inf"}`)).toBe(3);
    expect(sample(text, `grpc_server_handling_seconds_count{${labels}}`)).toBe(3);
    expect(sample(text, `grpc_server_handling_seconds_sum{${labels}}`)).toBeCloseTo(0.2045, 6);
  });

  it("when the edge and a client record calls, then they are grpc_server series with the protocol and grpc_client series", async () => {
    const watch = OrderService.method.watchOrders;
    const edge = edgeRecorder("grpc-web", watch);
    edge.started();
    edge.record(Code.Unauthenticated, 0.001);
    const client = rpcClientRecorder(OrderService.method.getOrder);
    client.started();
    client.record(Code.Unavailable, 0.01);

    const { text } = await scrapeText();
    expect(
      sample(
        text,
        'grpc_server_handled_total{grpc_type="server_stream",grpc_service="bazaar.order.v1.OrderService",grpc_method="WatchOrders",protocol="grpc-web",grpc_code="Unauthenticated"}',
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        'grpc_client_handled_total{grpc_type="unary",grpc_service="bazaar.order.v1.OrderService",grpc_method="GetOrder",grpc_code="Unavailable"}',
      ),
    ).toBe(1);
    expect(text).toContain("# TYPE grpc_client_handling_seconds histogram");
  });

  it("when scraped, then the process's memory and event-loop delay are there too", async () => {
    const { text } = await scrapeText();
    expect(sample(text, "process_resident_memory_bytes")).toBeGreaterThan(10_000_000);
    expect(sample(text, "nodejs_eventloop_lag_p99_seconds")).toBeGreaterThanOrEqual(0);
    expect(sample(text, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
  });

  it("when a gauge is read at scrape time, then each scrape shows its current value", async () => {
    const gauge = new Gauge({ name: "test_backlog", help: "test", registers: [registry] });
    let backlog = 3;
    const unregister = refreshOnScrape("test_backlog", [gauge], async () => gauge.set(backlog));
    try {
      expect(sample((await scrapeText()).text, "test_backlog")).toBe(3);
      backlog = 7;
      expect(sample((await scrapeText()).text, "test_backlog")).toBe(7);
    } finally {
      unregister();
      registry.removeSingleMetric("test_backlog");
    }
  });

  it("when a source fails or does not answer in time, then the scrape still answers without its gauges and counts the failure", async () => {
    const gauge = (name: string) => new Gauge({ name, help: "test", labelNames: ["database"], registers: [registry] });
    const [healthy, broken, hanging] = [gauge("test_healthy"), gauge("test_broken"), gauge("test_hanging")];
    broken.set({ database: "a" }, 5);
    hanging.set({ database: "a" }, 6);
    const unregister = [
      refreshOnScrape("test_healthy", [healthy], async () => healthy.set({ database: "a" }, 1)),
      refreshOnScrape("test_broken", [broken], async () => {
        throw new Error("ECONNREFUSED");
      }),
      refreshOnScrape("test_hanging", [hanging], () => new Promise<void>(() => undefined)),
    ];
    try {
      const started = Date.now();
      const { status, text } = await scrapeText();
      expect(status).toBe(200);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(sample(text, 'test_healthy{database="a"}')).toBe(1);
      expect(text).not.toMatch(/^test_broken/m);
      expect(text).not.toMatch(/^test_hanging/m);
      expect(sample(text, 'bazaar_metrics_refresh_failures_total{source="test_broken"}')).toBe(1);
      expect(sample(text, 'bazaar_metrics_refresh_failures_total{source="test_hanging"}')).toBe(1);
    } finally {
      for (const done of unregister) done();
      for (const name of ["test_healthy", "test_broken", "test_hanging"]) registry.removeSingleMetric(name);
    }
  });

  it("when anything but GET /metrics is asked, then the answer is 404", async () => {
    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: "POST" })).status).toBe(404);
  });
});
