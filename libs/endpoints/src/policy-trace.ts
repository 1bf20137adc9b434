import { formatLabel, type Identity } from '@tendril/identity';
import { decide, lookupPolicyMap, normalizeRequestPath, type Decision, type EnforcementOptions, type PolicyEndpoint, type PolicyMapEntry, type PolicyRule, type PolicyVerdict, type TrafficDirection } from '@tendril/policy';
import type { L7PolicyIndex } from '@tendril/proxy';

/**
 * `tendril policy trace`: what the node does with one connection, hop by hop — the source pod's
 * egress policy, then the destination pod's ingress policy — each decided by the reference engine
 * (`decide`, which names the rule that decided) and checked against what the datapath's policy map
 * holds for it (`lookupPolicyMap` on the entries read back from the kernel). The two agree by
 * construction (a property test and 79 truth tables hold them to it); a disagreement is printed.
 * With an HTTP request (`--http METHOD:PATH`), a hop the datapath redirects to the node proxy is
 * also decided at L7, by the proxy's own engine (L7PolicyIndex over the NPDS resources and Secrets
 * this agent sends it), after the proxy's path normalisation.
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
  /** An HTTP request to decide at L7 where the connection is redirected to the node proxy. */
  readonly http?: TraceHttpRequest;
}

export interface TraceHttpRequest {
  readonly method: string;
  /** The request target as the client sends it (normalised as the proxy does before matching). */
  readonly path: string;
  /** Header name → value; names are matched case-insensitively. `host` sets the authority. */
  readonly headers?: Readonly<Record<string, string>>;
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
  /** The node proxy's L7 policy engine over what the agent sends it (NPDS and Secrets). */
  l7Policy(): L7PolicyIndex;
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
  /** The node proxy's decision for the traced HTTP request, when the hop redirects to it. */
  readonly l7?: TracedL7Decision;
}

export interface TracedL7Decision {
  readonly allowed: boolean;
  /** The HTTP status the client gets when denied: 403 (no rule allows it) or 400 (a target the proxy refuses). */
  readonly status?: 400 | 403;
  readonly reason: string;
  /** The path the rules were matched against (and that goes upstream), after normalisation. */
  readonly normalizedPath?: string;
  /** The HTTP rule that allowed it. */
  readonly httpRule?: string;
  readonly mismatchedHeaders?: readonly string[];
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
  /** 'denied-l7': allowed at L3/L4, but the node proxy denies the traced HTTP request. */
  readonly verdict: 'allowed' | 'denied' | 'redirected' | 'denied-l7';
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

/** What the node proxy does with the request on this endpoint's redirect, exactly as its tendril.l7policy filter would. */
function decideHttp(context: TraceContext, endpoint: TraceEndpoint, peer: Identity, direction: TrafficDirection, port: number, http: TraceHttpRequest): TracedL7Decision {
  const normalized = normalizeRequestPath(http.path);
  if (!normalized.ok) return { allowed: false, status: 400, reason: `refused as malformed: ${normalized.reason}` };
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(http.headers ?? {})) {
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]},${value}`;
  }
  const decision = context.l7Policy().decide(direction, endpoint.ip, port, peer.id, { method: http.method, path: normalized.path, authority: headers['host'] ?? '', headers });
  return {
    allowed: decision.allowed,
    ...(decision.allowed ? {} : { status: 403 as const }),
    reason: decision.reason,
    normalizedPath: normalized.path,
    ...(decision.httpRule ? { httpRule: decision.httpRule } : {}),
    ...(decision.mismatchedHeaders.length > 0 ? { mismatchedHeaders: decision.mismatchedHeaders } : {}),
  };
}

function hop(context: TraceContext, endpoint: TraceEndpoint, peer: Identity, direction: TrafficDirection, port: number, protocol: number, http: TraceHttpRequest | undefined): TracedHop {
  const decision = decide(context.rules, endpoint, { peer, direction, protocol, port }, context.options);
  return {
    direction,
    endpoint: `${endpoint.namespace}/${endpoint.name}`,
    decision,
    datapath: lookupPolicyMap(context.policyEntries(endpoint.endpointId), { identity: peer.id, direction, protocol, port }),
    ...(http && decision.verdict.kind === 'redirect' ? { l7: decideHttp(context, endpoint, peer, direction, port, http) } : {}),
  };
}

function tracePath(context: TraceContext, source: ReturnType<typeof resolve>, destination: ReturnType<typeof resolve>, port: number, protocol: number, http: TraceHttpRequest | undefined, via?: string): TracedPath {
  const identityOf = (r: ReturnType<typeof resolve>): Identity => r.endpoint?.identity ?? context.identityOfAddress(r.peer.ip);
  const hops: TracedHop[] = [];
  if (source.endpoint) hops.push(hop(context, source.endpoint, identityOf(destination), 'egress', port, protocol, http));
  if (destination.endpoint) hops.push(hop(context, destination.endpoint, identityOf(source), 'ingress', port, protocol, http));
  const verdicts = hops.map((h) => h.decision.verdict.kind);
  const l7 = hops.flatMap((h) => h.l7 ?? []);
  const verdict = verdicts.includes('deny')
    ? 'denied'
    : l7.some((d) => !d.allowed)
      ? 'denied-l7'
      : verdicts.includes('redirect')
        ? http && protocol === 6
          ? 'allowed'
          : 'redirected'
        : 'allowed';
  return { source: source.peer, destination: destination.peer, port, protocol, ...(via ? { via } : {}), hops, verdict };
}

/** The paths a connection takes (one per Service backend), each with its hops' decisions. */
export function tracePolicy(context: TraceContext, request: TraceRequest): TracedPath[] {
  if (!Number.isInteger(request.port) || request.port < 1 || request.port > 65535) throw new TraceError(`port ${request.port} is not a port number (1-65535)`);
  if (request.http && request.protocol !== 6) throw new TraceError('an HTTP request (--http) needs protocol TCP');
  if (request.http && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(request.http.method)) throw new TraceError(`HTTP method ${JSON.stringify(request.http.method)} is not a token`);
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
    return [tracePath(context, source, destination, request.port, request.protocol, request.http)];
  }
  const { namespace, name } = target.service;
  const service = context.serviceBackends(namespace, name, request.port, request.protocol);
  if (!service) throw new TraceError(`Service ${namespace}/${name} has no ClusterIP port ${request.port} on this node`);
  if (service.backends.length === 0) throw new TraceError(`Service ${namespace}/${name} port ${request.port} has no ready backend: connections to ${service.vip}:${request.port} are refused`);
  return service.backends.map((b) => tracePath(context, source, resolve(context, { ip: b.ip }), b.port, request.protocol, request.http, `Service ${namespace}/${name} ${service.vip}:${request.port}`));
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

function formatL7(d: TracedL7Decision): string[] {
  const lines = [`  node proxy (HTTP${d.normalizedPath !== undefined ? ` ${d.normalizedPath}` : ''}): ${d.allowed ? 'ALLOWED' : `DENIED (${d.status})`}: ${d.reason}`];
  if (d.httpRule) lines.push(`    HTTP rule: ${d.httpRule}`);
  if (d.mismatchedHeaders?.length) lines.push(`    mismatched headers (logged or edited): ${d.mismatchedHeaders.join(', ')}`);
  return lines;
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
      if (h.l7) out.push(...formatL7(h.l7));
    }
    const l7 = path.hops.flatMap((h) => h.l7 ?? []);
    const denial = l7.find((d) => !d.allowed);
    const final =
      path.verdict === 'denied'
        ? 'DENIED: dropped in the datapath'
        : path.verdict === 'denied-l7'
          ? `DENIED by the node proxy: ${denial?.status === 400 ? '400 Bad Request' : '403 Access denied'}`
          : path.verdict === 'redirected'
            ? 'REDIRECTED: allowed at L3/L4, the node proxy applies the L7 rules to each request'
            : l7.length > 0
              ? 'ALLOWED: through the node proxy'
              : 'ALLOWED';
    out.push(`Final verdict: ${final}`);
  }
  return `${out.join('\n')}\n`;
}
