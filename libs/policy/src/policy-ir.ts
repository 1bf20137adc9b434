/**
 * The policy IR: CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy all land
 * in these rules (as Cilium's agent turns them all into api.Rule). One PolicyItem is one peer set ×
 * one port set (× one L7 rule set); the compiler and the reference verdict engine both read only
 * this, so they cannot disagree about what a policy says.
 */
import type { IpPrefix } from '@tendril/identity';
import type { L7Rules, PolicyKind } from './api-types';
import type { TrafficDirection } from './policy-map';
import type { IdentitySelector } from './selector';

export type L7Parser = 'http' | 'kafka' | 'dns';

/** Where a rule came from, for `tendril policy trace` and error messages. */
export interface RuleOrigin {
  readonly kind: PolicyKind;
  readonly namespace?: string;
  readonly name: string;
  /** Index in `specs` (0 for `spec`, or for spec followed by specs: spec first). */
  readonly rule: number;
}

export type PolicySection = 'ingress' | 'ingressDeny' | 'egress' | 'egressDeny';

export interface ItemOrigin extends RuleOrigin {
  readonly section: PolicySection;
  readonly item: number;
}

export type Peer =
  /** Every identity, in and out of the cluster: identity 0 in the policy map. */
  | { readonly kind: 'any' }
  | { readonly kind: 'selector'; readonly selector: IdentitySelector }
  /** CIDR identities (and the world, for /0) inside `prefix` and outside every `except`. */
  | { readonly kind: 'cidr'; readonly prefix: IpPrefix; readonly except: readonly IpPrefix[] };

export type PortMatch =
  /** Destination ports first..last of one protocol; ICMP types as `type << 8` (with every code). */
  | { readonly kind: 'range'; readonly protocol: number; readonly first: number; readonly last: number }
  /** A container port name, resolved against the destination pod(s). */
  | { readonly kind: 'named'; readonly name: string; readonly protocols: readonly number[] };

export interface PolicyItem {
  readonly origin: ItemOrigin;
  readonly deny: boolean;
  /** Any one of them; an empty list selects no peer at all (CNP `ingress: [{}]`). */
  readonly peers: readonly Peer[];
  /** 'all' = every protocol and port, ICMP included. */
  readonly ports: 'all' | readonly PortMatch[];
  /** This port set carries L7 rules: traffic is redirected to the proxy for this parser. */
  readonly l7?: { readonly parser: L7Parser; readonly rules: L7Rules };
}

export interface PolicyRule {
  readonly origin: RuleOrigin;
  /** Endpoints the rule applies to; undefined for host (nodeSelector) rules, which select no pod. */
  readonly subject?: IdentitySelector;
  readonly ingress: readonly PolicyItem[];
  readonly egress: readonly PolicyItem[];
  /** Whether selecting an endpoint switches that direction to default-deny (§2.1). */
  readonly defaultDeny: { readonly ingress: boolean; readonly egress: boolean };
}

export function itemsFor(rule: PolicyRule, direction: TrafficDirection): readonly PolicyItem[] {
  return direction === 'ingress' ? rule.ingress : rule.egress;
}

export function formatOrigin(origin: RuleOrigin | ItemOrigin): string {
  const where = origin.namespace ? `${origin.namespace}/${origin.name}` : origin.name;
  const base = `${origin.kind} ${where}`;
  if ('section' in origin) return `${base} rule ${origin.rule} ${origin.section}[${origin.item}]`;
  return `${base} rule ${origin.rule}`;
}
