/**
 * The DNS rules of an endpoint's egress, as the DNS proxy enforces them (policy-semantics §5.2):
 * for each port whose egress items carry `rules.dns`, every allow item covering that port and
 * protocol, with the remote identities it selects. A query passes when an item for the DNS
 * server's identity has a DNS rule matching the name, or has no L7 rules at all (§2.3: an L3/L4
 * allow of the same peer leaves L7 unrestricted); otherwise it is refused.
 */
import { LabelSource, type Identity } from '@tendril/identity';
import type { PortRuleDNS } from './api-types';
import { DnsNameMatcher, DnsRules } from './l7/dns-names';
import { isWildcardItem, itemKeyRanges, itemSelectsPeer, portKey, rangesCover, selectsEndpoint, type MatchingOptions, type PolicyEndpoint } from './matching';
import { Protocol } from './policy-map';
import { formatOrigin, itemsFor, type PolicyRule } from './policy-ir';

export type DnsTransport = 'UDP' | 'TCP';

export interface DnsPortRule {
  /** Remote identities (DNS servers) it applies to; 'any' for a rule whose peer is everyone. */
  readonly remotes: readonly number[] | 'any';
  /** Undefined: an L3/L4 allow, which leaves DNS unrestricted for these remotes. */
  readonly dns?: readonly PortRuleDNS[];
  readonly origin: string;
}

export interface DnsPortPolicy {
  readonly transport: DnsTransport;
  readonly port: number;
  readonly rules: readonly DnsPortRule[];
}

const TRANSPORTS: readonly [DnsTransport, number][] = [
  ['UDP', Protocol.UDP],
  ['TCP', Protocol.TCP],
];

/** The endpoint's DNS-proxied egress ports (UDP and TCP separately), sorted by transport and port. */
export function dnsPortPolicies(rules: readonly PolicyRule[], endpoint: PolicyEndpoint, identities: readonly Identity[], options: MatchingOptions = {}): DnsPortPolicy[] {
  const ports = new Map<string, { transport: DnsTransport; protocol: number; port: number }>();
  for (const rule of rules) {
    if (!selectsEndpoint(rule, endpoint)) continue;
    for (const item of itemsFor(rule, 'egress')) {
      if (item.deny || item.l7?.parser !== 'dns') continue;
      const ranges = itemKeyRanges(item, 'egress', endpoint, options);
      // DNS rules refuse port ranges (validation), so each range is one port or all of them.
      for (const [transport, protocol] of TRANSPORTS) {
        for (const range of ranges) {
          const lo = Math.max(range.lo, portKey(protocol, 0));
          const hi = Math.min(range.hi, portKey(protocol, 0xffff));
          if (lo > hi) continue;
          const port = lo === hi ? lo & 0xffff : 53;
          ports.set(`${transport}/${port}`, { transport, protocol, port });
        }
      }
    }
  }
  const policies: DnsPortPolicy[] = [];
  for (const { transport, protocol, port } of ports.values()) {
    const key = portKey(protocol, port);
    const portRules: DnsPortRule[] = [];
    for (const rule of rules) {
      if (!selectsEndpoint(rule, endpoint)) continue;
      for (const item of itemsFor(rule, 'egress')) {
        if (item.deny || !rangesCover(itemKeyRanges(item, 'egress', endpoint, options), key)) continue;
        // An HTTP or Kafka item on a DNS port is a merge error the compiler already refused.
        if (item.l7 && item.l7.parser !== 'dns') continue;
        const remotes = isWildcardItem(item) ? 'any' : identities.filter((i) => itemSelectsPeer(item, i)).map((i) => i.id);
        if (remotes !== 'any' && remotes.length === 0) continue;
        portRules.push({ remotes, ...(item.l7 ? { dns: item.l7.rules.dns ?? [] } : {}), origin: formatOrigin(item.origin) });
      }
    }
    policies.push({ transport, port, rules: portRules });
  }
  return policies.sort((a, b) => a.transport.localeCompare(b.transport) || a.port - b.port);
}

/**
 * The compiled matcher of each rule list: a port's rules are compiled once, on the first query
 * that needs them, not per query (compiling is most of a query's cost). Keyed weakly, so the
 * lists of a replaced policy go with it.
 */
const compiledDnsRules = new WeakMap<readonly PortRuleDNS[], DnsRules>();

function dnsRulesOf(rules: readonly PortRuleDNS[]): DnsRules {
  let compiled = compiledDnsRules.get(rules);
  if (!compiled) compiledDnsRules.set(rules, (compiled = new DnsRules(rules)));
  return compiled;
}

export type DnsVerdict = { readonly allowed: true; readonly origin: string } | { readonly allowed: false; readonly reason: string };

/**
 * Whether a query for `name` to a server of identity `remote` on transport/port passes the
 * endpoint's DNS policies. A port without a DNS policy is refused: the datapath only redirects
 * ports that have one, so a query arriving for another is a stale redirect and fails closed.
 */
export function dnsVerdict(policies: readonly DnsPortPolicy[], transport: DnsTransport, port: number, remote: number, name: string): DnsVerdict {
  const policy = policies.find((p) => p.transport === transport && p.port === port);
  if (!policy) return { allowed: false, reason: `no DNS policy for ${transport} port ${port}` };
  const applying = policy.rules.filter((r) => r.remotes === 'any' || r.remotes.includes(remote));
  for (const rule of applying) {
    if (!rule.dns || dnsRulesOf(rule.dns).allows(name)) return { allowed: true, origin: rule.origin };
  }
  return { allowed: false, reason: applying.length === 0 ? `no rule allows DNS to identity ${remote}` : `no DNS rule matches ${JSON.stringify(name)}` };
}

/** One toFQDNs selector of the rules in force: its ipcache label key (`matchName:…` / `matchPattern:…`) and its name matcher. */
export interface FqdnSelector {
  readonly key: string;
  matches(name: string): boolean;
}

/**
 * Every distinct toFQDNs selector of `rules` (§5.3). The translator turns each into an identity
 * selector with the single requirement `fqdn:<key>` exists; addresses learned for a name it
 * matches get an identity with that label.
 */
export function fqdnSelectors(rules: readonly PolicyRule[]): FqdnSelector[] {
  const byKey = new Map<string, FqdnSelector>();
  for (const rule of rules) {
    for (const item of itemsFor(rule, 'egress')) {
      for (const peer of item.peers) {
        if (peer.kind !== 'selector' || peer.selector.requirements.length !== 1) continue;
        const [requirement] = peer.selector.requirements;
        if (requirement?.source !== LabelSource.FQDN || byKey.has(requirement.key)) continue;
        const colon = requirement.key.indexOf(':');
        const field = requirement.key.slice(0, colon);
        const value = requirement.key.slice(colon + 1);
        const matcher = new DnsNameMatcher(field === 'matchName' ? { matchName: value } : { matchPattern: value });
        byKey.set(requirement.key, { key: requirement.key, matches: (name) => matcher.matches(name) });
      }
    }
  }
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
}
