import type { envoy, tendril } from './generated/envoy-types';

/** Type URLs of the xDS resource types Tendril serves (LDS, RDS, CDS, EDS, SDS, and its own NPDS and NPHDS). */
export const TypeUrl = {
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  /** Tendril's NPDS (envoy/api/tendril/policy/v1/npds.proto): L7 policy per local endpoint. */
  NetworkPolicy: 'type.googleapis.com/tendril.policy.v1.NetworkPolicy',
  /** Tendril's NPHDS (envoy/api/tendril/policy/v1/nphds.proto): the ipcache, one resource per identity. */
  NetworkPolicyHosts: 'type.googleapis.com/tendril.policy.v1.NetworkPolicyHosts',
} as const;

export type ResourceTypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/** The Envoy JSON type of each resource type URL. */
export interface EnvoyResourceTypes {
  [TypeUrl.Listener]: envoy.config.listener.v3.Listener;
  [TypeUrl.RouteConfiguration]: envoy.config.route.v3.RouteConfiguration;
  [TypeUrl.Cluster]: envoy.config.cluster.v3.Cluster;
  [TypeUrl.ClusterLoadAssignment]: envoy.config.endpoint.v3.ClusterLoadAssignment;
  [TypeUrl.Secret]: envoy.extensions.transport_sockets.tls.v3.Secret;
  [TypeUrl.NetworkPolicy]: tendril.policy.v1.NetworkPolicy;
  [TypeUrl.NetworkPolicyHosts]: tendril.policy.v1.NetworkPolicyHosts;
}

/**
 * The xDS name of a resource: `cluster_name` for a ClusterLoadAssignment, the identity in decimal
 * for NPHDS (NetworkPolicyHosts has no name field), `name` for everything else.
 */
export function xdsResourceName(typeUrl: string, resource: Record<string, unknown>): unknown {
  if (typeUrl === TypeUrl.ClusterLoadAssignment) return resource['cluster_name'];
  if (typeUrl === TypeUrl.NetworkPolicyHosts) return resource['policy'] === undefined ? undefined : String(resource['policy']);
  return resource['name'];
}
