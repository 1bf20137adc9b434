import { formatLabel, type Identity } from '@tendril/identity';
import { decide, lookupPolicyMap, type Decision, type EnforcementOptions, type PolicyEndpoint, type PolicyMapEntry, type PolicyRule, type PolicyVerdict, type TrafficDirection } from '@tendril/policy';

/**
 * `tendril policy trace`: what the node does with one connection, hop by hop — the source pod's
 * egress policy, then the destination pod's ingress policy — each decided by the reference engine
 * (`decide`, which names the rule that decided) and checked against what the datapath's policy map
 * holds for it (`lookupPolicyMap` on the entries read back from the kernel). The two agree by
 * construction (a property test and 79 truth tables hold them to it); a disagreement is printed.
 */

/** A peer as the user names it: a pod on this node, or an address. */
export type TracePeer = { readonly pod: { readonly namespace: string; readonly name: string } } | { readonly ip: string };

export interface TraceRequest {
  readonly source: TracePeer;
  /** A pod or an address, or a Service whose ClusterIP port is `port` (traced to each backend). */
  readonly destination: TracePeer | { readonly service: { readonly namespace: string; readonly name: string } };
  readonly port: number;
  /** IP protocol number (6 TCP, 17 UDP, 132 SCTP). */
  readonly protocol: number;
}

/** One local endpoint as the trace needs it. */
export interface TraceEndpoint extends PolicyEndpoint {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly endpointId: number;
  readonly identity: Identity;
}

/** What the endpoint manager knows that a trace reads. */
export interface TraceContext {
  readonly rules: readonly PolicyRule[];
  readonly options: EnforcementOptions;
  readonly endpoints: readonly TraceEndpoint[];
  /** The identity the datapath gives an address that is not a local pod (ipcache longest prefix, else world). */
  identityOfAddress(ip: string): Identity;
  /** The backends of a Service's ClusterIP port: pod IP and target port. */
  serviceBackends(namespace: string, name: string, port: number, protocol: number): { readonly vip: string; readonly backends: readonly { readonly ip: string; readonly port: number }[] } | undefined;
  /** The entries the datapath holds for an endpoint. */
  policyEntries(endpointId: number): readonly PolicyMapEntry[];
}

export interface TracedPeer {
  /** "namespace/name" for a local pod. */
  readonly pod?: string;
  readonly ip: string;
  readonly identity: number;
  readonly labels: readonly string[];
}

export interface TracedHop {
  readonly direction: TrafficDirection;
  /** The local endpoint whose policy this hop is. */
  readonly endpoint: string;
  readonly decision: Decision;
  /** What the datapath's policy map says for the same packet. */
  readonly datapath: PolicyVerdict;
}

export interface TracedPath {
  readonly source: TracedPeer;
  readonly destination: TracedPeer;
  readonly port: number;
  readonly protocol: number;
  /** Set when the destination was a Service: its ClusterIP and port. */
  readonly via?: string;
  /** The source's egress hop (when the source is a local pod), then the destination's ingress hop (when it is one). */
  readonly hops: readonly TracedHop[];
  readonly verdict: 'allowed' | 'denied' | 'redirected';
}

export class TraceError extends Error {}

function describe(endpoint: TraceEndpoint): TracedPeer {
  return { pod: `${endpoint.namespace}/${endpoint.name}`, ip: endpoint.ip, identity: endpoint.identity.id, labels: endpoint.identity.labels.map(formatLabel) };
}

function resolve(context: TraceContext, peer: TracePeer): { peer: TracedPeer; endpoint?: TraceEndpoint } {
  if ('pod' in peer) {
    const endpoint = context.endpoints.find((e) => e.namespace === peer.pod.namespace && e.name === peer.pod.name);
    if (!endpoint) throw new TraceError(`no endpoint for pod "${peer.pod.name}" in namespace "${peer.pod.namespace}" on this node`);
    return { peer: describe(endpoint), endpoint };
  }
  const endpoint = context.endpoints.find((e) => e.ip === peer.ip);
  if (endpoint) return { peer: describe(endpoint), endpoint };
  const identity = context.identityOfAddress(peer.ip);
  return { peer: { ip: peer.ip, identity: identity.id, labels: identity.labels.map(formatLabel) } };
}

function hop(context: TraceContext, endpoint: TraceEndpoint, peer: Identity, direction: TrafficDirection, port: number, protocol: number): TracedHop {
  return {
    direction,
    endpoint: `${endpoint.namespace}/${endpoint.name}`,
    decision: decide(context.rules, endpoint, { peer, direction, protocol, port }, context.options),
    datapath: lookupPolicyMap(context.policyEntries(endpoint.endpointId), { identity: peer.id, direction, protocol, port }),
  };
}

function tracePath(context: TraceContext, source: ReturnType<typeof resolve>, destination: ReturnType<typeof resolve>, port: number, protocol: number, via?: string): TracedPath {
  const identityOf = (r: ReturnType<typeof resolve>): Identity => r.endpoint?.identity ?? context.identityOfAddress(r.peer.ip);
  const hops: TracedHop[] = [];
  if (source.endpoint) hops.push(hop(context, source.endpoint, identityOf(destination), 'egress', port, protocol));
  if (destination.endpoint) hops.push(hop(context, destination.endpoint, identityOf(source), 'ingress', port, protocol));
  const verdicts = hops.map((h) => h.decision.verdict.kind);
  const verdict = verdicts.includes('deny') ? 'denied' : verdicts.includes('redirect') ? 'redirected' : 'allowed';
  return { source: source.peer, destination: destination.peer, port, protocol, ...(via ? { via } : {}), hops, verdict };
}

/** The paths a connection takes (one per Service backend), each with its hops' decisions. */
export function tracePolicy(context: TraceContext, request: TraceRequest): TracedPath[] {
  if (!Number.isInteger(request.port) || request.port < 1 || request.port > 65535) throw new TraceError(`port ${request.port} is not a port number (1-65535)`);
  const source = resolve(context, request.source);
  let target = request.destination;
  // `--dst NAME` names a Service when no pod of that name runs here (as `tendril policy trace --dst web`).
  if ('pod' in target) {
    const { namespace, name } = target.pod;
    const isLocalPod = context.endpoints.some((e) => e.namespace === namespace && e.name === name);
    if (!isLocalPod && context.serviceBackends(namespace, name, request.port, request.protocol)) target = { service: { namespace, name } };
  }
  if (!('service' in target)) {
    const destination = resolve(context, target);
    if (!source.endpoint && !destination.endpoint) throw new TraceError('neither the source nor the destination is a pod on this node: no policy of this node applies');
    return [tracePath(context, source, destination, request.port, request.protocol)];
  }
  const { namespace, name } = target.service;
  const service = context.serviceBackends(namespace, name, request.port, request.protocol);
  if (!service) throw new TraceError(`Service ${namespace}/${name} has no ClusterIP port ${request.port} on this node`);
  if (service.backends.length === 0) throw new TraceError(`Service ${namespace}/${name} port ${request.port} has no ready backend: connections to ${service.vip}:${request.port} are refused`);
  return service.backends.map((b) => tracePath(context, source, resolve(context, { ip: b.ip }), b.port, request.protocol, `Service ${namespace}/${name} ${service.vip}:${request.port}`));
}

const PROTOCOL_NAMES: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

function formatVerdict(verdict: PolicyVerdict): string {
  switch (verdict.kind) {
    case 'allow':
      return 'allow';
    case 'redirect':
      return `redirect to proxy port ${verdict.proxyPort}`;
    case 'deny':
      return verdict.reason === 'denied-by-rule' ? 'deny (deny entry)' : 'deny (no entry)';
  }
}

function formatPeer(peer: TracedPeer): string {
  return `${peer.pod ?? peer.ip}${peer.pod ? ` (${peer.ip})` : ''}, identity ${peer.identity}${peer.labels.length ? ` [${peer.labels.join(', ')}]` : ''}`;
}

/** The trace as `tendril policy trace` prints it. */
export function formatPolicyTrace(paths: readonly TracedPath[]): string {
  const out: string[] = [];
  for (const path of paths) {
    if (out.length > 0) out.push('');
    out.push(`From: ${formatPeer(path.source)}`);
    out.push(`To:   ${formatPeer(path.destination)}, port ${path.port}/${PROTOCOL_NAMES[path.protocol] ?? path.protocol}${path.via ? ` (via ${path.via})` : ''}`);
    for (const h of path.hops) {
      const verdict = h.decision.verdict.kind === 'redirect' ? 'REDIRECTED' : h.decision.verdict.kind === 'deny' ? 'DENIED' : 'ALLOWED';
      out.push(`${h.direction === 'egress' ? 'Egress ' : 'Ingress'} of ${h.endpoint}: ${verdict}: ${h.decision.reason}`);
      const agrees = formatVerdict(h.datapath) === formatVerdict(h.decision.verdict) || (h.datapath.kind === 'deny' && h.decision.verdict.kind === 'deny');
      out.push(`  datapath policy map: ${formatVerdict(h.datapath)}${agrees ? '' : '  (DISAGREES with the rules: the map is stale or being updated)'}`);
    }
    const final =
      path.verdict === 'denied'
        ? 'DENIED: dropped in the datapath'
        : path.verdict === 'redirected'
          ? 'REDIRECTED: allowed at L3/L4, the node proxy applies the L7 rules to each request'
          : 'ALLOWED';
    out.push(`Final verdict: ${final}`);
  }
  return `${out.join('\n')}\n`;
}
