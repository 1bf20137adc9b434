/**
 * What one PolicyItem covers: which identities (peer matching) and which protocol/port values.
 * Both the compiler and the reference verdict engine use these functions, and nothing else, to
 * read the IR.
 */
import { cidrOfIdentity, type Identity, type LabelSet, prefixContains, ReservedIdentity } from '@tendril/identity';
import type { TrafficDirection } from './policy-map';
import type { Peer, PolicyItem, PolicyRule } from './policy-ir';
import { matchesIdentity } from './selector';

/** Container port name → the ports (and protocols) it stands for. */
export type NamedPorts = Readonly<Record<string, readonly { readonly port: number; readonly protocol: number }[]>>;

/** The endpoint whose policy is computed. */
export interface PolicyEndpoint {
  /** Its identity's labels (what endpointSelectors are matched against). */
  readonly labels: LabelSet;
  /** Its pod's named container ports: named ports of ingress rules resolve against these. */
  readonly namedPorts?: NamedPorts;
}

export interface MatchingOptions {
  /**
   * Named ports of all pods, for egress rules: like Cilium, an egress named port stands for every
   * port that name has on any pod, whichever peer it is.
   */
  readonly clusterNamedPorts?: NamedPorts;
}

/** The largest protocol/port key value: protocol (8 bits) then port (16 bits). */
export const MAX_PORT_KEY = 0xffffff;

/** An inclusive range of protocol << 16 | port values. */
export interface KeyRange {
  readonly lo: number;
  readonly hi: number;
}

export function portKey(protocol: number, port: number): number {
  return ((protocol & 0xff) << 16) | (port & 0xffff);
}

/** Each rule's last answer: computing one endpoint's policy asks every rule about the same labels several times (per direction, for enforcement, for L7). */
const lastSelection = new WeakMap<PolicyRule, { readonly labels: LabelSet; readonly selected: boolean }>();

export function selectsEndpoint(rule: PolicyRule, endpoint: PolicyEndpoint): boolean {
  const last = lastSelection.get(rule);
  if (last?.labels === endpoint.labels) return last.selected;
  const selected = rule.subject !== undefined && matchesIdentity(rule.subject, endpoint.labels);
  lastSelection.set(rule, { labels: endpoint.labels, selected });
  return selected;
}

const worldIdentities: Record<number, 4 | 6 | 'both'> = {
  [ReservedIdentity.WORLD]: 'both',
  [ReservedIdentity.WORLD_IPV4]: 4,
  [ReservedIdentity.WORLD_IPV6]: 6,
};

/**
 * A CIDR peer selects CIDR identities inside its prefix and outside its exceptions, and the world
 * itself when the prefix is /0. Pod and node addresses inside the prefix have their own
 * identities and are never selected (§1.6).
 */
function cidrSelects(peer: Extract<Peer, { kind: 'cidr' }>, identity: Identity): boolean {
  const world = worldIdentities[identity.id];
  if (world !== undefined) {
    return peer.prefix.length === 0 && (world === 'both' || world === peer.prefix.family) && !peer.except.some((e) => e.length === 0);
  }
  const prefix = cidrOfIdentity(identity);
  if (!prefix) return false;
  return prefixContains(peer.prefix, prefix) && !peer.except.some((e) => prefixContains(e, prefix));
}

export function peerSelects(peer: Peer, identity: Identity): boolean {
  switch (peer.kind) {
    case 'any':
      return true;
    case 'selector':
      return matchesIdentity(peer.selector, identity.labels);
    case 'cidr':
      return cidrSelects(peer, identity);
  }
}

export function isWildcardItem(item: PolicyItem): boolean {
  return item.peers.some((p) => p.kind === 'any');
}

export function itemSelectsPeer(item: PolicyItem, identity: Identity): boolean {
  return item.peers.some((p) => peerSelects(p, identity));
}

/** The last answer of identitiesSelectedBy per item, for the identity list it was asked about. */
const selections = new WeakMap<PolicyItem, { readonly among: readonly Identity[]; readonly selected: readonly Identity[] }>();

/**
 * The identities among `identities` an item's peers select (Cilium's selector cache): computing an
 * endpoint's policy asks this for every item that selects the endpoint, and the endpoints of one
 * reconciliation share the items and the identity list, so each item matches the identities once
 * rather than once per endpoint. The answer is kept per item for the same list object; a list is
 * never changed after it is passed (a new identity means a new list).
 */
export function identitiesSelectedBy(item: PolicyItem, identities: readonly Identity[]): readonly Identity[] {
  const cached = selections.get(item);
  if (cached?.among === identities) return cached.selected;
  const selected = identities.filter((identity) => itemSelectsPeer(item, identity));
  selections.set(item, { among: identities, selected });
  return selected;
}

/** The protocol/port values an item covers, named ports resolved for this endpoint and direction. */
export function itemKeyRanges(item: PolicyItem, direction: TrafficDirection, endpoint: PolicyEndpoint, options: MatchingOptions): KeyRange[] {
  if (item.ports === 'all') return [{ lo: 0, hi: MAX_PORT_KEY }];
  const ranges: KeyRange[] = [];
  for (const match of item.ports) {
    if (match.kind === 'range') {
      ranges.push({ lo: portKey(match.protocol, match.first), hi: portKey(match.protocol, match.last) });
      continue;
    }
    const named = (direction === 'ingress' ? endpoint.namedPorts : options.clusterNamedPorts)?.[match.name] ?? [];
    for (const { port, protocol } of named) {
      if (match.protocols.includes(protocol)) ranges.push({ lo: portKey(protocol, port), hi: portKey(protocol, port) });
    }
  }
  return ranges;
}

export function rangesCover(ranges: readonly KeyRange[], key: number): boolean {
  return ranges.some((r) => r.lo <= key && key <= r.hi);
}
