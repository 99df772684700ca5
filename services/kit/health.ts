// grpc.health.v1.Health: one status per served service plus the overall status (""). A service
// starts NOT_SERVING and is flipped to SERVING by its main once its database and NATS are up,
// so Kubernetes' native gRPC probes and the edge's /readyz see the truth. /metrics shows the same
// as bazaar_health_serving, so an alert sees a pod that runs but does not serve.
import { EventEmitter, on } from "node:events";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.ts";
import { Gauge } from "prom-client";
import { registry } from "./metrics.ts";
import { bind, type ServiceBinding } from "./serve.ts";

export { ServingStatus };

export interface HealthState {
  binding: ServiceBinding;
  /** Sets every registered service and the overall status at once. */
  setAll(status: ServingStatus): void;
  get(service: string): ServingStatus | undefined;
}

// Registered by the first createHealth: the edge imports the kit but serves no Health, and an
// unset gauge would read as a process that never serves.
const serving = new Gauge({
  name: "bazaar_health_serving",
  help: "1 while grpc.health.v1 answers SERVING for the service (grpc_service; empty: the process as a whole), 0 otherwise",
  labelNames: ["grpc_service"],
  registers: [],
});

function showOnMetrics(statuses: Map<string, ServingStatus>): void {
  if (registry.getSingleMetric("bazaar_health_serving") === undefined) registry.registerMetric(serving);
  for (const [name, status] of statuses) serving.set({ grpc_service: name }, status === ServingStatus.SERVING ? 1 : 0);
}

export function createHealth(serviceNames: string[]): HealthState {
  const statuses = new Map<string, ServingStatus>(
    ["", ...serviceNames].map((name) => [name, ServingStatus.NOT_SERVING]),
  );
  showOnMetrics(statuses);
  const changes = new EventEmitter();
  changes.setMaxListeners(0);

  const impl: ServiceImpl<typeof Health> = {
    check(request) {
      const status = statuses.get(request.service);
      if (status === undefined) throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
      return { status };
    },
    async *watch(request, ctx) {
      let last = statuses.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
      yield { status: last };
      for await (const _ of on(changes, "change", { signal: ctx.signal })) {
        const status = statuses.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (status !== last) yield { status };
        last = status;
      }
    },
    list() {
      return { statuses: Object.fromEntries([...statuses].map(([name, status]) => [name, { status }])) };
    },
  };

  return {
    binding: bind(Health, impl),
    setAll(status) {
      for (const name of statuses.keys()) statuses.set(name, status);
      showOnMetrics(statuses);
      changes.emit("change");
    },
    get: (service) => statuses.get(service),
  };
}
