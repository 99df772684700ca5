// What the fuzzer calls, read from the generated descriptors in gen/ so a new RPC is fuzzed the
// day it is added: the public services (those with REST annotations, which the edge routes) and
// every service a mesh process serves on its own gRPC port, internal ones included.
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { hasOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http as httpOption } from "../../gen/google/api/annotations_pb.ts";
import { serviceNames } from "../../deploy/local/mesh.ts";
import type { ServiceName } from "../../services/kit/config.ts";
import { httpRoutes, type HttpRoute } from "../../edge/http-routes.ts";

export interface FuzzTargets {
  /** Methods of the services the edge serves, in a stable order. */
  publicMethods: DescMethod[];
  /** The edge's REST routes, as the annotations declare them. */
  restRoutes: HttpRoute[];
  /** Per mesh process, every method it serves on its gRPC port. */
  methodsByProcess: Record<ServiceName, DescMethod[]>;
}

export async function loadFuzzTargets(): Promise<FuzzTargets> {
  const services = await generatedServices();
  const isPublic = (service: DescService) => service.methods.some((method) => hasOption(method, httpOption));
  const publicServices = services.filter(isPublic);
  const methodsByProcess = Object.fromEntries(
    serviceNames.map((name) => [
      name,
      services.filter((service) => servedBy(service).includes(name)).flatMap((service) => service.methods),
    ]),
  ) as Record<ServiceName, DescMethod[]>;
  return {
    publicMethods: publicServices.flatMap((service) => service.methods),
    restRoutes: httpRoutes(publicServices, httpOption),
    methodsByProcess,
  };
}

/**
 * A service in `bazaar.<name>.v1` belongs to the process of that name; the rest (health,
 * reflection, the dead-letter API in bazaar.events.v1) is served by every process.
 */
function servedBy(service: DescService): ServiceName[] {
  const area = /^bazaar\.(\w+)\.v\d+\./.exec(service.typeName)?.[1];
  return serviceNames.includes(area as ServiceName) ? [area as ServiceName] : serviceNames;
}

/** Every service generated from proto/, sorted by name so seeds replay the same choices. */
async function generatedServices(): Promise<DescService[]> {
  const gen = fileURLToPath(new URL("../../gen/", import.meta.url));
  const files = (await readdir(gen, { recursive: true })).filter((file) => file.endsWith("_pb.ts")).sort();
  const modules: Array<Record<string, unknown>> = await Promise.all(files.map((file) => import(`${gen}${file}`)));
  const byName = new Map<string, DescService>();
  for (const value of modules.flatMap((exports) => Object.values(exports))) {
    const service = value as DescService | undefined;
    if (service?.kind === "service") byName.set(service.typeName, service);
  }
  return [...byName.values()].sort((a, b) => a.typeName.localeCompare(b.typeName));
}
