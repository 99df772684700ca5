// What a Bazaar process reads from its environment, found by running its real config loader:
// the deployment tests hand each container's environment to the loader its command runs, through
// a Proxy that records every variable name the loader looks up. A variable that a manifest sets
// and no loader reads is a typo or a leftover; a value the loader refuses would stop the pod.
import { loadAdminConfig } from "../services/admin/config.ts";
import { loadAuthConfig } from "../services/auth/config.ts";
import { loadCartConfig } from "../services/cart/config.ts";
import { loadNotificationConfig } from "../services/notification/config.ts";
import { loadPaymentConfig } from "../services/payment/config.ts";
import { defaultPorts, envReader, readServiceBaseConfig, type Env, type ServiceName } from "../services/kit/config.ts";
import { loadOrderConfig } from "../services/order/config.ts";
import { loadProductConfig } from "../services/product/config.ts";
import { loadEdgeConfig } from "../edge/config.ts";

export const serviceNames = Object.keys(defaultPorts) as ServiceName[];

/** One kind of process the image runs, by the arguments of its entrypoint. */
export interface ProcessKind {
  /** The file the entrypoint runs for these arguments. */
  entry: string;
  /** How that file loads its config, as it appears in the file (checked by the tests). */
  loaderCall: string;
  load(env: Env): LoadedConfig;
  /** The variable naming its Prometheus listener; none for one-shot processes. */
  metricsVariable?: string;
}

export interface LoadedConfig {
  /** Where the process listens (services: gRPC; edge: HTTP); none for one-shot processes. */
  listenAddress?: string;
  environment?: string;
  metricsAddress?: string;
}

const serviceLoaders: Record<ServiceName, { load(env: Env): LoadedConfig; call: string }> = {
  auth: { load: loadAuthConfig, call: "loadAuthConfig(process.env)" },
  product: { load: loadProductConfig, call: "loadProductConfig(process.env)" },
  cart: { load: loadCartConfig, call: "loadCartConfig(process.env)" },
  order: { load: loadOrderConfig, call: "loadOrderConfig(process.env)" },
  admin: { load: loadAdminConfig, call: "loadAdminConfig(process.env)" },
  payment: { load: loadPaymentConfig, call: "loadPaymentConfig(process.env)" },
  notification: { load: loadNotificationConfig, call: "loadNotificationConfig(process.env)" },
};

/** The process `bazaar <args…>` runs; throws for arguments the entrypoint does not take. */
export function processKindOf(args: readonly string[]): ProcessKind {
  const [name, ...rest] = args;
  if (name !== undefined && isServiceName(name) && rest.length === 0) {
    return {
      entry: `services/${name}/main.ts`,
      loaderCall: serviceLoaders[name].call,
      load: serviceLoaders[name].load,
      metricsVariable: `BAZAAR_${name.toUpperCase()}_METRICS_ADDR`,
    };
  }
  if (name === "edge" && rest.length === 0) {
    return {
      entry: "edge/main.ts",
      loaderCall: "loadEdgeConfig(process.env)",
      load: (env) => {
        const config = loadEdgeConfig(env) as ReturnType<typeof loadEdgeConfig> & { metricsAddress?: string };
        return { listenAddress: config.address, metricsAddress: config.metricsAddress };
      },
      metricsVariable: "BAZAAR_EDGE_METRICS_ADDR",
    };
  }
  if (name === "migrate" && rest.every(isServiceName)) {
    const services = rest.length > 0 ? (rest as ServiceName[]) : serviceNames;
    return {
      entry: "deploy/local/migrate.ts",
      loaderCall: "readServiceBaseConfig(envReader(process.env), service)",
      load: (env) => {
        for (const service of services) readServiceBaseConfig(envReader(env), service);
        return {};
      },
    };
  }
  if (name === "object-store") {
    // DEV ONLY: s3rver, configured by its command-line options alone; it reads no variable.
    return {
      entry: "node_modules/s3rver/bin/s3rver.js",
      loaderCall: "program.parseAsync(process.argv)",
      load: () => ({}),
    };
  }
  throw new Error(`the image runs no process for arguments [${args.join(", ")}]`);
}

function isServiceName(name: string): name is ServiceName {
  return name in defaultPorts;
}

/** Runs the process's loader on `env`; the config it made and every variable name it looked up. */
export function loadRecordingReads(
  kind: ProcessKind,
  env: Record<string, string>,
): { config: LoadedConfig; read: Set<string> } {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, name) {
      if (typeof name === "string") read.add(name);
      return typeof name === "string" ? target[name] : undefined;
    },
  });
  return { config: kind.load(recording), read };
}
