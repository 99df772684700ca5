// The deployment, checked against the code it deploys: the kustomizations render (with our
// renderer, and with kubectl where it is installed, alike), every resource is a valid Kubernetes
// object, each container's environment is exactly what its config loader reads and accepts,
// ports agree from address to probe to Service to network policy, secrets come only from
// Secrets the README tells operators to create, and the image holds what the processes import.
// compose.yaml gets the same checks. No kubectl, Docker or cluster is needed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { contextIncludes, imageHas, readDockerfile, runtimeImports } from "./image-contents.ts";
import { parseImage, podSpecOf, renderKustomization, type Resource } from "./kustomize-subset.ts";
import { canConnect, isIsolated, outsideTheCluster, selects, type PodInNamespace } from "./network-reach.ts";
import { loadRecordingReads, processKindOf, serviceNames, type ProcessKind } from "./process-config.ts";
import { nodeOptions } from "./node-options.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const read = (path: string) => readFileSync(join(root, path), "utf8");

const kustomizations = { base: "deploy/k8s/base", dev: "deploy/k8s/overlays/dev", prod: "deploy/k8s/overlays/prod" };
/** Images other than Bazaar's that the manifests may run. */
const thirdPartyImages = new Set(["nats", "mysql"]);
/** Containers allowed a writable root file system, and why: MySQL's entrypoint writes beside its data. */
const writableRootContainers = new Set(["mysql"]);
/** Variables whose values are secrets wherever they are set. */
const secretVariable = /PASSWORD|SECRET|SIGNING_KEYS|MYSQL_URL|NATS_URL/;

const searchPath = `${process.env.PATH ?? ""}${delimiter}/usr/sbin`;
const onPath = (command: string) =>
  spawnSync("sh", ["-c", `command -v ${command}`], { env: { PATH: searchPath } }).status === 0;

// ---- shared facts

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: EnvSource }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsUser?: number;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface EnvSource {
  configMapKeyRef?: { name: string; key: string };
  secretKeyRef?: { name: string; key: string };
  fieldRef?: { fieldPath: string };
}
interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: { path: string; port: number | string };
  tcpSocket?: { port: number | string };
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  automountServiceAccountToken?: boolean;
}
interface Workload {
  resource: Resource;
  spec: PodSpec;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function workloadsOf(resources: Resource[]): Workload[] {
  return resources.flatMap((resource) => {
    const spec = podSpecOf(resource) as unknown as PodSpec | undefined;
    if (!spec) return [];
    const template = (
      resource.spec as {
        template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
      }
    ).template;
    return [
      { resource, spec, labels: template.metadata?.labels ?? {}, annotations: template.metadata?.annotations ?? {} },
    ];
  });
}

const isBazaarImage = (image: string) => parseImage(image).name.split("/").at(-1) === "bazaar";

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}
function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(":"));
}

/** What the image's entrypoint would run for `args` (it prints instead of running when asked). */
function entrypointCommand(args: string[]): string[] {
  const result = spawnSync("sh", [join(root, "deploy/container/entrypoint.sh"), ...args], {
    env: { PATH: searchPath, BAZAAR_ENTRYPOINT_DRY_RUN: "1" },
    encoding: "utf8",
  });
  expect(result.status, `entrypoint ${args.join(" ")}: ${result.stderr}`).toBe(0);
  return result.stdout.trim().split(/\s+/);
}

/** The process a container runs, checked against the entrypoint and the entry file. */
function processOf(args: string[], where: string): ProcessKind {
  const kind = processKindOf(args);
  const [node, entry] = entrypointCommand(args);
  expect([node, entry], `${where}: the entrypoint runs ${entry} for ${args.join(" ")}`).toEqual(["node", kind.entry]);
  expect(existsSync(join(root, kind.entry)), `${where}: ${kind.entry} exists`).toBe(true);
  expect(read(kind.entry), `${kind.entry} loads its config with ${kind.loaderCall}`).toContain(kind.loaderCall);
  return kind;
}

/**
 * Whether the process's loader already reads its metrics variable. The metrics listener is being
 * added to the loaders; until a loader reads its variable, setting it is tolerated (and said).
 */
function readsMetricsVariable(kind: ProcessKind): boolean {
  if (!kind.metricsVariable) return true;
  const { read } = loadRecordingReads(kind, { BAZAAR_ENV: "development" });
  return read.has(kind.metricsVariable);
}

/** Every variable the environment sets must be one the loader read; the pending metrics one aside. */
function expectAllRead(kind: ProcessKind, set: string[], read: Set<string>, where: string): void {
  const tolerated = new Set<string>();
  if (kind.metricsVariable && !readsMetricsVariable(kind)) {
    tolerated.add(kind.metricsVariable);
    console.warn(`${where}: ${kind.entry}'s loader does not read ${kind.metricsVariable} yet; tolerated until it does`);
  }
  const unread = set.filter((name) => !read.has(name) && !tolerated.has(name));
  expect(unread, `${where}: variables set that ${kind.entry}'s config loader never reads`).toEqual([]);
}

let standInSigningKeys = "";
beforeAll(() => {
  // The documented way to make auth's keys, so the stand-in is what operators will store.
  const result = spawnSync(process.execPath, [join(root, "deploy/container/signing-key.ts")], { encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  standInSigningKeys = result.stdout.trim();
});

/** Well-formed values for the Secret keys the manifests use; an unknown key fails the test. */
function secretStandIn(key: string): string {
  const standIns: Record<string, string> = {
    "mysql-url": "mysql://service:stand-in@mysql.bazaar.svc.cluster.local:3306",
    "nats-url":
      "nats://service:stand-in@nats-0.nats-headless.bazaar.svc.cluster.local:4222,nats://nats-1.nats-headless.bazaar.svc.cluster.local:4222",
    "service-secret": "stand-in-service-secret-0123456789abcdef",
    "signing-keys": standInSigningKeys,
    "root-password": "stand-in",
    "test-webhook-secret": "stand-in-test-webhook-secret",
    "stripe-secret-key": "sk_test_stand_in",
    "stripe-webhook-secret": "whsec_stand_in",
    "smtp-url": "smtps://bazaar:stand-in@smtp-relay.example:465",
    "access-key-id": "AKIASTANDIN",
    "secret-access-key": "stand-in-secret-access-key",
  };
  const value = standIns[key] ?? (/-password$/.test(key) ? "stand-in" : undefined);
  if (value === undefined) throw new Error(`no stand-in for Secret key "${key}": add one to the test`);
  return value;
}

interface ResolvedEnv {
  values: Record<string, string>;
  secretRefs: Array<{ variable: string; name: string; key: string }>;
}

/** A container's environment with ConfigMaps looked up and Secrets replaced by stand-ins. */
function resolveEnv(container: Container, resources: Resource[], namespace: string, where: string): ResolvedEnv {
  const configMap = (name: string) => {
    const found = resources.find(
      (r) => r.kind === "ConfigMap" && r.metadata.name === name && r.metadata.namespace === namespace,
    );
    expect(found, `${where}: ConfigMap ${name} exists`).toBeDefined();
    return (found as unknown as { data?: Record<string, string> }).data ?? {};
  };
  const resolved: ResolvedEnv = { values: {}, secretRefs: [] };
  for (const source of container.envFrom ?? []) {
    expect(source.secretRef, `${where}: Secrets are referenced key by key, never whole (envFrom)`).toBeUndefined();
    Object.assign(resolved.values, configMap(source.configMapRef!.name));
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (variable.value !== undefined) resolved.values[variable.name] = variable.value;
    else if (from?.configMapKeyRef) {
      const data = configMap(from.configMapKeyRef.name);
      expect(Object.keys(data), `${where}: ${variable.name} from ConfigMap ${from.configMapKeyRef.name}`).toContain(
        from.configMapKeyRef.key,
      );
      resolved.values[variable.name] = data[from.configMapKeyRef.key]!;
    } else if (from?.secretKeyRef) {
      resolved.secretRefs.push({ variable: variable.name, ...from.secretKeyRef });
      resolved.values[variable.name] = secretStandIn(from.secretKeyRef.key);
    } else if (from?.fieldRef) {
      resolved.values[variable.name] = `field:${from.fieldRef.fieldPath}`;
    } else {
      throw new Error(`${where}: ${variable.name} has no value`);
    }
  }
  return resolved;
}

/** Secrets the README creates: `kubectl … create secret generic NAME --from-literal=KEY=… --from-file=KEY=…`. */
function documentedSecrets(): Map<string, Set<string>> {
  const text = read("deploy/README.md").replace(/\\\n\s*/g, " ");
  const secrets = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const match = /\bkubectl\b.*\bcreate secret generic\s+([\w.-]+)(.*)$/.exec(line);
    if (!match) continue;
    const keys = [...match[2]!.matchAll(/--from-(?:literal|file)=([\w.-]+)=/g)].map((m) => m[1]!);
    secrets.set(match[1]!, new Set([...(secrets.get(match[1]!) ?? []), ...keys]));
  }
  return secrets;
}

function imageUser(): { uid: number; gid: number | undefined } {
  const user = readDockerfile(read("deploy/Dockerfile")).user ?? "";
  const [uid, gid] = user.split(":");
  return { uid: Number(uid), gid: gid === undefined ? undefined : Number(gid) };
}

/** Packages of models beside kubernetes-models, by API group: the Prometheus operator's kinds. */
const modelPackages: Record<string, string> = { "monitoring.coreos.com": "@kubernetes-models/prometheus-operator" };

async function modelClass(apiVersion: string, kind: string): Promise<new (data: unknown) => { validate(): void }> {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [undefined, apiVersion];
  const models = (group && modelPackages[group]) ?? "kubernetes-models";
  const module = await import(/* @vite-ignore */ `${models}/${group ? `${group}/` : ""}${version}/${kind}`);
  return module[kind];
}

function kubectlRender(dir: string): Resource[] {
  const result = spawnSync("kubectl", ["kustomize", join(root, dir)], {
    encoding: "utf8",
    env: { ...process.env, PATH: searchPath },
  });
  expect(result.status, result.stderr).toBe(0);
  return parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as Resource | null)
    .filter((resource): resource is Resource => resource !== null);
}

const idOf = (r: Resource) => `${r.apiVersion} ${r.kind} ${r.metadata.namespace ?? ""}/${r.metadata.name}`;

// ---- the Kubernetes manifests

describe.each(Object.entries(kustomizations))("the %s kustomization", (overlay, dir) => {
  const resources = renderKustomization(join(root, dir));
  const namespace = resources.find((r) => r.kind === "Namespace")?.metadata.name ?? "";
  const workloads = workloadsOf(resources);
  const bazaarContainers = workloads.flatMap((workload) =>
    workload.spec.containers
      .filter((c) => isBazaarImage(c.image))
      .map((container) => ({
        workload,
        container,
        where: `${workload.resource.kind}/${workload.resource.metadata.name}`,
      })),
  );
  const named = (kind: string, name: string) => resources.find((r) => r.kind === kind && r.metadata.name === name);

  it.skipIf(!onPath("kubectl"))("renders exactly as kubectl kustomize does", () => {
    const ours = new Map(resources.map((r) => [idOf(r), r]));
    const theirs = new Map(kubectlRender(dir).map((r) => [idOf(r), r]));
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [id, resource] of ours) expect(resource, id).toEqual(theirs.get(id));
  });

  it("holds only valid Kubernetes objects", async () => {
    for (const resource of resources) {
      const Model = await modelClass(resource.apiVersion, resource.kind);
      expect(Model, `kubernetes-models has ${resource.apiVersion} ${resource.kind}`).toBeTypeOf("function");
      expect(() => new Model(resource).validate(), idOf(resource)).not.toThrow();
    }
  });

  it("puts everything in one namespace, which it creates under the restricted pod security standard", () => {
    expect(namespace).toBe("bazaar");
    expect(named("Namespace", namespace)!.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    for (const resource of resources.filter((r) => r.kind !== "Namespace"))
      expect(resource.metadata.namespace, idOf(resource)).toBe(namespace);
  });

  it("runs the one Bazaar image, tagged in overlays, and only the known third-party images besides", () => {
    const images = new Set(bazaarContainers.map(({ container }) => container.image));
    expect(images.size, [...images].join(", ")).toBe(1);
    if (overlay !== "base")
      expect(parseImage([...images][0]!).suffix, "an overlay pins the image's tag or digest").not.toBe("");
    for (const { spec } of workloads) {
      for (const container of spec.containers.filter((c) => !isBazaarImage(c.image))) {
        expect(thirdPartyImages, container.image).toContain(parseImage(container.image).name);
        expect(parseImage(container.image).suffix, `${container.image} has a tag`).not.toBe("");
      }
    }
  });

  it("gives each Bazaar container an environment that its config loader reads completely and accepts", () => {
    for (const { workload, container, where } of bazaarContainers) {
      expect(container.command, `${where}: the image's entrypoint runs it`).toBeUndefined();
      const kind = processOf(container.args ?? [], where);
      const { values } = resolveEnv(container, resources, namespace, where);
      const { config, read } = loadRecordingReads(kind, values);
      expectAllRead(kind, Object.keys(values), read, where);
      if (workload.resource.kind === "Deployment")
        expect(config.environment ?? "production", `${where}: runs in production mode`).toBe("production");
    }
  });

  it("connects every long-running process, the edge included, to the NATS cluster as its own user", () => {
    const connected = bazaarContainers
      .filter(({ workload }) => workload.resource.kind === "Deployment")
      .map(({ container, where }) => {
        const name = (container.args ?? [])[0]!.toUpperCase();
        const { values } = resolveEnv(container, resources, namespace, where);
        const url = values[`BAZAAR_${name}_NATS_URL`];
        expect(url, `${where}: BAZAAR_${name}_NATS_URL`).toBeDefined();
        expect(new URL(url!.split(",")[0]!).hostname, where).toMatch(/^nats-0\.nats-headless\./);
        return name;
      });
    expect(connected).toContain("EDGE");
  });

  it("listens where its probes, ports, Services and metrics annotations say", () => {
    for (const { workload, container, where } of bazaarContainers.filter(
      ({ workload }) => workload.resource.kind === "Deployment",
    )) {
      const kind = processKindOf(container.args ?? []);
      const { values } = resolveEnv(container, resources, namespace, where);
      const { config } = loadRecordingReads(kind, values);
      const listen = config.listenAddress!;
      expect(hostOf(listen), `${where}: listens on every interface`).toBe("0.0.0.0");
      const servingPort = container.ports?.find(
        (p) => p.name === (kind.entry === "edge/main.ts" ? "http" : "grpc"),
      )?.containerPort;
      expect(servingPort, `${where}: serving container port = listen address`).toBe(portOf(listen));
      const probes = [container.startupProbe, container.readinessProbe, container.livenessProbe];
      expect(probes.every(Boolean), `${where}: startup, readiness and liveness probes`).toBe(true);
      if (kind.entry === "edge/main.ts") {
        expect(
          probes.map((p) => p!.httpGet?.port),
          `${where}: probe port`,
        ).toEqual([portOf(listen), portOf(listen), portOf(listen)]);
        expect(probes.map((p) => p!.httpGet?.path)).toEqual(["/healthz", "/readyz", "/healthz"]);
      } else {
        expect(
          probes.map((p) => p!.grpc?.port),
          `${where}: gRPC probe port`,
        ).toEqual([portOf(listen), portOf(listen), portOf(listen)]);
      }

      const metrics = values[kind.metricsVariable!];
      expect(metrics, `${where}: ${kind.metricsVariable} is set`).toBeDefined();
      expect(hostOf(metrics!)).toBe("0.0.0.0");
      if (config.metricsAddress !== undefined) expect(config.metricsAddress).toBe(metrics);
      expect(container.ports?.find((p) => p.name === "metrics")?.containerPort, `${where}: metrics port`).toBe(
        portOf(metrics!),
      );
      expect(workload.annotations, `${where}: Prometheus annotations`).toMatchObject({
        "prometheus.io/scrape": "true",
        "prometheus.io/port": String(portOf(metrics!)),
        "prometheus.io/path": "/metrics",
      });
    }
    // Every Service reaches a port some selected pod listens on.
    for (const service of resources.filter((r) => r.kind === "Service")) {
      const spec = service.spec as {
        type?: string;
        selector?: Record<string, string>;
        ports: Array<{ port: number; targetPort?: number | string }>;
      };
      if (spec.type === "ExternalName") continue;
      const pods = workloads.filter((w) => selects({ matchLabels: spec.selector }, w.labels));
      expect(pods.length, `${idOf(service)} selects pods`).toBeGreaterThan(0);
      for (const port of spec.ports) {
        const target = port.targetPort ?? port.port;
        for (const pod of pods) {
          const containerPorts = pod.spec.containers.flatMap((c) => c.ports ?? []);
          const resolved =
            typeof target === "number" ? target : containerPorts.find((p) => p.name === target)?.containerPort;
          expect(
            containerPorts.map((p) => p.containerPort),
            `${idOf(service)} port ${port.port}`,
          ).toContain(resolved);
        }
      }
    }
  });

  it("addresses every peer by the headless Service of that peer, on the port its pods listen on", () => {
    for (const { container, where } of bazaarContainers) {
      const { values } = resolveEnv(container, resources, namespace, where);
      for (const [variable, value] of Object.entries(values).filter(
        ([name]) => /^BAZAAR_[A-Z]+_ADDR$/.test(name) && name !== "BAZAAR_EDGE_ADDR",
      )) {
        const peer = variable.slice("BAZAAR_".length, -"_ADDR".length).toLowerCase();
        const match = /^dns:\/\/\/([\w-]+)\.([\w-]+)\.svc\.cluster\.local:(\d+)$/.exec(value);
        expect(
          match,
          `${where}: ${variable}=${value} is dns:///<service>.<namespace>.svc.cluster.local:<port>`,
        ).not.toBeNull();
        const [, serviceName, serviceNamespace, port] = match!;
        expect(serviceNamespace, `${where}: ${variable} names this namespace`).toBe(namespace);
        const service = named("Service", serviceName!);
        const spec = service?.spec as { clusterIP?: string; selector: Record<string, string> } | undefined;
        expect(spec?.clusterIP, `${where}: ${variable} names a headless Service`).toBe("None");
        const pods = workloads.filter((w) => selects({ matchLabels: spec!.selector }, w.labels));
        expect(
          pods.map((w) => w.resource.kind),
          `${where}: ${serviceName} selects one Deployment's pods`,
        ).toEqual(["Deployment"]);
        const peerContainer = pods[0]!.spec.containers[0]!;
        expect(peerContainer.args, `${where}: ${variable} reaches the ${peer} service`).toEqual([peer]);
        expect(peerContainer.ports?.find((p) => p.name === "grpc")?.containerPort, `${where}: ${variable}'s port`).toBe(
          Number(port),
        );
      }
    }
  });

  it("takes every secret from a Secret and key that deploy/README.md tells operators to create", () => {
    const documented = documentedSecrets();
    for (const { spec, resource } of workloads) {
      for (const container of spec.containers) {
        const where = `${resource.kind}/${resource.metadata.name}`;
        const { secretRefs } = resolveEnv(container, resources, namespace, where);
        for (const { variable, name, key } of secretRefs) {
          expect(
            documented.get(name),
            `${where}: ${variable} from Secret ${name}, created in deploy/README.md`,
          ).toBeDefined();
          expect([...documented.get(name)!], `${where}: ${variable} from key ${key} of ${name}`).toContain(key);
        }
        const literal = (container.env ?? []).filter((v) => secretVariable.test(v.name) && !v.valueFrom?.secretKeyRef);
        expect(
          literal.map((v) => v.name),
          `${where}: secret values only from Secrets`,
        ).toEqual([]);
      }
    }
    for (const configMap of resources.filter((r) => r.kind === "ConfigMap")) {
      const keys = Object.keys((configMap as unknown as { data?: object }).data ?? {});
      expect(
        keys.filter((key) => secretVariable.test(key)),
        `${idOf(configMap)} holds no secret`,
      ).toEqual([]);
    }
    expect(resources.filter((r) => r.kind === "Secret").map(idOf), "no Secret objects are committed").toEqual([]);
  });

  it("runs every container as a non-root user without capabilities, Bazaar's as the image's user", () => {
    const { uid } = imageUser();
    expect(uid).toBeGreaterThan(0);
    for (const { spec, resource } of workloads) {
      const where = `${resource.kind}/${resource.metadata.name}`;
      expect(spec.securityContext?.seccompProfile?.type, where).toBe("RuntimeDefault");
      expect(spec.automountServiceAccountToken, `${where}: no API token mounted`).toBe(false);
      for (const container of spec.containers) {
        const security = container.securityContext ?? {};
        expect(
          security.runAsNonRoot ?? spec.securityContext?.runAsNonRoot,
          `${where}/${container.name}: runAsNonRoot`,
        ).toBe(true);
        expect(security.allowPrivilegeEscalation, `${where}/${container.name}`).toBe(false);
        expect(security.capabilities?.drop, `${where}/${container.name}`).toContain("ALL");
        if (!writableRootContainers.has(container.name))
          expect(security.readOnlyRootFilesystem, `${where}/${container.name}: read-only root`).toBe(true);
        if (isBazaarImage(container.image))
          expect(security.runAsUser ?? spec.securityContext?.runAsUser, `${where}: the image's user`).toBe(uid);
        expect(
          container.resources?.requests?.cpu &&
            container.resources.requests.memory &&
            container.resources.limits?.memory,
          `${where}: requests and a memory limit`,
        ).toBeTruthy();
      }
    }
  });

  it("migrates every service with a Job that uses the service's own database and credentials", () => {
    for (const service of serviceNames) {
      const job = workloads.find(
        (w) => w.resource.kind === "Job" && isDeepStrictEqual(w.spec.containers[0]?.args, ["migrate", service]),
      );
      expect(job, `a Job runs migrate ${service}`).toBeDefined();
      expect(job!.labels["app.kubernetes.io/component"], "the label the rollout waits on").toBe("migration");
      const deployment = workloads.find(
        (w) => w.resource.kind === "Deployment" && isDeepStrictEqual(w.spec.containers[0]?.args, [service]),
      )!;
      const envOf = (w: Workload) => Object.fromEntries((w.spec.containers[0]!.env ?? []).map((v) => [v.name, v]));
      const db = `BAZAAR_${service.toUpperCase()}_DB`;
      expect(envOf(job!)[db], `${service}: the Job migrates the service's database`).toEqual(envOf(deployment)[db]);
      expect(envOf(job!).BAZAAR_MYSQL_URL, `${service}: the Job uses the service's MySQL user`).toEqual(
        envOf(deployment).BAZAAR_MYSQL_URL,
      );
      // The Jobs run first, applied alone (deploy/README.md, "Rolling out"): Secrets only.
      expect(JSON.stringify(job!.spec), `${service}: the Job needs no ConfigMap`).not.toContain("configMap");
    }
    // What the first rollout step applies: the Jobs, and in overlays the name they reach MySQL by.
    const firstStep = resources.filter((r) =>
      ["database", "migration"].includes(r.metadata.labels?.["app.kubernetes.io/component"] ?? ""),
    );
    expect(firstStep.filter((r) => r.kind === "Job")).toHaveLength(serviceNames.length);
    if (overlay !== "base")
      expect(
        firstStep.some((r) => r.kind === "Service" && r.metadata.name === "mysql"),
        "the mysql Service comes with the Jobs",
      ).toBe(true);
  });

  it("autoscales every Deployment (which leaves its replica count to the HPA) and budgets its disruptions", () => {
    const deployments = resources.filter((r) => r.kind === "Deployment");
    const hpas = resources.filter((r) => r.kind === "HorizontalPodAutoscaler");
    const pdbs = resources.filter((r) => r.kind === "PodDisruptionBudget");
    for (const deployment of deployments) {
      expect(
        (deployment.spec as { replicas?: number }).replicas,
        `${idOf(deployment)} has no replicas field`,
      ).toBeUndefined();
      const hpa = hpas.find(
        (h) =>
          (h.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef.name ===
          deployment.metadata.name,
      );
      expect(hpa, `${idOf(deployment)} has an HPA`).toBeDefined();
      const { minReplicas, maxReplicas } = hpa!.spec as { minReplicas: number; maxReplicas: number };
      expect(minReplicas).toBeLessThanOrEqual(maxReplicas);
    }
    for (const hpa of hpas)
      expect(
        named("Deployment", (hpa.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name),
        idOf(hpa),
      ).toBeDefined();
    for (const pdb of pdbs) {
      const matched = workloads.filter((w) => selects((pdb.spec as { selector: object }).selector, w.labels));
      expect(matched.length, `${idOf(pdb)} selects one workload's pods`).toBe(1);
    }
    // The dev overlay's one-replica stores (MySQL, the object store) have nothing to budget.
    const devStores = new Set(["mysql", "object-store"]);
    for (const workload of workloads.filter(
      (w) => w.resource.kind !== "Job" && !devStores.has(w.resource.metadata.name),
    )) {
      expect(
        pdbs.some((pdb) => selects((pdb.spec as { selector: object }).selector, workload.labels)),
        `${idOf(workload.resource)} has a PDB`,
      ).toBe(true);
    }
  });

  it("lets only the edge be reached from outside, and the mesh, NATS and monitoring exactly where they need", () => {
    const namespaceLabels = { "kubernetes.io/metadata.name": namespace };
    const pods = workloads.map((w) => ({
      name: w.resource.metadata.name,
      component: w.labels["app.kubernetes.io/component"],
      pod: {
        namespace,
        namespaceLabels,
        labels: w.labels,
        ports: new Map(w.spec.containers.flatMap((c) => c.ports ?? []).map((p) => [p.name ?? "", p.containerPort])),
      } satisfies PodInNamespace,
    }));
    const monitoring = {
      namespace: "monitoring",
      namespaceLabels: { "kubernetes.io/metadata.name": "monitoring" },
      labels: {},
      ports: new Map(),
    };
    const elsewhere = {
      namespace: "other",
      namespaceLabels: { "kubernetes.io/metadata.name": "other" },
      labels: {},
      ports: new Map(),
    };
    const mesh = new Set(["edge", "service"]);
    // Who may connect to which named port, by component; everything else must be refused.
    const expected = (source: (typeof pods)[number], destination: (typeof pods)[number], portName: string) =>
      expectedByComponent(source.component, destination, portName) ||
      // The dev overlay's object store: the product service keeps pictures there.
      (source.name === "product" && destination.name === "object-store" && portName === "s3");
    const expectedByComponent = (source: string | undefined, destination: (typeof pods)[number], portName: string) =>
      (mesh.has(source ?? "") && destination.component === "service" && portName === "grpc") ||
      (mesh.has(source ?? "") && destination.name === "nats" && portName === "client") ||
      (source === "event-broker" && destination.name === "nats" && portName === "cluster") ||
      ((source === "service" || source === "migration") && destination.name === "mysql" && portName === "mysql");

    for (const destination of pods) {
      expect(isIsolated(resources, destination.pod), `${destination.name} is closed unless a policy opens it`).toBe(
        true,
      );
      for (const [portName, port] of destination.pod.ports) {
        const what = `${destination.name}:${portName}`;
        const fromOutside = canConnect(resources, outsideTheCluster, destination.pod, port);
        expect(fromOutside, `${what} from outside the cluster`).toBe(
          destination.name === "edge" && portName === "http",
        );
        expect(canConnect(resources, elsewhere, destination.pod, port), `${what} from another namespace`).toBe(
          destination.name === "edge" && portName === "http",
        );
        expect(canConnect(resources, monitoring, destination.pod, port), `${what} from monitoring`).toBe(
          (destination.name === "edge" && portName === "http") || portName === "metrics" || portName === "monitor",
        );
        for (const source of pods) {
          const allowed = canConnect(resources, source.pod, destination.pod, port);
          const wanted =
            expected(source, destination, portName) || (destination.name === "edge" && portName === "http");
          expect(allowed, `${source.name} → ${what}`).toBe(wanted);
        }
      }
    }
  });

  it("configures a 3-node NATS cluster whose routes, variables and users agree with the StatefulSet", () => {
    const statefulSet = named("StatefulSet", "nats")!;
    const spec = statefulSet.spec as { replicas: number; serviceName: string };
    const container = workloads.find((w) => w.resource === statefulSet)!.spec.containers[0]!;
    const config = (named("ConfigMap", "nats-config") as unknown as { data: Record<string, string> }).data[
      "nats.conf"
    ]!;
    const clusterPort = container.ports!.find((p) => p.name === "cluster")!.containerPort;

    expect(spec.replicas).toBe(3);
    const common = (named("ConfigMap", "bazaar-common") as unknown as { data: Record<string, string> }).data;
    expect(Number(common.BAZAAR_NATS_STREAM_REPLICAS), "the event stream has a copy on every node").toBe(spec.replicas);
    const headless = named("Service", spec.serviceName)!.spec as {
      clusterIP: string;
      publishNotReadyAddresses?: boolean;
    };
    expect(headless).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    const routes = [...(/routes:\s*\[([^\]]*)\]/.exec(config)?.[1] ?? "").matchAll(/nats:\/\/([\w.-]+:\d+)/g)].map(
      (m) => m[1],
    );
    expect(routes).toEqual(
      Array.from(
        { length: spec.replicas },
        (_, i) => `nats-${i}.${spec.serviceName}.${namespace}.svc.cluster.local:${clusterPort}`,
      ),
    );

    const provided = new Set((container.env ?? []).map((v) => v.name));
    // A variable is a bare value ($NAME after ":"); "$JS.API.>" inside quotes is a subject.
    const referenced = [...config.matchAll(/[:=]\s*\$([A-Za-z_]\w*)/g)].map((m) => m[1]!);
    expect(
      referenced.filter((name) => !provided.has(name)),
      "variables nats.conf reads that the container lacks",
    ).toEqual([]);
    const users = [...config.matchAll(/\buser:\s*(\w+)/g)].map((m) => m[1]);
    expect(users).toEqual(expect.arrayContaining(serviceNames));

    if (!onPath("nats-server")) return;
    const dirPath = mkdtempSync(join(tmpdir(), "bazaar-nats-conf-"));
    try {
      writeFileSync(join(dirPath, "nats.conf"), config);
      const env = { PATH: searchPath, ...Object.fromEntries([...provided].map((name) => [name, "stand-in"])) };
      const result = spawnSync("nats-server", ["-t", "-c", join(dirPath, "nats.conf")], { env, encoding: "utf8" });
      expect(result.status, `nats-server -t: ${result.stderr}${result.stdout}`).toBe(0);
    } finally {
      rmSync(dirPath, { recursive: true, force: true });
    }
  });
});

describe("the dev and prod overlays", () => {
  it("keep every base resource, and dev's MySQL runs with the settings compose's has", () => {
    const base = renderKustomization(join(root, kustomizations.base));
    for (const overlay of ["dev", "prod"] as const) {
      const rendered = renderKustomization(join(root, kustomizations[overlay]));
      expect(
        base.map(idOf).filter((id) => !rendered.some((r) => idOf(r) === id)),
        `${overlay} keeps every base resource`,
      ).toEqual([]);
    }
    const dev = renderKustomization(join(root, kustomizations.dev));
    const devMysql = workloadsOf(dev).find((w) => w.resource.metadata.name === "mysql")!.spec.containers[0]!;
    const compose = parse(read("deploy/compose.yaml"), { merge: true }) as {
      services: Record<string, { command?: string[] }>;
    };
    expect(devMysql.args, "dev's MySQL has the settings compose's has").toEqual(compose.services.mysql!.command);
  });

  it("prod carries the operator pack: a ServiceMonitor reaching every process's metrics port, the alert rules and the Grafana dashboard", () => {
    const prod = renderKustomization(join(root, kustomizations.prod));
    const find = (kind: string, name: string) => prod.find((r) => r.kind === kind && r.metadata.name === name);
    const monitor = find("ServiceMonitor", "bazaar")?.spec as
      | {
          selector: { matchLabels: Record<string, string> };
          endpoints: Array<{ port: string; path: string; relabelings?: Array<{ targetLabel: string }> }>;
        }
      | undefined;
    expect(monitor, "ServiceMonitor bazaar").toBeDefined();
    const services = prod.filter(
      (r) => r.kind === "Service" && selects({ matchLabels: monitor!.selector.matchLabels }, r.metadata.labels ?? {}),
    );
    expect(services.map((s) => s.metadata.name)).toEqual(["bazaar-metrics"]);
    const metricsService = services[0]!.spec as {
      selector: Record<string, string>;
      clusterIP?: string;
      ports: Array<{ name: string; targetPort: string }>;
    };
    expect(metricsService.clusterIP, "headless: every pod is a target").toBe("None");
    const endpoint = monitor!.endpoints[0]!;
    expect(endpoint.path).toBe("/metrics");
    expect(endpoint.relabelings?.map((r) => r.targetLabel)).toContain("job");
    const port = metricsService.ports.find((p) => p.name === endpoint.port);
    expect(port, `the Service has the port ${endpoint.port}`).toBeDefined();
    const scraped = workloadsOf(prod).filter((w) => selects({ matchLabels: metricsService.selector }, w.labels));
    expect(scraped.map((w) => w.resource.metadata.name).sort()).toEqual([...serviceNames, "edge"].sort());
    for (const workload of scraped) {
      expect(
        workload.spec.containers.some((c) => c.ports?.some((p) => p.name === port!.targetPort)),
        `${workload.resource.metadata.name} has a ${port!.targetPort} port`,
      ).toBe(true);
    }

    const rules = find("PrometheusRule", "bazaar")?.spec as
      | { groups: Array<{ rules: Array<{ alert?: string; expr: string }> }> }
      | undefined;
    expect(rules?.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort()).toEqual([
      "BazaarConsumerBacklog",
      "BazaarConsumerLagHigh",
      "BazaarDeadLettersUnresolved",
      "BazaarEdgeBackendNotServing",
      "BazaarNotServing",
      "BazaarOutboxEventUnpublished",
      "BazaarRpcLatencyHigh",
      "BazaarRpcServerErrors",
      "BazaarTargetDown",
    ]);

    const dashboards = prod.filter((r) => r.kind === "ConfigMap" && r.metadata.labels?.grafana_dashboard === "1");
    expect(dashboards.map((d) => d.metadata.name)).toEqual(["bazaar-grafana-dashboard"]);
    const data = (dashboards[0] as unknown as { data: Record<string, string> }).data;
    expect(data, "the dashboard as it is in its own file").toEqual({
      "bazaar.json": read("deploy/k8s/overlays/prod/observability/bazaar-dashboard.json"),
    });
    expect(JSON.parse(data["bazaar.json"]!).uid).toBe("bazaar-services");

    const dev = renderKustomization(join(root, kustomizations.dev));
    expect(
      dev.some((r) => r.apiVersion.startsWith("monitoring.coreos.com/")),
      "dev needs no Prometheus operator",
    ).toBe(false);
  });
});

// ---- the image

describe("the image", () => {
  const dockerfile = readDockerfile(read("deploy/Dockerfile"));
  const dockerignore = read("deploy/Dockerfile.dockerignore");
  const entrypointNames = [...serviceNames, "edge", "migrate", "admin-rebuild"];

  it("runs its processes with the V8 settings the local mesh and the bench use", () => {
    expect(dockerfile.env.NODE_OPTIONS).toBe(nodeOptions);
  });

  it("lets into the build context everything the Dockerfile copies", () => {
    for (const source of dockerfile.copiedFromContext) expect(contextIncludes(dockerignore, source), source).toBe(true);
    expect(contextIncludes(dockerignore, "services/order/order-service.test.ts"), "tests stay out").toBe(false);
    expect(contextIncludes(dockerignore, ".data/mysql/ibdata1"), "local data stays out").toBe(false);
    expect(contextIncludes(dockerignore, "node_modules/kysely/package.json"), "the host's node_modules stay out").toBe(
      false,
    );
  });

  it("holds every file and production package the processes import, and the files the edge serves", async () => {
    const entries = [
      ...new Set(entrypointNames.map((name) => entrypointCommand(name === "migrate" ? [name, "auth"] : [name])[1]!)),
      "deploy/container/healthcheck.ts",
      "deploy/container/signing-key.ts",
    ];
    const { files, packages } = await runtimeImports(root, entries);
    expect(files.length).toBeGreaterThan(50);
    expect(
      files.filter((file) => !imageHas(dockerfile, dockerignore, file)),
      "imported but not in the image",
    ).toEqual([]);
    const { dependencies } = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
    expect(
      packages.filter((name) => !(name in dependencies)),
      "imported at runtime but not a production dependency",
    ).toEqual([]);
    // Besides imports: s3rver runs by path (entrypoint.sh object-store), swagger-ui-dist's files
    // are read from disk (edge/openapi/files.ts), and the storefront's bundle, made in the image's
    // own stage from the installed dependencies, takes @connectrpc/connect-web.
    const usedOtherwise = ["s3rver", "swagger-ui-dist", "@connectrpc/connect-web"];
    expect(
      Object.keys(dependencies).filter((name) => !packages.includes(name) && !usedOtherwise.includes(name)),
      "production dependencies nothing at runtime uses",
    ).toEqual([]);
    const storefrontPackages = (await runtimeImports(root, ["edge/storefront/app.ts"])).packages;
    expect(
      storefrontPackages.filter((name) => !(name in dependencies)),
      "imported by the storefront but not installed where the image bundles it",
    ).toEqual([]);
    expect(dockerfile.copiedFromStages, "the storefront's bundle comes from its build stage").toContainEqual({
      stage: "storefront",
      path: "/app/edge/storefront/dist",
    });
    // Read from disk at start (edge/storefront/files.ts, edge/openapi/files.ts).
    for (const file of [
      "edge/storefront/index.html",
      "edge/storefront/style.css",
      "edge/openapi/docs/index.html",
      "edge/openapi/docs/init.js",
      "gen/openapi/bazaar.openapi.json",
    ]) {
      expect(existsSync(join(root, file)), file).toBe(true);
      expect(imageHas(dockerfile, dockerignore, file), `${file} is in the image`).toBe(true);
    }
  });

  it("starts through the entrypoint as a numeric non-root user and exposes every port the deployments use", () => {
    expect(dockerfile.entrypoint.at(-1)).toBe("/app/deploy/container/entrypoint.sh");
    expect(imageHas(dockerfile, dockerignore, "deploy/container/entrypoint.sh")).toBe(true);
    expect(imageUser().uid).toBeGreaterThan(0);
    const used = new Set<number>();
    for (const dir of Object.values(kustomizations)) {
      for (const { spec } of workloadsOf(renderKustomization(join(root, dir)))) {
        for (const container of spec.containers.filter((c) => isBazaarImage(c.image)))
          for (const port of container.ports ?? []) used.add(port.containerPort);
      }
    }
    expect(
      [...used].filter((port) => !dockerfile.exposedPorts.includes(port)),
      "used but not exposed",
    ).toEqual([]);
  });
});

// ---- compose

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

describe("compose.yaml", () => {
  const compose = parse(read("deploy/compose.yaml"), { merge: true }) as { services: Record<string, ComposeService> };
  const services = compose.services;
  const bazaar = Object.entries(services).filter(([, s]) => s.image !== undefined && isBazaarImage(s.image));
  const envOf = (s: ComposeService) =>
    Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
  // The mesh's processes: not the one-shot migrations, not the local-dev object store.
  const longRunning = bazaar.filter(([, s]) => !["migrate", "object-store"].includes(s.command?.[0] ?? ""));
  const listenPort = (s: ComposeService) =>
    portOf(loadRecordingReads(processKindOf(s.command ?? []), envOf(s)).config.listenAddress!);

  it("gives each Bazaar container an environment that its config loader reads completely and accepts", () => {
    for (const [name, service] of bazaar) {
      const kind = processOf(service.command ?? [], `compose ${name}`);
      const { read } = loadRecordingReads(kind, envOf(service));
      expectAllRead(kind, Object.keys(envOf(service)), read, `compose ${name}`);
    }
  });

  it("checks each process's health on the port it listens on and publishes only the edge and the object store", () => {
    for (const [name, service] of longRunning) {
      const kind = processKindOf(service.command ?? []);
      const port = listenPort(service);
      const test = service.healthcheck?.test ?? [];
      if (kind.entry === "edge/main.ts") {
        expect(test.at(-1), `compose ${name} health`).toBe(`http://127.0.0.1:${port}/readyz`);
        expect(service.ports).toEqual([`${port}:${port}`]);
      } else {
        expect(test.slice(-2), `compose ${name} health`).toEqual(["grpc", `127.0.0.1:${port}`]);
      }
      const metrics = envOf(service)[kind.metricsVariable!];
      expect(metrics, `compose ${name}: ${kind.metricsVariable}`).toMatch(/^0\.0\.0\.0:\d+$/);
    }
    const published = Object.entries(services)
      .filter(([, s]) => s.ports?.length)
      .map(([name]) => name);
    // Browsers upload to the local-dev object store and read pictures from it.
    expect(published).toEqual(["object-store", "edge"]);
  });

  it("points every address at the compose service that runs it, on the port it listens on", () => {
    const byService = new Map(
      longRunning.map(([name, s]) => [processKindOf(s.command ?? []).entry, { name, port: listenPort(s) }]),
    );
    for (const [name, service] of bazaar) {
      for (const [variable, value] of Object.entries(envOf(service))) {
        if (/^BAZAAR_(AUTH|PRODUCT|CART|ORDER|ADMIN)_ADDR$/.test(variable)) {
          const peer = byService.get(`services/${variable.split("_")[1]!.toLowerCase()}/main.ts`)!;
          expect(value, `compose ${name}: ${variable}`).toBe(`${peer.name}:${peer.port}`);
        }
        if (variable === "BAZAAR_MYSQL_URL") expect(new URL(value).host, `compose ${name}`).toBe("mysql:3306");
        if (variable === "BAZAAR_NATS_URL") expect(new URL(value).host, `compose ${name}`).toBe("nats:4222");
      }
    }
    expect(services.mysql?.image).toMatch(/^mysql:8/);
    expect(services.nats?.command).toContain("--jetstream");
  });

  it("starts services after MySQL, NATS and the migrations, and the edge after its backends", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {}))
        expect(services, `compose ${name} depends on ${dependency}`).toHaveProperty(dependency);
    }
    for (const [name, service] of longRunning) {
      const kind = processKindOf(service.command ?? []);
      if (kind.entry === "edge/main.ts") {
        const backends = Object.keys(envOf(service)).filter((v) =>
          /^BAZAAR_(AUTH|PRODUCT|CART|ORDER|ADMIN)_ADDR$/.test(v),
        );
        for (const variable of backends) {
          expect(
            service.depends_on?.[variable.split("_")[1]!.toLowerCase()],
            `compose edge waits for ${variable}`,
          ).toEqual({ condition: "service_healthy" });
        }
      } else {
        expect(service.depends_on, `compose ${name}`).toMatchObject({
          mysql: { condition: "service_healthy" },
          nats: { condition: "service_healthy" },
          migrate: { condition: "service_completed_successfully" },
        });
      }
    }
    expect(services.migrate?.depends_on).toEqual({ mysql: { condition: "service_healthy" } });
  });

  it("marks every secret in it as a local-dev default", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [variable, value] of Object.entries(envOf(service))) {
        const password = /^\w+:\/\//.test(value) ? decodeURIComponent(new URL(value).password) : undefined;
        if (password) expect(password, `compose ${name}: ${variable}'s password`).toMatch(/local-dev-only/);
        if (/PASSWORD|SECRET|SIGNING_KEYS/.test(variable))
          expect(value, `compose ${name}: ${variable}`).toMatch(/local-dev-only/);
      }
    }
  });
});
