/**
 * Which of an endpoint's TCP ports the datapath redirects to the node proxy, per direction and L7
 * parser (l7PortRedirects), and the per-request rules of each HTTP one (l7PortPolicies), which the
 * agent sends the proxy as NPDS (policy-semantics §2.3, §3, §7).
 */
import type { PortRuleHTTP, PortRuleKafka } from './api-types';
import type { Identity } from '@tendril/identity';
import { identitiesSelectedBy, isWildcardItem, itemKeyRanges, portKey, rangesCover, selectsEndpoint, type MatchingOptions, type PolicyEndpoint } from './matching';
import { Protocol, type TrafficDirection } from './policy-map';
import { formatOrigin, itemsFor, type L7Parser, type PolicyRule } from './policy-ir';

export interface L7PortRedirect {
  readonly direction: TrafficDirection;
  readonly parser: L7Parser;
  /** A TCP port of the destination. */
  readonly port: number;
  /** The rules that put L7 on this port, as `tendril policy` names them. */
  readonly origins: readonly string[];
}

/** Port ranges longer than this are not expanded into per-port redirects (they stay denied at L7). */
const MAX_EXPANDED_PORTS = 1024;

/**
 * The endpoint's L7 redirect ports, sorted by direction, port. Deny items carry no L7; a port
 * named by ranges wider than MAX_EXPANDED_PORTS is left out (the proxy has no policy for it and
 * denies its requests).
 */
export function l7PortRedirects(rules: readonly PolicyRule[], endpoint: PolicyEndpoint, options: MatchingOptions = {}): L7PortRedirect[] {
  const byKey = new Map<string, { direction: TrafficDirection; parser: L7Parser; port: number; origins: Set<string> }>();
  for (const rule of rules) {
    if (!selectsEndpoint(rule, endpoint)) continue;
    for (const direction of ['ingress', 'egress'] as const) {
      for (const item of itemsFor(rule, direction)) {
        if (item.deny || !item.l7) continue;
        for (const range of itemKeyRanges(item, direction, endpoint, options)) {
          const tcpLo = Math.max(range.lo, Protocol.TCP << 16);
          const tcpHi = Math.min(range.hi, (Protocol.TCP << 16) | 0xffff);
          if (tcpLo > tcpHi || tcpHi - tcpLo >= MAX_EXPANDED_PORTS) continue;
          for (let key = tcpLo; key <= tcpHi; key++) {
            const port = key & 0xffff;
            if (port === 0) continue;
            const id = `${direction}/${port}`;
            let entry = byKey.get(id);
            if (!entry) byKey.set(id, (entry = { direction, parser: item.l7.parser, port, origins: new Set() }));
            entry.origins.add(formatOrigin(item.origin));
          }
        }
      }
    }
  }
  return [...byKey.values()]
    .map((e) => ({ direction: e.direction, parser: e.parser, port: e.port, origins: [...e.origins].sort() }))
    .sort((a, b) => (a.direction === b.direction ? a.port - b.port : a.direction === 'ingress' ? -1 : 1));
}

/** One rule of an L7 port as the proxy enforces it (NPDS's PortNetworkPolicyRule). */
export interface L7PortRule {
  /** Remote identities it applies to; 'any' for a rule whose peer is everyone. */
  readonly remotes: readonly number[] | 'any';
  /** Neither set: an L3/L4 allow for these remotes, which leaves L7 unrestricted for them (§2.3). At most one is set: the port's parser's. */
  readonly http?: readonly PortRuleHTTP[];
  readonly kafka?: readonly PortRuleKafka[];
  readonly origin: string;
}

export interface L7PortPolicy {
  readonly direction: TrafficDirection;
  readonly port: number;
  /** The port's L7 parser: which of the rules' fields the proxy reads. */
  readonly parser: 'http' | 'kafka';
  readonly rules: readonly L7PortRule[];
}

/**
 * headerMatches secrets named without a namespace live in the policy's own (Cilium's
 * GetSecretString: `secret.namespace`, else the policy's); a clusterwide policy has none to give.
 */
function withSecretNamespaces(rules: readonly PortRuleHTTP[], namespace: string | undefined): readonly PortRuleHTTP[] {
  if (!namespace || !rules.some((r) => r.headerMatches?.some((m) => m.secret && !m.secret.namespace))) return rules;
  return rules.map((r) =>
    r.headerMatches?.some((m) => m.secret && !m.secret.namespace)
      ? { ...r, headerMatches: r.headerMatches.map((m) => (m.secret && !m.secret.namespace ? { ...m, secret: { ...m.secret, namespace } } : m)) }
      : r,
  );
}

/**
 * The per-request policy of each of the endpoint's HTTP and Kafka redirect ports: every allow item
 * that covers the port, with the identities it selects among `identities` (policy-semantics §2.3:
 * an item without L7 makes L7 unrestricted for its peers, and L7 rules OR across items). Only
 * ports l7PortRedirects lists as HTTP or Kafka are included; the proxy denies a port it has no
 * policy for. (DNS ports are the DNS proxy's, which reads the rules itself.)
 */
export function l7PortPolicies(rules: readonly PolicyRule[], endpoint: PolicyEndpoint, identities: readonly Identity[], options: MatchingOptions = {}): L7PortPolicy[] {
  const ports = l7PortRedirects(rules, endpoint, options).filter((r): r is L7PortRedirect & { parser: 'http' | 'kafka' } => r.parser === 'http' || r.parser === 'kafka');
  return ports.map((redirect) => {
    const parser = redirect.parser;
    const key = portKey(Protocol.TCP, redirect.port);
    const portRules: L7PortRule[] = [];
    for (const rule of rules) {
      if (!selectsEndpoint(rule, endpoint)) continue;
      for (const item of itemsFor(rule, redirect.direction)) {
        if (item.deny || !rangesCover(itemKeyRanges(item, redirect.direction, endpoint, options), key)) continue;
        const remotes = isWildcardItem(item) ? 'any' : identitiesSelectedBy(item, identities).map((i) => i.id);
        if (remotes !== 'any' && remotes.length === 0) continue;
        // Items of another parser on this port are a merge error the compiler already refused.
        if (item.l7 && item.l7.parser !== parser) continue;
        const l7 = item.l7 ? (parser === 'http' ? { http: withSecretNamespaces(item.l7.rules.http ?? [], item.origin.namespace) } : { kafka: item.l7.rules.kafka ?? [] }) : {};
        portRules.push({ remotes, ...l7, origin: formatOrigin(item.origin) });
      }
    }
    return { direction: redirect.direction, port: redirect.port, parser, rules: portRules };
  });
}
