/**
 * The Envoy JSON shapes this translator emits (see the shared Envoy contract): snake_case proto field
 * names, Any as `{ '@type', ...fields }`, Durations as "1.5s", enums by name.
 *
 * Narrower than the generated interfaces in @tendril/api-envoy (only what we emit, with exact enum
 * and '@type' literals) so the renderer cannot emit a field the node proxy does not implement.
 */
import type { envoy } from '@tendril/api-envoy';

export interface EnvoyConfigSource {
  ads: Record<string, never>;
  resource_api_version: 'V3';
}

export interface EnvoyHeaderValueOption {
  header: { key: string; value: string };
  append_action: 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
}

export interface EnvoyHeaderMutations {
  request_headers_to_add?: EnvoyHeaderValueOption[];
  request_headers_to_remove?: string[];
  response_headers_to_add?: EnvoyHeaderValueOption[];
  response_headers_to_remove?: string[];
}

export interface EnvoyStringMatcher {
  exact?: string;
  safe_regex?: { regex: string };
}

export interface EnvoyRouteMatch {
  prefix?: string;
  path?: string;
  path_separated_prefix?: string;
  safe_regex?: { regex: string };
  headers?: Array<{ name: string; string_match: EnvoyStringMatcher }>;
  query_parameters?: Array<{ name: string; string_match: EnvoyStringMatcher }>;
}

export interface EnvoyClusterWeight extends EnvoyHeaderMutations {
  name: string;
  weight: number;
}

export interface EnvoyRetryPolicy {
  retry_on?: string;
  num_retries?: number;
  retriable_status_codes?: number[];
  retry_back_off?: { base_interval: string };
  per_try_timeout?: string;
}

export interface EnvoyRouteAction {
  cluster?: string;
  weighted_clusters?: { clusters: EnvoyClusterWeight[] };
  cluster_not_found_response_code?: 'SERVICE_UNAVAILABLE' | 'NOT_FOUND' | 'INTERNAL_SERVER_ERROR';
  timeout?: string;
  retry_policy?: EnvoyRetryPolicy;
  prefix_rewrite?: string;
  regex_rewrite?: { pattern: { regex: string }; substitution: string };
  host_rewrite_literal?: string;
  /** Only in route configurations for proxyless gRPC clients, which take the request timeout from here. */
  max_stream_duration?: { max_stream_duration: string };
  request_mirror_policies?: Array<{
    cluster: string;
    runtime_fraction?: {
      default_value: { numerator: number; denominator: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION' };
    };
  }>;
}

export type EnvoyRedirectResponseCode =
  | 'MOVED_PERMANENTLY'
  | 'FOUND'
  | 'SEE_OTHER'
  | 'TEMPORARY_REDIRECT'
  | 'PERMANENT_REDIRECT';

export interface EnvoyRedirectAction {
  scheme_redirect?: string;
  host_redirect?: string;
  port_redirect?: number;
  path_redirect?: string;
  prefix_rewrite?: string;
  response_code: EnvoyRedirectResponseCode;
}

export interface EnvoyRoute extends EnvoyHeaderMutations {
  name: string;
  match: EnvoyRouteMatch;
  route?: EnvoyRouteAction;
  redirect?: EnvoyRedirectAction;
  direct_response?: { status: number; body?: { inline_string: string } };
  /** Per-route configuration of HTTP filters, by filter name: today only the cors filter's policy. */
  typed_per_filter_config?: { 'envoy.filters.http.cors': EnvoyCorsPolicy };
}

/** Per-route configuration of Envoy's cors HTTP filter (a type alias: it travels as a protobuf Any). */
export type EnvoyCorsPolicy = {
  '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
  allow_origin_string_match: EnvoyStringMatcher[];
  allow_methods?: string;
  allow_headers?: string;
  expose_headers?: string;
  max_age: string;
  allow_credentials: boolean;
  forward_not_matching_preflights: boolean;
};

export interface EnvoyVirtualHost {
  name: string;
  domains: string[];
  routes: EnvoyRoute[];
}

export interface EnvoyRouteConfiguration {
  name: string;
  virtual_hosts: EnvoyVirtualHost[];
}

export type EnvoyHttpConnectionManager = {
  '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
  stat_prefix: string;
  codec_type: 'AUTO';
  rds: { route_config_name: string; config_source: EnvoyConfigSource };
  upgrade_configs?: Array<{ upgrade_type: 'websocket' }>;
  /** On the mesh listener: the pod's own request goes on without the proxy's X-Forwarded-For. */
  skip_xff_append?: true;
  http_filters: Array<
    | { name: 'envoy.filters.http.cors'; typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } }
    | { name: 'envoy.filters.http.router'; typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }
  >;
};

/** TLS termination with certificates fetched by name over SDS (on the same ADS stream). */
export interface EnvoyDownstreamTlsTransportSocket {
  name: 'envoy.transport_sockets.tls';
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
    /** Set with a validation context that must be met (AllowValidOnly). */
    require_client_certificate?: boolean;
    common_tls_context: {
      tls_certificate_sds_secret_configs: Array<{ name: string; sds_config: EnvoyConfigSource }>;
      alpn_protocols: string[];
      /** Client certificates are requested and checked against trusted_ca; ACCEPT_UNTRUSTED lets any answer through. */
      validation_context?: { trusted_ca: { inline_string: string }; trust_chain_verification?: 'ACCEPT_UNTRUSTED' };
    };
  };
}

export interface EnvoyFilterChain {
  /** Set on TLS listeners, whose chains are told apart by SNI. */
  name?: string;
  /**
   * TLS sockets: server_names (a chain without match takes the SNIs no other chain names). The mesh
   * listener: the original destination (prefix_ranges, destination_port) and, for consumer routes,
   * the client's address (source_prefix_ranges).
   */
  filter_chain_match?:
    | { server_names: string[] }
    | {
        prefix_ranges: EnvoyCidrRange[];
        destination_port: number;
        source_prefix_ranges?: EnvoyCidrRange[];
      };
  transport_socket?: EnvoyDownstreamTlsTransportSocket;
  filters: Array<
    | { name: 'envoy.filters.network.http_connection_manager'; typed_config: EnvoyHttpConnectionManager }
    | { name: 'envoy.filters.network.tcp_proxy'; typed_config: EnvoyTcpProxy }
  >;
}

/** TLS passthrough and TCP routes: the connection goes byte for byte to one cluster, or to one of several picked by weight. */
export type EnvoyTcpProxy = {
  '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
  stat_prefix: string;
} & ({ cluster: string } | { weighted_clusters: { clusters: Array<{ name: string; weight: number }> } });

export interface EnvoyCidrRange {
  address_prefix: string;
  prefix_len: number;
}

export interface EnvoyListener {
  name: string;
  address: { socket_address: { address: string; port_value: number } };
  /**
   * The TLS inspector reads SNI from the ClientHello so filter_chain_match.server_names can select a
   * chain; original_dst (on the transparent mesh listener) makes the destination the client dialled
   * the one chains match on.
   */
  listener_filters?: Array<
    | {
        name: 'envoy.filters.listener.tls_inspector';
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' };
      }
    | {
        name: 'envoy.filters.listener.original_dst';
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' };
      }
    | {
        /** The mesh listener's L7 load balancing with the client's identity and egress policy (tendril.proxy.v1.BpfMetadata). */
        name: 'tendril.bpf_metadata';
        typed_config: { '@type': 'type.googleapis.com/tendril.proxy.v1.BpfMetadata'; is_ingress: false; is_l7lb: true; bpf_root: string };
      }
  >;
  /** The mesh listener accepts connections the datapath steers to it for other destinations (IP_TRANSPARENT). */
  transparent?: boolean;
  traffic_direction?: 'OUTBOUND';
  filter_chains: EnvoyFilterChain[];
}

export interface EnvoySecret {
  name: string;
  tls_certificate: { certificate_chain: { inline_string: string }; private_key: { inline_string: string } };
}

/**
 * A Listener without a socket for proxyless gRPC clients (gRPC's xDS resolver): it is named after
 * the `xds:///<name>` target and carries only the HttpConnectionManager that points at the routes.
 */
export interface EnvoyApiListener {
  name: string;
  api_listener: { api_listener: EnvoyHttpConnectionManager };
}

export interface EnvoyCluster {
  name: string;
  type: 'EDS';
  eds_cluster_config: { eds_config: EnvoyConfigSource; service_name: string };
  connect_timeout: string;
  lb_policy: 'ROUND_ROBIN';
  typed_extension_protocol_options?: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
      explicit_http_config: { http2_protocol_options: Record<string, never> };
    };
  };
  transport_socket?: EnvoyUpstreamTlsTransportSocket;
}

/** TLS origination for a cluster (envoy.transport_sockets.tls with an UpstreamTlsContext). */
export interface EnvoyUpstreamTlsTransportSocket {
  name: 'envoy.transport_sockets.tls';
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
    sni: string;
    common_tls_context: {
      alpn_protocols?: string[];
      tls_certificates?: Array<{ certificate_chain: { inline_string: string }; private_key: { inline_string: string } }>;
      validation_context: {
        trusted_ca?: { inline_string: string };
        system_root_certs?: Record<string, never>;
        match_typed_subject_alt_names: Array<{ san_type: 'DNS' | 'URI'; matcher: { exact: string } }>;
      };
    };
  };
}

export interface EnvoyClusterLoadAssignment {
  cluster_name: string;
  endpoints: Array<{
    /**
     * One unnamed locality of weight 1. Envoy ignores locality weights unless the cluster asks for
     * locality-weighted balancing; gRPC's xDS client rejects a locality without `locality` and
     * drops one without `load_balancing_weight`.
     */
    locality: Record<string, never>;
    load_balancing_weight: 1;
    lb_endpoints: Array<{
      endpoint: { address: { socket_address: { address: string; port_value: number } } };
      health_status: 'HEALTHY';
    }>;
  }>;
}

/**
 * Every Envoy resource one translation produces, each list sorted by resource name, typed with the
 * generated Envoy JSON interfaces (the narrow shapes above are checked against them by the compiler).
 */
export interface EnvoyResources {
  listeners: envoy.config.listener.v3.Listener[];
  routes: envoy.config.route.v3.RouteConfiguration[];
  clusters: envoy.config.cluster.v3.Cluster[];
  endpoints: envoy.config.endpoint.v3.ClusterLoadAssignment[];
  secrets: envoy.extensions.transport_sockets.tls.v3.Secret[];
}
