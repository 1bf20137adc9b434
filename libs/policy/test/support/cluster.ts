/**
 * A small in-memory cluster for the compiler's tests: namespaces and pods become identities through
 * the real allocator, external addresses resolve through the real ipcache (with the CIDR identities
 * the policies reference), and every verdict is computed twice — by the compiled policy map through
 * `lookupPolicyMap`, and by the reference engine `decide` — which must agree.
 */
import { IdentityAllocator, type Identity, IpCache, RESERVED_IDENTITIES, workloadLabels } from '@tendril/identity';
import {
  compileEndpointPolicy,
  decide,
  type EndpointPolicy,
  type EnforcementOptions,
  lookupPolicyMap,
  type NamedPorts,
  policyMapEntries,
  type PolicyEndpoint,
  PolicyRepository,
  type PolicyRule,
  type PolicyVerdict,
  Protocol,
  referencedCidrs,
  type TrafficDirection,
} from '../../src';

export interface NamespaceSpec {
  readonly name: string;
  readonly labels?: Record<string, string>;
}

export interface ContainerPortSpec {
  readonly name: string;
  readonly port: number;
  readonly protocol?: string;
}

export interface PodSpec {
  readonly name: string;
  readonly namespace: string;
  readonly labels?: Record<string, string>;
  readonly serviceAccount?: string;
  readonly ip?: string;
  readonly ports?: readonly ContainerPortSpec[];
}

export interface ExternalSpec {
  readonly name: string;
  readonly ip: string;
}

export interface ClusterSpec {
  readonly namespaces: readonly NamespaceSpec[];
  readonly pods: readonly PodSpec[];
  readonly externals?: readonly ExternalSpec[];
  readonly clusterName?: string;
}

/**
 * A probe end: a pod (`ns/name`), an external address by name, or a reserved identity by name
 * (`host` is the local node, `remote-node`, `kube-apiserver`, `world`, ...).
 */
export type Peer =
  | { readonly kind: 'pod'; readonly pod: PodSpec; readonly identity: Identity; readonly endpoint: PolicyEndpoint }
  | { readonly kind: 'external'; readonly name: string; readonly identity: Identity }
  | { readonly kind: 'reserved'; readonly identity: Identity };

export const PROXY_PORTS = { http: { ingress: 15001, egress: 15002 }, kafka: { ingress: 15003, egress: 15004 }, dns: { ingress: 15005, egress: 15006 } };

export const testEnforcementOptions = (extra: Partial<EnforcementOptions> = {}): EnforcementOptions => ({
  proxyPort: (parser, direction) => PROXY_PORTS[parser][direction],
  ...extra,
});

export const protocolNumber = (name: string): number => {
  const n = (Protocol as Record<string, number>)[name.toUpperCase()];
  if (n === undefined) throw new Error(`unknown protocol ${JSON.stringify(name)}`);
  return n;
};

export interface Verdicts {
  readonly map: PolicyVerdict;
  readonly reference: PolicyVerdict;
}

export class TestCluster {
  readonly allocator = new IdentityAllocator();
  readonly ipcache = new IpCache();
  readonly repository: PolicyRepository;
  private readonly peers = new Map<string, Peer>();
  private compiled = new Map<string, EndpointPolicy>();
  private readonly clusterNamedPorts: Record<string, { port: number; protocol: number }[]> = {};
  rules: PolicyRule[] = [];

  constructor(
    readonly spec: ClusterSpec,
    private readonly options: Partial<EnforcementOptions> = {},
  ) {
    this.repository = new PolicyRepository({ clusterName: spec.clusterName });
    const namespaceLabels = new Map(spec.namespaces.map((ns) => [ns.name, ns.labels ?? {}]));
    spec.pods.forEach((pod, i) => {
      if (!namespaceLabels.has(pod.namespace)) throw new Error(`pod ${pod.name}: namespace ${pod.namespace} is not declared`);
      const labels = workloadLabels({
        namespace: pod.namespace,
        podLabels: pod.labels,
        namespaceLabels: { 'kubernetes.io/metadata.name': pod.namespace, ...namespaceLabels.get(pod.namespace) },
        serviceAccount: pod.serviceAccount,
        clusterName: spec.clusterName,
      });
      const identity = this.allocator.allocate(labels);
      this.ipcache.upsert(pod.ip ?? `10.244.${i >> 8}.${(i & 0xff) + 1}`, identity.id);
      const namedPorts: Record<string, { port: number; protocol: number }[]> = {};
      for (const p of pod.ports ?? []) {
        const entry = { port: p.port, protocol: protocolNumber(p.protocol ?? 'TCP') };
        (namedPorts[p.name] ??= []).push(entry);
        (this.clusterNamedPorts[p.name] ??= []).push(entry);
      }
      this.peers.set(`${pod.namespace}/${pod.name}`, { kind: 'pod', pod, identity, endpoint: { labels, namedPorts: namedPorts as NamedPorts } });
    });
    for (const reserved of RESERVED_IDENTITIES) this.peers.set(reserved.labels[0].key, { kind: 'reserved', identity: reserved });
  }

  /** Applies policy objects; returns the rejections (name → error). */
  apply(policies: readonly unknown[]): Map<string, string> {
    const rejected = new Map<string, string>();
    for (const policy of policies) {
      const result = this.repository.upsert(policy);
      if (!result.accepted) rejected.set((policy as { metadata?: { name?: string } })?.metadata?.name ?? '?', result.error);
    }
    this.rules = this.repository.rules();
    // Every CIDR a policy names gets a local identity and an ipcache entry (what the agent does).
    for (const prefix of referencedCidrs(this.rules)) {
      const identity = this.allocator.allocateCidr(prefix);
      if (identity.isNew) this.ipcache.upsert(prefix, identity.id);
    }
    for (const ext of this.spec.externals ?? []) {
      const id = this.ipcache.lookup(ext.ip);
      this.peers.set(ext.name, { kind: 'external', name: ext.name, identity: this.allocator.get(id) as Identity });
    }
    this.compiled = new Map();
    return rejected;
  }

  peer(name: string): Peer {
    const peer = this.peers.get(name);
    if (!peer) throw new Error(`unknown probe end ${JSON.stringify(name)} (pods are written namespace/name)`);
    return peer;
  }

  /** A probe-end name for an identity: registers CIDR and other identities on first use. */
  nameOf(id: number): string {
    for (const [name, peer] of this.peers) if (peer.identity.id === id) return name;
    const identity = this.allocator.get(id);
    if (!identity) throw new Error(`unknown identity ${id}`);
    const name = `identity-${id}`;
    this.peers.set(name, { kind: 'external', name, identity });
    return name;
  }

  isPod(name: string): boolean {
    return this.peer(name).kind === 'pod';
  }

  enforcementOptions(): EnforcementOptions {
    return testEnforcementOptions({ clusterNamedPorts: this.clusterNamedPorts, ...this.options });
  }

  compiledFor(podName: string): EndpointPolicy {
    let policy = this.compiled.get(podName);
    if (!policy) {
      const peer = this.peer(podName);
      if (peer.kind !== 'pod') throw new Error(`${podName} is not a pod`);
      const result = compileEndpointPolicy(this.rules, peer.endpoint, this.allocator.identities(), this.enforcementOptions());
      if (!result.ok) throw new Error(`compiling ${podName}: ${result.error}`);
      policy = result.policy;
      this.compiled.set(podName, policy);
    }
    return policy;
  }

  /** The verdict of `endpoint`'s policy for traffic with `remote` in one direction. */
  verdict(endpointName: string, remoteName: string, direction: TrafficDirection, protocol: number, port: number): Verdicts {
    const endpoint = this.peer(endpointName);
    if (endpoint.kind !== 'pod') throw new Error(`${endpointName} is not a pod`);
    const remote = this.peer(remoteName);
    const map = lookupPolicyMap(policyMapEntries(this.compiledFor(endpointName)), { identity: remote.identity.id, direction, protocol, port });
    const reference = decide(this.rules, endpoint.endpoint, { peer: remote.identity, direction, protocol, port }, this.enforcementOptions()).verdict;
    return { map, reference };
  }

  /**
   * Whether a connection from → to on protocol/port gets through: the source pod's egress and
   * the destination pod's ingress must both let it pass (a redirect passes L3/L4).
   */
  reachable(from: string, to: string, protocol: number, port: number): { map: boolean; reference: boolean } {
    const passes = (v: PolicyVerdict) => v.kind !== 'deny';
    let map = true;
    let reference = true;
    if (this.peer(from).kind === 'pod') {
      const v = this.verdict(from, to, 'egress', protocol, port);
      map &&= passes(v.map);
      reference &&= passes(v.reference);
    }
    if (this.peer(to).kind === 'pod') {
      const v = this.verdict(to, from, 'ingress', protocol, port);
      map &&= passes(v.map);
      reference &&= passes(v.reference);
    }
    return { map, reference };
  }
}
