import { RE2JS } from 're2js';
import type { PortRuleDNS } from '../api-types';

/**
 * DNS names and patterns as Cilium's DNS proxy and toFQDNs match them (policy-semantics.md §5.1):
 * names are lower-cased and made fully qualified; `matchName` is equality; `matchPattern` is an
 * anchored regex over DNS characters where `*` alone matches any name, a leading `**.` matches one
 * or more whole labels, and any other `*` (runs collapsed) matches within one label.
 */

const DNS_CHAR = '[-a-zA-Z0-9_]';

/** Lower-case, with the trailing dot of a fully qualified name. */
export function normalizeDnsName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

function escapeLiteral(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** The anchored RE2 source a matchPattern stands for. */
export function dnsPatternRegex(pattern: string): string {
  const normalized = normalizeDnsName(pattern);
  if (/^\*+\.$/.test(normalized)) return `(${DNS_CHAR}+[.])+|[.]`;
  let prefix = '';
  let rest = normalized;
  const subdomains = /^\*{2,}\./.exec(rest);
  if (subdomains) {
    prefix = `(${DNS_CHAR}+[.])+`;
    rest = rest.slice(subdomains[0].length);
  }
  const body = rest
    .split(/\*+/)
    .map(escapeLiteral)
    .join(`${DNS_CHAR}*`);
  return `${prefix}${body}`;
}

/** One DNS rule: a name, or a pattern. */
export class DnsNameMatcher {
  private readonly name: string | undefined;
  private readonly pattern: RE2JS | undefined;

  constructor(rule: PortRuleDNS) {
    if (rule.matchName) this.name = normalizeDnsName(rule.matchName);
    else if (rule.matchPattern) this.pattern = RE2JS.compile(dnsPatternRegex(rule.matchPattern));
  }

  matches(queryName: string): boolean {
    const name = normalizeDnsName(queryName);
    if (this.name !== undefined) return name === this.name;
    return this.pattern?.matches(name) ?? false;
  }
}

/** A port's DNS rules: a query is allowed when any rule matches its name (qtype and class are not looked at). */
export class DnsRules {
  private readonly matchers: readonly DnsNameMatcher[];

  constructor(rules: readonly PortRuleDNS[]) {
    this.matchers = rules.map((r) => new DnsNameMatcher(r));
  }

  allows(queryName: string): boolean {
    return this.matchers.some((m) => m.matches(queryName));
  }
}
