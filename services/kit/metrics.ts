// What a process tells Prometheus: one registry per process, served as text on a listener of
// its own (never a public port).
//
// RPC series are plain numbers bumped in place and written out when scraped: prom-client's
// labelled children hash their label values and allocate on every observation (~0.9 µs per call
// for a counter and a histogram on this machine, measured), too much on a path that serves a call
// in ~40 µs. Series of rarer things (events, dead letters) use prom-client's own types. Gauges of
// state kept elsewhere (outbox backlog, consumer lag, pool use) are read at each scrape.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { DescMethod } from "@bufbuild/protobuf";
import { collectDefaultMetrics, Counter, type Gauge, type Metric, Registry } from "prom-client";
import type { Logger } from "./log.ts";

export const registry = new Registry();

/** Latency buckets of RPCs, in seconds: 1 ms to 10 s. */
const secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The `grpc_code` label by code number, as grpc-go names codes (and grpc-prometheus writes them). */
const codeNames = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
] as const;
const unknownCode = 2;
/** The `grpc_type` label by method kind, grpc-prometheus's names. */
const grpcTypes: Record<DescMethod["methodKind"], string> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

export interface RpcRecorder {
  /** Counts one call begun. */
  started(): void;
  /** Counts one finished call with its code (0 for OK) and how long it took. */
  record(code: number, seconds: number): void;
}

/** The numbers of one label set: calls begun, calls by code and a latency histogram. */
class RpcSeries implements RpcRecorder {
  readonly labels: Readonly<Record<string, string>>;
  begun = 0;
  readonly calls = new Float64Array(codeNames.length);
  /** Per bucket, not cumulative; the last is +Inf. */
  readonly buckets = new Float64Array(secondsBuckets.length + 1);
  sum = 0;

  constructor(labels: Record<string, string>) {
    this.labels = labels;
  }

  started(): void {
    this.begun += 1;
  }

  record(code: number, seconds: number): void {
    this.calls[code >= 0 && code < codeNames.length ? code : unknownCode]! += 1;
    let bucket = 0;
    while (bucket < secondsBuckets.length && seconds > secondsBuckets[bucket]!) bucket++;
    this.buckets[bucket]! += 1;
    this.sum += seconds;
  }
}

interface SampleValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** A read-only series family in the shape prom-client's registry writes out. */
function familyView(name: string, help: string, type: "counter" | "histogram", values: () => SampleValue[]): Metric {
  return {
    name,
    help,
    type,
    get: async () => ({ name, help, type, values: values(), aggregator: "sum" }),
  } as unknown as Metric;
}

/**
 * grpc-prometheus's three families over the same label sets: `<side>_started_total`,
 * `<side>_handled_total{…, grpc_code}` and `<side>_handling_seconds`, so dashboards and alerts
 * written for gRPC servers read them as they are.
 */
class RpcFamily {
  readonly #series = new Map<string, RpcSeries>();

  constructor(side: "grpc_server" | "grpc_client", what: string) {
    const started = `${side}_started_total`;
    const handled = `${side}_handled_total`;
    const handling = `${side}_handling_seconds`;
    const all = () => [...this.#series.values()];
    registry.registerMetric(
      familyView(started, `${what} begun`, "counter", () =>
        all().map((series) => ({ labels: series.labels, value: series.begun })),
      ),
    );
    registry.registerMetric(
      familyView(handled, `${what} that finished, by code`, "counter", () =>
        all().flatMap((series) =>
          [...series.calls].flatMap((count, code) =>
            count > 0 ? [{ labels: { ...series.labels, grpc_code: codeNames[code]! }, value: count }] : [],
          ),
        ),
      ),
    );
    registry.registerMetric(
      familyView(handling, `Seconds ${what} took, from request to status`, "histogram", () =>
        all().flatMap((series) => {
          let cumulative = 0;
          const buckets = [...series.buckets].map((count, i) => {
            cumulative += count;
            return {
              metricName: `${handling}_bucket`,
              labels: { ...series.labels, le: secondsBuckets[i] ?? "+Inf" },
              value: cumulative,
            };
          });
          return [
            ...buckets,
            { metricName: `${handling}_sum`, labels: series.labels, value: series.sum },
            { metricName: `${handling}_count`, labels: series.labels, value: cumulative },
          ];
        }),
      ),
    );
  }

  /** The series of a label set, made on first use; hold on to it rather than asking per call. */
  series(labels: Record<string, string>): RpcRecorder {
    const key = Object.entries(labels).join("\n");
    let series = this.#series.get(key);
    if (!series) this.#series.set(key, (series = new RpcSeries(labels)));
    return series;
  }
}

const rpcServer = new RpcFamily("grpc_server", "RPCs served");
const rpcClient = new RpcFamily("grpc_client", "RPCs made to other services");

const methodLabels = (method: DescMethod) => ({
  grpc_type: grpcTypes[method.methodKind],
  grpc_service: method.parent.typeName,
  grpc_method: method.name,
});

export function rpcServerRecorder(method: DescMethod): RpcRecorder {
  return rpcServer.series(methodLabels(method));
}

const clientRecorders = new WeakMap<DescMethod, RpcRecorder>();

/** Looked up per call (a transport serves every method of a service): one WeakMap read. */
export function rpcClientRecorder(method: DescMethod): RpcRecorder {
  let recorder = clientRecorders.get(method);
  if (!recorder) clientRecorders.set(method, (recorder = rpcClient.series(methodLabels(method))));
  return recorder;
}

/**
 * The edge's requests are `grpc_server_*` too, with one label more, `protocol` (connect, grpc,
 * grpc-web or rest): it serves the same RPCs to the outside, so one panel or alert per job covers
 * the edge and the services alike, and `sum without (protocol)` folds the protocols. A family of
 * its own (`bazaar_edge_*`, as it was) needed every panel twice.
 */
export function edgeRecorder(protocol: string, method: DescMethod): RpcRecorder {
  return rpcServer.series({ ...methodLabels(method), protocol });
}

interface ScrapeSource {
  name: string;
  gauges: readonly Gauge[];
  refresh(): Promise<void>;
}

const sources = new Set<ScrapeSource>();
/** A source that takes longer is given up for that scrape; Prometheus waits 10 s by default. */
const refreshTimeoutMs = 2_000;
const refreshFailures = new Counter({
  name: "bazaar_metrics_refresh_failures_total",
  help: "Scrapes at which a source of gauges could not be read in time; its gauges were left out",
  labelNames: ["source"],
  registers: [registry],
});

/** A counter of a cache's lookups by outcome (hit, miss); returns how to count one. */
export function cacheLookupCounter(name: string, help: string): (hit: boolean) => void {
  const lookups = new Counter({ name, help, labelNames: ["outcome"], registers: [registry] });
  const hit = lookups.labels("hit");
  const miss = lookups.labels("miss");
  return (found) => (found ? hit : miss).inc();
}

/**
 * Refreshes `gauges` before every scrape with `refresh`. When it fails or is late the scrape
 * still answers, without those gauges rather than with stale values — so they need labels:
 * prom-client writes an unlabelled gauge even when reset, as 0. Returns the unregister.
 */
export function refreshOnScrape(name: string, gauges: readonly Gauge[], refresh: () => Promise<void>): () => void {
  const source = { name, gauges, refresh };
  sources.add(source);
  return () => {
    sources.delete(source);
    for (const gauge of gauges) gauge.reset();
  };
}

/** The registry as Prometheus text, every scrape-time source refreshed first. */
export async function scrape(log: Logger): Promise<string> {
  await Promise.all(
    [...sources].map(async (source) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${refreshTimeoutMs} ms`)), refreshTimeoutMs);
      });
      try {
        await Promise.race([source.refresh(), late]);
      } catch (error) {
        refreshFailures.inc({ source: source.name });
        for (const gauge of source.gauges) gauge.reset();
        log.warn({ err: error, source: source.name }, "metrics source not read");
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return registry.metrics();
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

let processMetricsOn = false;
const eventLoopSampleMs = 100;

/**
 * Serves GET /metrics on `address` (host:port), with the process's memory, CPU, GC and
 * event-loop delay (prom-client's default metrics) beside the registry's own series.
 */
export async function serveMetrics(address: string, log: Logger): Promise<MetricsServer> {
  if (!processMetricsOn) {
    // The event-loop delay is sampled by a timer; at prom-client's default of every 10 ms it woke
    // an idle process 100 times a second, about 5 ms of CPU a second in each (measured with one
    // process alone). At 100 ms a stall that spans a sample is measured in full and shorter ones
    // are caught in proportion to their length: over a scrape interval, a loop often blocked
    // still shows in the percentiles.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: eventLoopSampleMs });
    processMetricsOn = true;
  }
  const server = createServer((req, res) => {
    if (req.url?.split("?")[0] !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics here\n");
      return;
    }
    scrape(log).then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (error) => {
        log.error({ err: error }, "metrics scrape failed");
        res.writeHead(500, { "content-type": "text/plain" }).end("scrape failed\n");
      },
    );
  });
  const separator = address.lastIndexOf(":");
  const host = address.slice(0, separator).replace(/^\[|\]$/g, "");
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(address.slice(separator + 1)), host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
