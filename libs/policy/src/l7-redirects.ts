/**
 * Which of an endpoint's TCP ports the datapath redirects to the node proxy, per direction and L7
 * parser, and whether the L7 rules on each such port allow every request. This is what the proxy's
 * redirect listeners are configured from until per-request L7 enforcement lands (policy-semantics
 * §3): a port on which every rule set allows everything (`http: [{}]`, Cilium's "L7 allow-all")
 * is forwarded to its original destination; a port with any narrower rule is denied for all its
 * requests — never forwarded unchecked, so no policy is ever widened.
 */
import type { PortRuleHTTP } from './api-types';
import { itemKeyRanges, selectsEndpoint, type MatchingOptions, type PolicyEndpoint } from './matching';
import { Protocol, type TrafficDirection } from './policy-map';
import { formatOrigin, itemsFor, type L7Parser, type PolicyItem, type PolicyRule } from './policy-ir';

export interface L7PortRedirect {
  readonly direction: TrafficDirection;
  readonly parser: L7Parser;
  /** A TCP port of the destination. */
  readonly port: number;
  /** Every L7 rule set covering this port (from any peer) allows every request. */
  readonly allowsAll: boolean;
  /** The rules that put L7 on this port, as `tendril policy` names them. */
  readonly origins: readonly string[];
}

/** An HTTP rule with no constraint matches every request. */
function httpRuleMatchesAll(rule: PortRuleHTTP): boolean {
  return !rule.path && !rule.method && !rule.host && (rule.headers ?? []).length === 0 && (rule.headerMatches ?? []).length === 0;
}

/** An L7 rule set that allows every request of its parser (only HTTP has an allow-all form the proxy serves). */
function allowsEveryRequest(item: PolicyItem): boolean {
  if (item.l7?.parser !== 'http') return false;
  return (item.l7.rules.http ?? []).some(httpRuleMatchesAll);
}

/** Port ranges longer than this are not expanded into per-port redirects (they stay denied at L7). */
const MAX_EXPANDED_PORTS = 1024;

/**
 * The endpoint's L7 redirect ports, sorted by direction, port. Deny items carry no L7; a port
 * named by ranges wider than MAX_EXPANDED_PORTS is left out (its traffic finds no proxy chain and
 * is denied).
 */
export function l7PortRedirects(rules: readonly PolicyRule[], endpoint: PolicyEndpoint, options: MatchingOptions = {}): L7PortRedirect[] {
  const byKey = new Map<string, { direction: TrafficDirection; parser: L7Parser; port: number; allowsAll: boolean; origins: Set<string> }>();
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
            if (!entry) byKey.set(id, (entry = { direction, parser: item.l7.parser, port, allowsAll: true, origins: new Set() }));
            entry.allowsAll &&= item.l7.parser === entry.parser && allowsEveryRequest(item);
            entry.origins.add(formatOrigin(item.origin));
          }
        }
      }
    }
  }
  return [...byKey.values()]
    .map((e) => ({ direction: e.direction, parser: e.parser, port: e.port, allowsAll: e.allowsAll, origins: [...e.origins].sort() }))
    .sort((a, b) => (a.direction === b.direction ? a.port - b.port : a.direction === 'ingress' ? -1 : 1));
}
