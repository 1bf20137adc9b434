/**
 * The per-endpoint policy map: the contract between the policy compiler (this library, which
 * produces entries) and the datapath (libs/datapath and bpf/, which store them in a BPF LPM trie
 * and look them up per packet). Modelled on Cilium's `cilium_policy_v2` (policy-semantics.md §6.2).
 *
 * A key is (remote identity, direction, protocol, port) where the identity and direction are
 * always exact and protocol + destination port form a 24-bit field matched by prefix:
 * `prefixLength` 0 = any protocol and port, 8 = this protocol and any port, 8 + n = this protocol
 * and the ports sharing the first n bits of `port` (port ranges become several such prefixes).
 * ICMP rules carry the ICMP type in the port field as `type << 8`.
 */

export type TrafficDirection = 'ingress' | 'egress';

/** IANA protocol numbers the policy language names; 0 is "any" in a key. */
export const Protocol = { ANY: 0, ICMP: 1, TCP: 6, UDP: 17, SCTP: 132, ICMPV6: 58 } as const;

/** Identity 0 in a key means "any remote identity" (an L4-only entry). */
export const ANY_IDENTITY = 0;

export const MAX_PREFIX_LENGTH = 24;

export interface PolicyMapKey {
  /** Remote security identity, or ANY_IDENTITY. */
  readonly identity: number;
  readonly direction: TrafficDirection;
  /** 0 when prefixLength is 0. */
  readonly protocol: number;
  /** Destination port (or ICMP type << 8); bits past the prefix are zero. */
  readonly port: number;
  /** 0..24 bits of protocol (8) + port (16) that are matched. */
  readonly prefixLength: number;
}

export interface PolicyMapValue {
  /** A deny entry drops the packet; it has no proxy port. */
  readonly deny: boolean;
  /** Non-zero: allowed, and redirected to the node proxy's listener on this port (L7 rules). */
  readonly proxyPort: number;
}

export interface PolicyMapEntry extends PolicyMapKey, PolicyMapValue {}

/** What the datapath decides for one packet. */
export type PolicyVerdict =
  | { readonly kind: 'allow' }
  | { readonly kind: 'redirect'; readonly proxyPort: number }
  | { readonly kind: 'deny'; readonly reason: 'denied-by-rule' | 'no-match' };

export interface PacketKey {
  readonly identity: number;
  readonly direction: TrafficDirection;
  readonly protocol: number;
  readonly port: number;
}

/** Whether an entry's key covers the packet (identity compared by the caller). */
export function entryCovers(entry: PolicyMapKey, packet: PacketKey): boolean {
  if (entry.direction !== packet.direction) return false;
  if (entry.prefixLength === 0) return true;
  if (entry.protocol !== packet.protocol) return false;
  const portBits = entry.prefixLength - 8;
  if (portBits <= 0) return true;
  const mask = (0xffff << (16 - portBits)) & 0xffff;
  return (entry.port & mask) === (packet.port & mask);
}

function longestMatch(entries: readonly PolicyMapEntry[], identity: number, packet: PacketKey): PolicyMapEntry | undefined {
  let best: PolicyMapEntry | undefined;
  for (const entry of entries) {
    if (entry.identity !== identity || !entryCovers(entry, packet)) continue;
    if (!best || entry.prefixLength > best.prefixLength) best = entry;
  }
  return best;
}

/**
 * The datapath's lookup, written once in TypeScript: bpf/ implements exactly this with two LPM
 * lookups, and the compiler's tests check that its entries give, through this function, the same
 * verdict as the policy semantics. Two lookups, as Cilium ≥1.17: (identity, …) and (any, …);
 * a deny in either wins; else a redirect beats a plain allow; else the longer prefix wins, ties
 * going to the identity-specific entry; no entry at all drops.
 */
export function lookupPolicyMap(entries: readonly PolicyMapEntry[], packet: PacketKey): PolicyVerdict {
  const l3 = longestMatch(entries, packet.identity, packet);
  const l4 = packet.identity === ANY_IDENTITY ? undefined : longestMatch(entries, ANY_IDENTITY, packet);
  if (l3?.deny || l4?.deny) return { kind: 'deny', reason: 'denied-by-rule' };
  let chosen: PolicyMapEntry | undefined;
  if (!l3) chosen = l4;
  else if (!l4) chosen = l3;
  else if ((l4.proxyPort !== 0) !== (l3.proxyPort !== 0)) chosen = l4.proxyPort !== 0 ? l4 : l3;
  else chosen = l4.prefixLength > l3.prefixLength ? l4 : l3;
  if (!chosen) return { kind: 'deny', reason: 'no-match' };
  return chosen.proxyPort !== 0 ? { kind: 'redirect', proxyPort: chosen.proxyPort } : { kind: 'allow' };
}

/** A stable string for a key, for diffing map contents (the datapath writes only the deltas). */
export function policyMapKeyString(key: PolicyMapKey): string {
  return `${key.identity}/${key.direction}/${key.protocol}/${key.port}/${key.prefixLength}`;
}
