// Whether each backend answers SERVING to this edge: the body of /readyz, and the same at each
// scrape as bazaar_edge_backend_serving{backend}, so an alert sees an edge that runs but cannot
// serve (an edge whose /readyz fails leaves its Service's endpoints; the services' own
// bazaar_health_serving cannot show that the edge does not reach them).
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { Gauge } from "prom-client";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import { refreshOnScrape, registry } from "../services/kit/metrics.ts";

export type BackendStatus = "SERVING" | "NOT_SERVING" | "TIMEOUT" | "UNREACHABLE";

const backendServing = new Gauge({
  name: "bazaar_edge_backend_serving",
  help: "1 while the backend (a service the edge forwards to) answers the edge's health check SERVING, 0 otherwise",
  labelNames: ["backend"],
  registers: [registry],
});

export interface BackendHealth {
  /** Every backend's health check, at most a second each, side by side. */
  check(): Promise<Record<string, BackendStatus>>;
  /** Stops showing the backends on /metrics. */
  stop(): void;
}

export function backendHealth(transports: Record<string, Transport>): BackendHealth {
  const check = async () => {
    const entries = await Promise.all(
      Object.entries(transports).map(async ([name, transport]): Promise<[string, BackendStatus]> => {
        try {
          const { status } = await createClient(Health, transport).check({}, { timeoutMs: 1_000 });
          return [name, status === HealthCheckResponse_ServingStatus.SERVING ? "SERVING" : "NOT_SERVING"];
        } catch (error) {
          return [name, ConnectError.from(error).code === Code.DeadlineExceeded ? "TIMEOUT" : "UNREACHABLE"];
        }
      }),
    );
    return Object.fromEntries(entries);
  };
  const stop = refreshOnScrape("edge_backends", [backendServing], async () => {
    for (const [backend, status] of Object.entries(await check())) {
      backendServing.set({ backend }, status === "SERVING" ? 1 : 0);
    }
  });
  return { check, stop };
}
