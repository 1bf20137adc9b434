import { Http1ConnectionPool } from './http1-pool';
import { Http2ConnectionPool } from './http2-pool';
import type { ConnectionPool } from './types';
import { formatHostPort, UpstreamCluster, type ClusterSpec, type UpstreamEndpoint } from './cluster';
import type { TransparentNetwork } from '../transparent';
import { ClientIdentityEndpoints } from './client-identity-endpoints';
import { OriginalDestinationEndpoints } from './original-destination';
import { tlsConnectOptions } from './upstream-tls';

/**
 * Owns the upstream connection pools. Pools are keyed by protocol, endpoint and connect timeout,
 * so a config update that keeps an endpoint keeps its warm connections; pools no cluster uses any
 * more are closed gracefully (in-flight requests finish first).
 */
export class ClusterManager {
  private pools = new Map<string, ConnectionPool>();
  /** ORIGINAL_DST clusters' hosts, kept across updates that leave the cluster as it was. */
  private originalDestinations = new Map<string, OriginalDestinationEndpoints>();
  /** Each cluster's per-client endpoints for the L7 load balancer (only with a datapath to mark sockets for). */
  private clientIdentities = new Map<string, ClientIdentityEndpoints>();

  /** `network`: marks the upstream sockets of ORIGINAL_DST clusters for the datapath (absent: plain sockets). */
  constructor(private readonly network?: TransparentNetwork) {}

  /** Builds the clusters for a new config, reusing pools, and retires pools nothing refers to. */
  activate(specs: readonly ClusterSpec[]): Map<string, UpstreamCluster> {
    const nextPools = new Map<string, ConnectionPool>();
    const nextOriginalDestinations = new Map<string, OriginalDestinationEndpoints>();
    const nextClientIdentities = new Map<string, ClientIdentityEndpoints>();
    const clusters = new Map<string, UpstreamCluster>();
    for (const spec of specs) {
      if (spec.originalDestination) {
        const key = `${spec.name} ${spec.protocol} ${spec.connectTimeoutMs} ${spec.originalDestination.cleanupIntervalMs}`;
        const hosts = this.originalDestinations.get(key) ?? new OriginalDestinationEndpoints(spec, this.network);
        nextOriginalDestinations.set(key, hosts);
        clusters.set(spec.name, new UpstreamCluster(spec, [], hosts));
        continue;
      }
      const endpoints: UpstreamEndpoint[] = spec.endpoints.map((endpoint) => {
        const address = formatHostPort(endpoint.host, endpoint.port);
        // TLS settings are part of the key: a changed CA or SNI must not reuse connections verified under the old ones.
        const key = `${spec.protocol} ${address} ${spec.connectTimeoutMs}${spec.tls ? ` tls ${spec.tls.key}` : ''}`;
        let pool = nextPools.get(key) ?? this.pools.get(key);
        if (!pool) {
          const origin = `${spec.tls ? 'https' : 'http'}://${address}`;
          const options = { connectTimeoutMs: spec.connectTimeoutMs, ...(spec.tls ? { tls: tlsConnectOptions(spec.tls) } : {}) };
          pool = spec.protocol === 'http2' ? new Http2ConnectionPool(origin, options) : new Http1ConnectionPool(origin, options);
        }
        nextPools.set(key, pool);
        return { host: endpoint.host, port: endpoint.port, address, weight: endpoint.weight, pool, active: 0, currentWeight: 0 };
      });
      let clientIdentity: ClientIdentityEndpoints | undefined;
      if (this.network) {
        const key = `${spec.name} ${spec.protocol} ${spec.connectTimeoutMs}${spec.tls ? ` tls ${spec.tls.key}` : ''}`;
        clientIdentity = nextClientIdentities.get(key) ?? this.clientIdentities.get(key) ?? new ClientIdentityEndpoints(spec, this.network);
        nextClientIdentities.set(key, clientIdentity);
      }
      clusters.set(spec.name, new UpstreamCluster(spec, endpoints, undefined, clientIdentity));
    }
    const retired = [...this.pools].filter(([key]) => !nextPools.has(key)).map(([, pool]) => pool);
    const retiredHosts = [...this.originalDestinations].filter(([key]) => !nextOriginalDestinations.has(key)).map(([, hosts]) => hosts);
    const retiredClientHosts = [...this.clientIdentities].filter(([key]) => !nextClientIdentities.has(key)).map(([, hosts]) => hosts);
    this.pools = nextPools;
    this.originalDestinations = nextOriginalDestinations;
    this.clientIdentities = nextClientIdentities;
    for (const pool of [...retired, ...retiredHosts, ...retiredClientHosts]) void pool.close().catch(() => undefined);
    return clusters;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values(), ...this.originalDestinations.values(), ...this.clientIdentities.values()];
    this.pools = new Map();
    this.originalDestinations = new Map();
    this.clientIdentities = new Map();
    await Promise.all(pools.map((pool) => pool.close().catch(() => undefined)));
  }
}
