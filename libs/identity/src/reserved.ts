/**
 * The built-in identities (Cilium's pkg/identity/numericidentity.go). Their numbers are fixed so
 * that every node, the datapath and the proxy agree on them without allocation.
 */
import { label, LabelSource, type LabelSet, labelSet } from './labels';

export const ReservedIdentity = {
  UNKNOWN: 0,
  HOST: 1,
  WORLD: 2,
  UNMANAGED: 3,
  HEALTH: 4,
  INIT: 5,
  REMOTE_NODE: 6,
  KUBE_APISERVER: 7,
  INGRESS: 8,
  WORLD_IPV4: 9,
  WORLD_IPV6: 10,
} as const;

/** First number handed out for label sets of pods (cluster-wide scope). */
export const MIN_GLOBAL_IDENTITY = 256;
export const MAX_GLOBAL_IDENTITY = 65535;
/** Node-local identities (scope byte 0x01): CIDR prefixes referenced by policy, FQDN-learned IPs. */
export const LOCAL_IDENTITY_SCOPE = 0x01000000;
export const MIN_LOCAL_IDENTITY = LOCAL_IDENTITY_SCOPE + 1;
export const MAX_LOCAL_IDENTITY = 0x01ffffff;

const reservedNames: Record<number, string> = {
  [ReservedIdentity.HOST]: 'host',
  [ReservedIdentity.WORLD]: 'world',
  [ReservedIdentity.UNMANAGED]: 'unmanaged',
  [ReservedIdentity.HEALTH]: 'health',
  [ReservedIdentity.INIT]: 'init',
  [ReservedIdentity.REMOTE_NODE]: 'remote-node',
  [ReservedIdentity.KUBE_APISERVER]: 'kube-apiserver',
  [ReservedIdentity.INGRESS]: 'ingress',
  [ReservedIdentity.WORLD_IPV4]: 'world-ipv4',
  [ReservedIdentity.WORLD_IPV6]: 'world-ipv6',
};

export interface Identity {
  readonly id: number;
  readonly labels: LabelSet;
}

/** Every reserved identity with its single `reserved:<name>` label. */
export const RESERVED_IDENTITIES: readonly Identity[] = Object.entries(reservedNames).map(([id, name]) => ({
  id: Number(id),
  labels: labelSet([label(LabelSource.RESERVED, name)]),
}));

export function reservedIdentityName(id: number): string | undefined {
  return reservedNames[id];
}

export function reservedIdentityByName(name: string): number | undefined {
  const found = Object.entries(reservedNames).find(([, n]) => n === name);
  return found ? Number(found[0]) : undefined;
}

export function isReservedIdentity(id: number): boolean {
  return id > 0 && id < MIN_GLOBAL_IDENTITY;
}

export function isLocalIdentity(id: number): boolean {
  return (id & 0xff000000) === LOCAL_IDENTITY_SCOPE;
}
