import type { envoy, tendril } from '@tendril/api-envoy';

export type Listener = envoy.config.listener.v3.Listener;
export type RouteConfiguration = envoy.config.route.v3.RouteConfiguration;
export type Cluster = envoy.config.cluster.v3.Cluster;
export type ClusterLoadAssignment = envoy.config.endpoint.v3.ClusterLoadAssignment;
export type HttpConnectionManager = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
export type Secret = envoy.extensions.transport_sockets.tls.v3.Secret;
export type TcpProxy = envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;

/** Everything the proxy serves, as the xDS client has received it (Envoy JSON form). */
export interface ProxyConfig {
  listeners: Listener[];
  routes: RouteConfiguration[];
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
  /**
   * SDS Secrets: the certificates TLS listeners name in tls_certificate_sds_secret_configs, and the
   * generic secrets NPDS header matches name in value_sds_secret.
   */
  secrets?: Secret[];
  /** Tendril NPDS: the L7 policy the redirect listeners' tendril.l7policy filter enforces. */
  networkPolicies?: NetworkPolicy[];
  /** Tendril NPHDS: identities by address, for redirect listeners with bpf_metadata use_nphds. */
  networkPolicyHosts?: NetworkPolicyHosts[];
}

export type NetworkPolicy = tendril.policy.v1.NetworkPolicy;
export type NetworkPolicyHosts = tendril.policy.v1.NetworkPolicyHosts;

export type ResourceKind = 'Listener' | 'RouteConfiguration' | 'Cluster' | 'ClusterLoadAssignment' | 'Secret' | 'NetworkPolicy' | 'NetworkPolicyHosts';

/** Why the proxy cannot serve a resource; the xDS client puts `message` into the NACK's error_detail. */
export interface ConfigError {
  kind: ResourceKind;
  /** The resource's name, or `#<index>` when it has none. */
  resource: string;
  message: string;
}

export function formatConfigError(error: ConfigError): string {
  return `${error.kind} ${JSON.stringify(error.resource)}: ${error.message}`;
}

export const HCM_FILTER_NAME = 'envoy.filters.network.http_connection_manager';
export const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const TCP_PROXY_FILTER_NAME = 'envoy.filters.network.tcp_proxy';
export const TCP_PROXY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const ROUTER_FILTER_NAME = 'envoy.filters.http.router';
export const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const UPSTREAM_HTTP_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const UPSTREAM_HTTP_OPTIONS_TYPE_URL = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const L7_POLICY_FILTER_NAME = 'tendril.l7policy';
export const L7_POLICY_TYPE_URL = 'type.googleapis.com/tendril.policy.v1.L7Policy';
export const KAFKA_POLICY_TYPE_URL = 'type.googleapis.com/tendril.policy.v1.KafkaPolicy';
