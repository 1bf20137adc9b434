import { TypeUrl } from '@tendril/api-envoy';

/**
 * Make-before-break: clusters and their endpoints (and secrets) reach the proxy before the
 * listeners and routes that refer to them, as Envoy's xDS protocol doc recommends for ADS.
 */
export const PUSH_ORDER: readonly string[] = [
  TypeUrl.Cluster,
  TypeUrl.ClusterLoadAssignment,
  TypeUrl.Secret,
  // L7 policy and the identities it is written against before the redirect listeners that enforce it.
  TypeUrl.NetworkPolicy,
  TypeUrl.NetworkPolicyHosts,
  TypeUrl.Listener,
  TypeUrl.RouteConfiguration,
];

/**
 * Types whose empty subscription means "everything" (wildcard), per the xDS protocol; the
 * others are fetched by name as the listeners/clusters reference them.
 */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set([TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.NetworkPolicy, TypeUrl.NetworkPolicyHosts]);

export function shortTypeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}

export function pushRank(typeUrl: string): number {
  const i = PUSH_ORDER.indexOf(typeUrl);
  return i < 0 ? PUSH_ORDER.length : i;
}
