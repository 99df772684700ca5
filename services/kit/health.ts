// grpc.health.v1.Health: one status per served service plus the overall status (""). A service
// starts NOT_SERVING and is flipped to SERVING by its main once its database and NATS are up,
// so Kubernetes' native gRPC probes and the edge's /readyz see the truth.
import { EventEmitter, on } from "node:events";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.ts";
import { bind, type ServiceBinding } from "./serve.ts";

export { ServingStatus };

export interface HealthState {
  binding: ServiceBinding;
  /** Sets every registered service and the overall status at once. */
  setAll(status: ServingStatus): void;
  get(service: string): ServingStatus | undefined;
}

export function createHealth(serviceNames: string[]): HealthState {
  const statuses = new Map<string, ServingStatus>(
    ["", ...serviceNames].map((name) => [name, ServingStatus.NOT_SERVING]),
  );
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
      changes.emit("change");
    },
    get: (service) => statuses.get(service),
  };
}
