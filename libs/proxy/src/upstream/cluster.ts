import { durationToMilliseconds, type envoy } from '@tendril/api-envoy';
import * as net from 'node:net';
import { UPSTREAM_HTTP_OPTIONS_KEY, UPSTREAM_HTTP_OPTIONS_TYPE_URL } from '../config';
import { redirectedConnectionOf } from '../transparent';
import type { ClientIdentityEndpoints, EndpointAdmission } from './client-identity-endpoints';
import type { ConnectionPool } from './types';
import { compileUpstreamTls, type UpstreamTlsSpec } from './upstream-tls';

type Cluster = envoy.config.cluster.v3.Cluster;
type ClusterLoadAssignment = envoy.config.endpoint.v3.ClusterLoadAssignment;
type UpstreamHttpProtocolOptions = envoy.extensions.upstreams.http.v3.HttpProtocolOptions;

export type UpstreamProtocol = 'http1' | 'http2';
/** 'downstream': each request goes upstream in the protocol it came in (HttpProtocolOptions use_downstream_protocol_config). */
export type ClusterProtocol = UpstreamProtocol | 'downstream';
export type LoadBalancerPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'CLUSTER_PROVIDED';

/** Envoy's default connect_timeout. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Envoy's default circuit_breakers max_connections. */
const DEFAULT_MAX_CONNECTIONS = 1_024;
/** Envoy's default cleanup_interval for ORIGINAL_DST hosts. */
const DEFAULT_CLEANUP_INTERVAL_MS = 5_000;

export interface EndpointSpec {
  host: string;
  port: number;
  /** Positive; a fraction when locality-weighted balancing spreads a locality's weight over its endpoints. */
  weight: number;
}

/** A Cluster joined with its endpoints, validated; no sockets yet. */
export interface ClusterSpec {
  name: string;
  protocol: ClusterProtocol;
  connectTimeoutMs: number;
  lbPolicy: LoadBalancerPolicy;
  endpoints: EndpointSpec[];
  /**
   * An ORIGINAL_DST cluster: each request goes to the original destination of the (datapath
   * redirected) downstream connection; hosts unused for a cleanup interval are dropped.
   */
  originalDestination?: { cleanupIntervalMs: number };
  /** TLS origination to every endpoint (the cluster's transport_socket); plaintext when absent. */
  tls?: UpstreamTlsSpec;
  /**
   * circuit_breakers max_connections of the DEFAULT priority (Envoy's default 1024). Only UDP
   * listeners enforce it, as Envoy's udp_proxy does: a session counts as a connection.
   */
  maxConnections: number;
}

/** `host:port`, with IPv6 hosts in brackets. */
export function formatHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

function upstreamProtocol(cluster: Cluster): ClusterProtocol {
  let protocol: ClusterProtocol = cluster.http2_protocol_options !== undefined ? 'http2' : 'http1';
  for (const [key, value] of Object.entries(cluster.typed_extension_protocol_options ?? {})) {
    if (key !== UPSTREAM_HTTP_OPTIONS_KEY || value['@type'] !== UPSTREAM_HTTP_OPTIONS_TYPE_URL) {
      throw new Error(`typed_extension_protocol_options "${key}" (${String(value['@type'])}) is not supported`);
    }
    const options = value as UpstreamHttpProtocolOptions;
    if (options.auto_config !== undefined) throw new Error('auto_config is not supported in HttpProtocolOptions');
    if (options.use_downstream_protocol_config !== undefined) {
      if (options.use_downstream_protocol_config.http3_protocol_options !== undefined) throw new Error('HTTP/3 upstreams are not supported');
      if (cluster.type !== 'ORIGINAL_DST') throw new Error('use_downstream_protocol_config is only supported on ORIGINAL_DST clusters');
      protocol = 'downstream';
      continue;
    }
    const explicit = options.explicit_http_config;
    if (explicit?.http3_protocol_options !== undefined) throw new Error('HTTP/3 upstreams are not supported');
    if (explicit?.http2_protocol_options !== undefined) protocol = 'http2';
    else if (explicit?.http_protocol_options !== undefined) protocol = 'http1';
  }
  return protocol;
}

const USABLE_HEALTH = new Set([undefined, 'UNKNOWN', 'HEALTHY', 'DEGRADED']);

/**
 * Lowest-priority group that has usable endpoints, as Envoy picks priorities when all are healthy.
 * `localityWeighted` (the cluster's locality_weighted_lb_config): Envoy first picks a locality by its
 * load_balancing_weight (one without a weight, or without usable endpoints, gets nothing), then an
 * endpoint inside it; giving each endpoint its locality's weight shared in proportion to the
 * endpoint weights yields the same distribution from one endpoint pick.
 */
function endpointsOf(assignment: ClusterLoadAssignment | undefined, localityWeighted = false): EndpointSpec[] {
  const byPriority = new Map<number, EndpointSpec[]>();
  for (const locality of assignment?.endpoints ?? []) {
    const priority = locality.priority ?? 0;
    const localityWeight = locality.load_balancing_weight ?? 0;
    if (!Number.isInteger(localityWeight) || localityWeight < 0) throw new Error(`locality load_balancing_weight ${localityWeight} must be a positive integer`);
    const usable: EndpointSpec[] = [];
    for (const lbEndpoint of locality.lb_endpoints ?? []) {
      const socket = lbEndpoint.endpoint?.address?.socket_address;
      if (!socket?.address || socket.port_value === undefined) throw new Error('lb_endpoint needs endpoint.address.socket_address with address and port_value');
      if (!Number.isInteger(socket.port_value) || socket.port_value < 1 || socket.port_value > 65535) {
        throw new Error(`endpoint ${socket.address} has invalid port ${socket.port_value}`);
      }
      const weight = lbEndpoint.load_balancing_weight ?? 1;
      if (!Number.isInteger(weight) || weight < 1) throw new Error(`endpoint ${socket.address}:${socket.port_value} has load_balancing_weight ${weight}; it must be at least 1`);
      if (!USABLE_HEALTH.has(lbEndpoint.health_status)) continue;
      usable.push({ host: socket.address, port: socket.port_value, weight });
    }
    if (usable.length === 0 || (localityWeighted && localityWeight === 0)) continue;
    if (localityWeighted) {
      const total = usable.reduce((sum, e) => sum + e.weight, 0);
      for (const e of usable) e.weight = (localityWeight * e.weight) / total;
    }
    let group = byPriority.get(priority);
    if (!group) byPriority.set(priority, (group = []));
    group.push(...usable);
  }
  const priorities = [...byPriority.keys()].sort((a, b) => a - b);
  return priorities.length === 0 ? [] : (byPriority.get(priorities[0]) ?? []);
}

/** Checks one ClusterLoadAssignment on its own, so the xDS client can NACK EDS updates precisely. */
export function validateLoadAssignment(assignment: ClusterLoadAssignment): void {
  if (!assignment.cluster_name) throw new Error('cluster_name is required');
  endpointsOf(assignment);
}

/** Joins a Cluster with its ClusterLoadAssignment (EDS) or inline load_assignment (STATIC / DNS types). */
export function compileCluster(cluster: Cluster, assignments: ReadonlyMap<string, ClusterLoadAssignment>): ClusterSpec {
  const name = cluster.name;
  if (!name) throw new Error('name is required');
  if ((cluster.transport_socket_matches?.length ?? 0) > 0) throw new Error('transport_socket_matches is not supported (one transport_socket per cluster)');
  const tls = cluster.transport_socket !== undefined ? compileUpstreamTls(cluster.transport_socket) : undefined;
  if (cluster.cluster_type !== undefined) throw new Error('custom cluster_type is not supported');
  const type = cluster.type ?? 'STATIC';
  let assignment: ClusterLoadAssignment | undefined;
  if (type === 'ORIGINAL_DST') {
    if (cluster.lb_policy !== 'CLUSTER_PROVIDED') throw new Error('an ORIGINAL_DST cluster needs lb_policy CLUSTER_PROVIDED');
    if (cluster.original_dst_lb_config?.use_http_header === true || cluster.original_dst_lb_config?.http_header_name !== undefined) {
      throw new Error('original_dst_lb_config: routing by an HTTP header is not supported (only the connection\'s original destination)');
    }
    if (cluster.load_assignment !== undefined) throw new Error('an ORIGINAL_DST cluster takes no load_assignment');
    if (tls) throw new Error('TLS origination is not supported on ORIGINAL_DST clusters');
    let cleanupIntervalMs = DEFAULT_CLEANUP_INTERVAL_MS;
    if (cluster.cleanup_interval !== undefined) {
      cleanupIntervalMs = durationToMilliseconds(cluster.cleanup_interval);
      if (cleanupIntervalMs <= 0) throw new Error('cleanup_interval must be positive');
    }
    return { name, protocol: upstreamProtocol(cluster), connectTimeoutMs: connectTimeoutOf(cluster), lbPolicy: 'CLUSTER_PROVIDED', endpoints: [], originalDestination: { cleanupIntervalMs }, maxConnections: maxConnectionsOf(cluster) };
  }
  if (type === 'EDS') {
    assignment = assignments.get(cluster.eds_cluster_config?.service_name || name);
  } else if (type === 'STATIC' || type === 'STRICT_DNS' || type === 'LOGICAL_DNS') {
    assignment = cluster.load_assignment;
  } else {
    throw new Error(`cluster type ${type} is not supported`);
  }
  const lbPolicy = cluster.lb_policy ?? 'ROUND_ROBIN';
  if (lbPolicy !== 'ROUND_ROBIN' && lbPolicy !== 'LEAST_REQUEST' && lbPolicy !== 'RANDOM') {
    throw new Error(`lb_policy ${lbPolicy} is not supported${lbPolicy === 'CLUSTER_PROVIDED' ? ' on a cluster of type ' + type : ''}`);
  }
  const common = cluster.common_lb_config;
  if (common?.zone_aware_lb_config !== undefined) throw new Error('common_lb_config.zone_aware_lb_config is not supported');
  const localityWeighted = common?.locality_weighted_lb_config !== undefined;
  return { name, protocol: upstreamProtocol(cluster), connectTimeoutMs: connectTimeoutOf(cluster), lbPolicy, endpoints: endpointsOf(assignment, localityWeighted), maxConnections: maxConnectionsOf(cluster), ...(tls ? { tls } : {}) };
}

/** The first DEFAULT-priority threshold's max_connections, as Envoy picks it. */
function maxConnectionsOf(cluster: Cluster): number {
  const threshold = (cluster.circuit_breakers?.thresholds ?? []).find((t) => (t.priority ?? 'DEFAULT') === 'DEFAULT');
  const max = threshold?.max_connections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(max) || max < 0) throw new Error(`circuit_breakers max_connections ${max} must be a non-negative integer`);
  return max;
}

function connectTimeoutOf(cluster: Cluster): number {
  if (cluster.connect_timeout === undefined) return DEFAULT_CONNECT_TIMEOUT_MS;
  const connectTimeoutMs = durationToMilliseconds(cluster.connect_timeout);
  if (connectTimeoutMs <= 0) throw new Error('connect_timeout must be positive');
  return connectTimeoutMs;
}

/** Hands out the endpoint for a redirected connection's original destination (ORIGINAL_DST clusters). */
export interface OriginalDestinationHosts {
  endpointFor(downstream: net.Socket | undefined, downstreamHttp2: boolean): UpstreamEndpoint | undefined;
}

/** An endpoint with its connection pool; `active` counts requests in flight for LEAST_REQUEST. */
export interface UpstreamEndpoint {
  host: string;
  port: number;
  /** host:port, as the access log shows it. */
  address: string;
  weight: number;
  pool: ConnectionPool;
  active: number;
  /** Smooth weighted round robin state. */
  currentWeight: number;
  /**
   * Set on the endpoints the L7 load balancer hands out per client (client-identity-endpoints.ts):
   * the client's egress policy for this backend, checked before each request is sent to it.
   */
  admit?: EndpointAdmission;
  /** For connections made outside the pool (upgrades): a socket marked as the pool's are. */
  createSocket?: () => net.Socket;
}

/** A cluster as the router uses it: picks an endpoint per request. */
export class UpstreamCluster {
  private next = 0;
  private readonly totalWeight: number;
  private readonly uniformWeights: boolean;

  constructor(
    readonly spec: ClusterSpec,
    readonly endpoints: readonly UpstreamEndpoint[],
    private readonly originalDestination?: OriginalDestinationHosts,
    /** The per-client endpoints for connections the L7 load balancer (mesh listener) accepted. */
    private readonly clientIdentity?: ClientIdentityEndpoints,
  ) {
    this.totalWeight = endpoints.reduce((sum, e) => sum + e.weight, 0);
    this.uniformWeights = endpoints.every((e) => e.weight === endpoints[0].weight);
  }

  get name(): string {
    return this.spec.name;
  }

  /**
   * `downstream`: the connection the request arrived on, which an ORIGINAL_DST cluster routes by;
   * `downstreamHttp2`: whether it speaks HTTP/2, which such a cluster may keep upstream.
   */
  pick(downstream?: net.Socket, downstreamHttp2 = false): UpstreamEndpoint | undefined {
    if (this.originalDestination) return this.originalDestination.endpointFor(downstream, downstreamHttp2);
    const endpoint = this.balance();
    if (this.clientIdentity === undefined || endpoint === undefined || downstream === undefined) return endpoint;
    const redirected = redirectedConnectionOf(downstream);
    return redirected?.l7LoadBalancer ? this.clientIdentity.endpointFor(endpoint, redirected, downstream) : endpoint;
  }

  /** The endpoint the cluster's load-balancing policy picks. */
  private balance(): UpstreamEndpoint | undefined {
    const endpoints = this.endpoints;
    const count = endpoints.length;
    if (count <= 1) return endpoints[0];
    switch (this.spec.lbPolicy) {
      case 'RANDOM':
        return this.weightedRandom();
      case 'LEAST_REQUEST': {
        // Power of two choices, as Envoy's least-request balancer does.
        const a = this.weightedRandom();
        const b = this.weightedRandom();
        return a.active <= b.active ? a : b;
      }
      default:
        if (this.uniformWeights) {
          const endpoint = endpoints[this.next];
          this.next = (this.next + 1) % count;
          return endpoint;
        }
        return this.smoothWeightedRoundRobin();
    }
  }

  private weightedRandom(): UpstreamEndpoint {
    let point = Math.random() * this.totalWeight;
    for (const endpoint of this.endpoints) {
      point -= endpoint.weight;
      if (point < 0) return endpoint;
    }
    return this.endpoints[this.endpoints.length - 1];
  }

  /** nginx's smooth weighted round robin: each endpoint's share matches its weight, interleaved. */
  private smoothWeightedRoundRobin(): UpstreamEndpoint {
    let best = this.endpoints[0];
    for (const endpoint of this.endpoints) {
      endpoint.currentWeight += endpoint.weight;
      if (endpoint.currentWeight > best.currentWeight) best = endpoint;
    }
    best.currentWeight -= this.totalWeight;
    return best;
  }
}
