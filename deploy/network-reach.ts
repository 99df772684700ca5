// Whether Kubernetes NetworkPolicies let a connection through, evaluated from rendered
// manifests: enough of the semantics for the policies deploy/k8s writes (ingress only; peers
// by podSelector, namespaceSelector or both, matchLabels only; ports by number or by name).
// Anything else throws, so a policy this cannot judge never passes unjudged.
import type { Resource } from "./kustomize-subset.ts";

export interface PodInNamespace {
  namespace: string;
  namespaceLabels: Record<string, string>;
  labels: Record<string, string>;
  /** Container ports by name (for named ports in policies). */
  ports: Map<string, number>;
}

/** A client with no pod in the cluster: the internet, a load balancer, a node. */
export const outsideTheCluster = { outside: true } as const;
export type Source = PodInNamespace | typeof outsideTheCluster;

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}
interface Peer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: unknown;
}
interface PolicyPort {
  port?: number | string;
  protocol?: string;
  endPort?: number;
}
interface IngressRule {
  from?: Peer[];
  ports?: PolicyPort[];
}
interface PolicySpec {
  podSelector: Selector;
  policyTypes?: string[];
  ingress?: IngressRule[];
}

export function selects(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (selector?.matchExpressions?.length) throw new Error("matchExpressions are not evaluated here");
  return Object.entries(selector?.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
}

function policiesOf(resources: Resource[], namespace: string): PolicySpec[] {
  return resources
    .filter((resource) => resource.kind === "NetworkPolicy" && resource.metadata.namespace === namespace)
    .map((resource) => resource.spec as PolicySpec);
}

function governsIngress(policy: PolicySpec): boolean {
  // Without policyTypes, a policy governs ingress (and egress only if it has egress rules).
  return policy.policyTypes === undefined || policy.policyTypes.includes("Ingress");
}

/** Whether some policy selects the pod for ingress, so that only what policies allow gets in. */
export function isIsolated(resources: Resource[], pod: PodInNamespace): boolean {
  return policiesOf(resources, pod.namespace).some(
    (policy) => governsIngress(policy) && selects(policy.podSelector, pod.labels),
  );
}

/** Whether `source` may open a TCP connection to `destination`'s `port`. */
export function canConnect(resources: Resource[], source: Source, destination: PodInNamespace, port: number): boolean {
  const applicable = policiesOf(resources, destination.namespace).filter(
    (policy) => governsIngress(policy) && selects(policy.podSelector, destination.labels),
  );
  if (applicable.length === 0) return true;
  return applicable.some((policy) =>
    (policy.ingress ?? []).some(
      (rule) => peerAllowed(rule.from, source, destination) && portAllowed(rule.ports, destination, port),
    ),
  );
}

function peerAllowed(peers: Peer[] | undefined, source: Source, destination: PodInNamespace): boolean {
  if (!peers || peers.length === 0) return true;
  return peers.some((peer) => {
    if (peer.ipBlock) throw new Error("ipBlock peers are not evaluated here");
    if ("outside" in source) return false;
    if (peer.namespaceSelector) {
      if (!selects(peer.namespaceSelector, source.namespaceLabels)) return false;
      return peer.podSelector ? selects(peer.podSelector, source.labels) : true;
    }
    return source.namespace === destination.namespace && selects(peer.podSelector, source.labels);
  });
}

function portAllowed(ports: PolicyPort[] | undefined, destination: PodInNamespace, port: number): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((allowed) => {
    if ((allowed.protocol ?? "TCP") !== "TCP") return false;
    if (allowed.endPort !== undefined) throw new Error("port ranges are not evaluated here");
    if (allowed.port === undefined) return true;
    return typeof allowed.port === "number" ? allowed.port === port : destination.ports.get(allowed.port) === port;
  });
}
