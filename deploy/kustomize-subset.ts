// Renders a kustomization without kubectl: exactly the part of kustomize that deploy/k8s uses,
// so the manifest tests run on machines that have no kubectl (CI installs only what the repo
// needs). Anything outside that part is refused with the field's name rather than rendered
// differently; where kubectl is present the tests also render with `kubectl kustomize` and
// require the same resources.
//
// Supported: resources (files and directories with their own kustomization), configMapGenerator
// (name and files, with options.disableNameSuffixHash: true — the name hash is not reproduced —
// and optional options.labels), namespace, labels (pairs; includeTemplates; not
// includeSelectors), images (newName, newTag, digest) and patches from files — a strategic-merge
// patch of maps only (lists are refused: their merge keys differ per field) or a JSON 6902 patch
// (add, replace, remove) with a target (kind, name, group, version, labelSelector of key=value
// pairs). They apply in kustomize's order: patches, namespace, labels, images.
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";

export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [field: string]: unknown };
  [field: string]: unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export class UnsupportedKustomization extends Error {
  override name = "UnsupportedKustomization";
}

const knownFields = new Set([
  "apiVersion",
  "kind",
  "namespace",
  "resources",
  "configMapGenerator",
  "labels",
  "images",
  "patches",
]);
/** Kinds the namespace transformer leaves alone; the only cluster-scoped kind deploy/k8s has. */
const clusterScopedKinds = new Set(["Namespace"]);
/** Workloads whose pod template the labels transformer reaches (includeTemplates). */
const podTemplateKinds = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

export function renderKustomization(dir: string): Resource[] {
  const file = join(dir, "kustomization.yaml");
  const kustomization = parse(readFileSync(file, "utf8")) as JsonObject;
  for (const field of Object.keys(kustomization)) {
    if (!knownFields.has(field))
      throw new UnsupportedKustomization(`${file}: field "${field}" is not supported by deploy/kustomize-subset.ts`);
  }
  if (kustomization.kind !== "Kustomization") throw new UnsupportedKustomization(`${file}: kind must be Kustomization`);

  let resources = loadResources(dir, asList(kustomization.resources, `${file}: resources`) as string[]);
  for (const generator of asList(kustomization.configMapGenerator, `${file}: configMapGenerator`))
    addResource(resources, generateConfigMap(dir, generator as JsonObject, file), file);
  for (const patch of asList(kustomization.patches, `${file}: patches`))
    resources = applyPatch(dir, patch as JsonObject, resources);
  if (kustomization.namespace !== undefined) setNamespace(resources, String(kustomization.namespace));
  for (const labels of asList(kustomization.labels, `${file}: labels`))
    addLabels(resources, labels as JsonObject, file);
  for (const image of asList(kustomization.images, `${file}: images`)) setImage(resources, image as JsonObject, file);
  return resources;
}

function asList(value: Json | undefined, what: string): Json[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new UnsupportedKustomization(`${what} must be a list`);
  return value;
}

function loadResources(dir: string, entries: string[]): Resource[] {
  const resources: Resource[] = [];
  for (const entry of entries) {
    const path = resolve(dir, entry);
    const loaded = statSync(path).isDirectory() ? renderKustomization(path) : readResources(path);
    for (const resource of loaded) addResource(resources, resource, path);
  }
  return resources;
}

/** Adds `resource`, refused when one of its kind and name is there already (`where` says whence). */
function addResource(resources: Resource[], resource: Resource, where: string): void {
  if (resources.some((other) => idOf(other) === idOf(resource)))
    throw new UnsupportedKustomization(`${where}: ${idOf(resource)} is defined twice`);
  resources.push(resource);
}

function readResources(path: string): Resource[] {
  return parseAllDocuments(readFileSync(path, "utf8"))
    .map((document) => {
      if (document.errors.length > 0) throw document.errors[0]!;
      return document.toJS() as Resource | null;
    })
    .filter((resource): resource is Resource => resource !== null)
    .map((resource) => {
      if (!resource.apiVersion || !resource.kind || !resource.metadata?.name) {
        throw new UnsupportedKustomization(`${path}: every document needs apiVersion, kind and metadata.name`);
      }
      return resource;
    });
}

function idOf(resource: Resource): string {
  return `${groupOf(resource.apiVersion)}/${resource.kind}/${resource.metadata.namespace ?? ""}/${resource.metadata.name}`;
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.split("/")[0]! : "";
}

// ---- generators

/** A ConfigMap from files, each under its file name or the key before "=" (`key=path`). */
function generateConfigMap(dir: string, generator: JsonObject, file: string): Resource {
  const where = `${file}: configMapGenerator ${generator.name}`;
  for (const field of Object.keys(generator)) {
    if (!["name", "files", "options"].includes(field))
      throw new UnsupportedKustomization(`${where}: field "${field}" is not supported`);
  }
  if (typeof generator.name !== "string") throw new UnsupportedKustomization(`${where}: needs a name`);
  const options = (generator.options ?? {}) as JsonObject;
  for (const field of Object.keys(options)) {
    if (field !== "disableNameSuffixHash" && field !== "labels")
      throw new UnsupportedKustomization(`${where}: option "${field}" is not supported`);
  }
  if (options.disableNameSuffixHash !== true)
    throw new UnsupportedKustomization(`${where}: needs options.disableNameSuffixHash: true (no name hash here)`);
  const data: Record<string, string> = {};
  for (const entry of asList(generator.files, `${where}: files`)) {
    const [key, path] = String(entry).includes("=") ? String(entry).split("=", 2) : [undefined, String(entry)];
    const name = key ?? path!.split("/").at(-1)!;
    if (name in data) throw new UnsupportedKustomization(`${where}: key ${name} is given twice`);
    data[name] = readFileSync(resolve(dir, path!), "utf8");
  }
  const labels = options.labels as Record<string, string> | undefined;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: generator.name, ...(labels ? { labels: { ...labels } } : {}) },
    data,
  };
}

// ---- patches

function applyPatch(dir: string, patch: JsonObject, resources: Resource[]): Resource[] {
  for (const field of Object.keys(patch)) {
    if (field !== "path" && field !== "target")
      throw new UnsupportedKustomization(
        `patches: field "${field}" is not supported (use path, and target for JSON 6902)`,
      );
  }
  if (typeof patch.path !== "string") throw new UnsupportedKustomization("patches: every patch needs a path");
  const path = resolve(dir, patch.path);
  const body = parse(readFileSync(path, "utf8")) as Json;
  if (Array.isArray(body)) {
    if (!patch.target) throw new UnsupportedKustomization(`${path}: a JSON 6902 patch needs a target`);
    const targets = resources.filter((resource) => matchesTarget(resource, patch.target as JsonObject, path));
    if (targets.length === 0) throw new UnsupportedKustomization(`${path}: the target matches no resource`);
    return resources.map((resource) =>
      targets.includes(resource) ? applyJson6902(resource, body as JsonObject[], path) : resource,
    );
  }
  if (patch.target)
    throw new UnsupportedKustomization(
      `${path}: a strategic-merge patch with a target is not supported; name the resource in the patch`,
    );
  const partial = body as unknown as Resource;
  const matches = resources.filter(
    (resource) =>
      resource.kind === partial.kind &&
      groupOf(resource.apiVersion) === groupOf(partial.apiVersion) &&
      resource.metadata.name === partial.metadata?.name &&
      (partial.metadata.namespace === undefined || resource.metadata.namespace === partial.metadata.namespace),
  );
  if (matches.length !== 1)
    throw new UnsupportedKustomization(`${path}: must match exactly one resource, matches ${matches.length}`);
  return resources.map((resource) =>
    resource === matches[0]
      ? (mergeMaps(resource as unknown as JsonObject, body as JsonObject, path) as unknown as Resource)
      : resource,
  );
}

function matchesTarget(resource: Resource, target: JsonObject, path: string): boolean {
  const [group, version] = resource.apiVersion.includes("/")
    ? resource.apiVersion.split("/")
    : ["", resource.apiVersion];
  for (const [field, wanted] of Object.entries(target)) {
    const actual = {
      kind: resource.kind,
      name: resource.metadata.name,
      group,
      version,
      namespace: resource.metadata.namespace,
    }[field];
    if (field === "labelSelector") {
      if (!labelSelectorMatches(String(wanted), resource.metadata.labels ?? {}, path)) return false;
    } else if (!["kind", "name", "group", "version", "namespace"].includes(field)) {
      throw new UnsupportedKustomization(`${path}: target field "${field}" is not supported`);
    } else if (actual !== wanted) {
      return false;
    }
  }
  return true;
}

/** key=value pairs, comma-separated: the equality form of a label selector. */
function labelSelectorMatches(selector: string, labels: Record<string, string>, path: string): boolean {
  return selector.split(",").every((term) => {
    const match = /^\s*([\w./-]+)\s*=\s*([\w.-]*)\s*$/.exec(term);
    if (!match) throw new UnsupportedKustomization(`${path}: label selector "${term}" is not key=value`);
    return labels[match[1]!] === match[2];
  });
}

/** A strategic-merge patch made only of maps: merged key by key, null deletes a key. */
function mergeMaps(target: JsonObject, patch: JsonObject, path: string, at = ""): JsonObject {
  const merged: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) throw new UnsupportedKustomization(`${path}: directive ${at}/${key} is not supported`);
    if (Array.isArray(value))
      throw new UnsupportedKustomization(`${path}: ${at}/${key} is a list; patch lists with a JSON 6902 patch`);
    const current = merged[key];
    if (value === null) delete merged[key];
    else if (isObject(value) && isObject(current)) merged[key] = mergeMaps(current, value, path, `${at}/${key}`);
    else merged[key] = structuredClone(value);
  }
  return merged;
}

function applyJson6902(resource: Resource, operations: JsonObject[], path: string): Resource {
  const document = structuredClone(resource) as unknown as JsonObject;
  for (const operation of operations) {
    const { op, path: pointer, value } = operation;
    if (op !== "add" && op !== "replace" && op !== "remove")
      throw new UnsupportedKustomization(`${path}: operation "${op}" is not supported`);
    const keys = String(pointer)
      .split("/")
      .slice(1)
      .map((key) => key.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = keys.pop();
    if (last === undefined) throw new UnsupportedKustomization(`${path}: cannot ${op} the whole document`);
    let parent: Json = document;
    for (const key of keys) {
      parent = Array.isArray(parent) ? parent[arrayIndex(parent, key, pointer, path)]! : (parent as JsonObject)[key]!;
      if (parent === undefined || parent === null || typeof parent !== "object") {
        throw new UnsupportedKustomization(
          `${path}: ${pointer} does not exist in ${resource.kind}/${resource.metadata.name}`,
        );
      }
    }
    if (Array.isArray(parent)) {
      if (op === "add")
        parent.splice(
          last === "-" ? parent.length : arrayIndex(parent, last, pointer, path, true),
          0,
          structuredClone(value!),
        );
      else
        parent.splice(
          arrayIndex(parent, last, pointer, path),
          1,
          ...(op === "replace" ? [structuredClone(value!)] : []),
        );
    } else {
      const object = parent as JsonObject;
      if (op !== "add" && !(last in object))
        throw new UnsupportedKustomization(
          `${path}: ${pointer} does not exist in ${resource.kind}/${resource.metadata.name}`,
        );
      if (op === "remove") delete object[last];
      else object[last] = structuredClone(value!);
    }
  }
  return document as unknown as Resource;
}

function arrayIndex(array: Json[], key: string, pointer: Json | undefined, path: string, inserting = false): number {
  const index = Number(key);
  if (!/^\d+$/.test(key) || index > array.length || (!inserting && index === array.length)) {
    throw new UnsupportedKustomization(`${path}: ${pointer}: index ${key} is out of range`);
  }
  return index;
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---- namespace, labels, images

function setNamespace(resources: Resource[], namespace: string): void {
  for (const resource of resources) {
    if (!clusterScopedKinds.has(resource.kind)) resource.metadata.namespace = namespace;
    // kustomize's handling of a Namespace named otherwise has changed between versions.
    else if (resource.kind === "Namespace" && resource.metadata.name !== namespace) {
      throw new UnsupportedKustomization(
        `Namespace ${resource.metadata.name} differs from the kustomization's namespace ${namespace}`,
      );
    }
  }
}

function addLabels(resources: Resource[], entry: JsonObject, file: string): void {
  for (const field of Object.keys(entry)) {
    if (field !== "pairs" && field !== "includeTemplates")
      throw new UnsupportedKustomization(`${file}: labels field "${field}" is not supported`);
  }
  const pairs = entry.pairs as Record<string, string>;
  const addTo = (holder: { labels?: Record<string, string> }) => {
    holder.labels = { ...holder.labels, ...pairs };
  };
  for (const resource of resources) {
    addTo(resource.metadata);
    if (entry.includeTemplates !== true) continue;
    const spec = resource.spec as
      | { template?: { metadata?: object }; volumeClaimTemplates?: Array<{ metadata?: object }> }
      | undefined;
    if (podTemplateKinds.has(resource.kind) && spec?.template) addTo((spec.template.metadata ??= {}));
    if (resource.kind === "StatefulSet")
      for (const claim of spec?.volumeClaimTemplates ?? []) addTo((claim.metadata ??= {}));
    if (resource.kind === "CronJob")
      throw new UnsupportedKustomization(`${file}: labels with includeTemplates on a CronJob are not supported`);
  }
}

function setImage(resources: Resource[], entry: JsonObject, file: string): void {
  for (const field of Object.keys(entry)) {
    if (!["name", "newName", "newTag", "digest"].includes(field))
      throw new UnsupportedKustomization(`${file}: images field "${field}" is not supported`);
  }
  for (const container of resources.flatMap(containersOf)) {
    const image = parseImage(container.image);
    if (image.name !== entry.name) continue;
    const name = entry.newName !== undefined ? String(entry.newName) : image.name;
    if (entry.digest !== undefined) container.image = `${name}@${entry.digest}`;
    else if (entry.newTag !== undefined) container.image = `${name}:${entry.newTag}`;
    else container.image = `${name}${image.suffix}`;
  }
}

/** The containers and init containers of a resource's pod template, if it has one. */
function containersOf(resource: Resource): Array<{ name: string; image: string; [field: string]: unknown }> {
  const podSpec = podSpecOf(resource);
  return podSpec ? [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])] : [];
}

export function podSpecOf(
  resource: Resource,
): { containers?: []; initContainers?: []; [field: string]: unknown } | undefined {
  const spec = resource.spec as { template?: { spec?: never } } | undefined;
  return podTemplateKinds.has(resource.kind) ? spec?.template?.spec : undefined;
}

/** name, and the ":tag" or "@digest" after it (a registry's :port belongs to the name). */
export function parseImage(image: string): { name: string; suffix: string } {
  const at = image.indexOf("@");
  if (at >= 0) return { name: image.slice(0, at), suffix: image.slice(at) };
  const colon = image.lastIndexOf(":");
  return colon > image.lastIndexOf("/")
    ? { name: image.slice(0, colon), suffix: image.slice(colon) }
    : { name: image, suffix: "" };
}
