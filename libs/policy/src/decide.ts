/**
 * The reference verdict engine: the policy semantics applied directly, one packet at a time
 * (policy-semantics §6.2, "equivalent decision procedure"): deny if any matching deny; else drop if
 * the direction is enforced and no allow matches; else redirect to the proxy if a matching allow
 * carries L7; else allow. `tendril policy trace` explains verdicts with it, and the compiler's
 * tests check that the policy map gives the same answer for every probe.
 */
import { type Identity, ReservedIdentity } from '@tendril/identity';
import type { PolicyVerdict, TrafficDirection } from './policy-map';
import { formatOrigin, type ItemOrigin, type L7Parser, type PolicyRule, itemsFor } from './policy-ir';
import { itemKeyRanges, itemSelectsPeer, type MatchingOptions, type PolicyEndpoint, portKey, rangesCover, selectsEndpoint } from './matching';

/** Cilium's --policy-enforcement: default (per direction, once selected), always, never. */
export type EnforcementMode = 'default' | 'always' | 'never';

/** The node proxy's listener port for a parser and direction (allocated by the agent). */
export type ProxyPortAllocator = (parser: L7Parser, direction: TrafficDirection) => number;

export interface EnforcementOptions extends MatchingOptions {
  readonly proxyPort: ProxyPortAllocator;
  readonly enforcementMode?: EnforcementMode;
  /** Traffic from the local host to a local pod is always allowed on ingress (default true, §2.1). */
  readonly allowLocalhost?: boolean;
}

/** Whether a direction of this endpoint is default-deny (§2.1). */
export function isEnforced(rules: readonly PolicyRule[], endpoint: PolicyEndpoint, direction: TrafficDirection, mode: EnforcementMode = 'default'): boolean {
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  return rules.some((r) => selectsEndpoint(r, endpoint) && r.defaultDeny[direction]);
}

export interface Decision {
  readonly verdict: PolicyVerdict;
  readonly enforced: boolean;
  /** The item that decided (a deny, or the allow that let the packet through), if a rule did. */
  readonly decidedBy?: ItemOrigin;
  /** One line saying why, for `tendril policy trace`. */
  readonly reason: string;
}

export interface Probe {
  readonly peer: Identity;
  readonly direction: TrafficDirection;
  readonly protocol: number;
  /** Destination port; for ICMP the type << 8 (| code). */
  readonly port: number;
}

export function decide(rules: readonly PolicyRule[], endpoint: PolicyEndpoint, probe: Probe, options: EnforcementOptions): Decision {
  const { peer, direction } = probe;
  const mode = options.enforcementMode ?? 'default';
  if (mode === 'never') return { verdict: { kind: 'allow' }, enforced: false, reason: 'policy enforcement is disabled' };
  const enforced = isEnforced(rules, endpoint, direction, mode);
  const key = portKey(probe.protocol, probe.port);
  const matching = rules
    .filter((r) => selectsEndpoint(r, endpoint))
    .flatMap((r) => itemsFor(r, direction))
    .filter((item) => itemSelectsPeer(item, peer) && rangesCover(itemKeyRanges(item, direction, endpoint, options), key));

  const deny = matching.find((item) => item.deny);
  if (deny) return { verdict: { kind: 'deny', reason: 'denied-by-rule' }, enforced, decidedBy: deny.origin, reason: `denied by ${formatOrigin(deny.origin)}` };

  const allows = matching.filter((item) => !item.deny);
  const l7 = allows.find((item) => item.l7);
  if (l7?.l7) {
    return {
      verdict: { kind: 'redirect', proxyPort: options.proxyPort(l7.l7.parser, direction) },
      enforced,
      decidedBy: l7.origin,
      reason: `redirected to the ${l7.l7.parser} proxy by ${formatOrigin(l7.origin)}`,
    };
  }
  if (allows.length > 0) return { verdict: { kind: 'allow' }, enforced, decidedBy: allows[0].origin, reason: `allowed by ${formatOrigin(allows[0].origin)}` };
  if (!enforced) return { verdict: { kind: 'allow' }, enforced, reason: `${direction} is not enforced: no rule with an ${direction} section selects the endpoint` };
  if (direction === 'ingress' && peer.id === ReservedIdentity.HOST && options.allowLocalhost !== false) {
    return { verdict: { kind: 'allow' }, enforced, reason: 'traffic from the local host is always allowed (allow-localhost)' };
  }
  return { verdict: { kind: 'deny', reason: 'no-match' }, enforced, reason: `no rule allows this ${direction} traffic (default deny)` };
}
