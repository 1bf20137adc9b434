import type * as net from 'node:net';
import { redirectedConnectionOf, type TransparentNetwork } from '../transparent';
import { formatHostPort, type ClusterSpec, type OriginalDestinationHosts, type UpstreamEndpoint } from './cluster';
import { Http1ConnectionPool } from './http1-pool';
import { Http2ConnectionPool } from './http2-pool';

/**
 * The hosts of an ORIGINAL_DST cluster: one per original destination and client identity (the
 * identity travels in the upstream socket's mark, so connections cannot be shared across
 * clients of different identities), created on first use and dropped when unused for a cleanup
 * interval, as Envoy's original-destination cluster does.
 */
export class OriginalDestinationEndpoints implements OriginalDestinationHosts {
  private readonly hosts = new Map<string, { endpoint: UpstreamEndpoint; usedSince: number }>();
  private sweeps = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly spec: ClusterSpec,
    private readonly network: TransparentNetwork | undefined,
  ) {
    const interval = spec.originalDestination?.cleanupIntervalMs ?? 5_000;
    this.timer = setInterval(() => this.cleanup(), interval).unref();
  }

  /** Undefined for a request that did not come through a datapath redirect: there is no original destination to go to. */
  endpointFor(downstream: net.Socket | undefined, downstreamHttp2: boolean): UpstreamEndpoint | undefined {
    const redirected = redirectedConnectionOf(downstream);
    if (!redirected) return undefined;
    const { host, port } = redirected.originalDestination;
    const address = formatHostPort(host, port);
    const protocol = this.spec.protocol === 'downstream' ? (downstreamHttp2 ? 'http2' : 'http1') : this.spec.protocol;
    const key = `${address} ${redirected.direction} ${redirected.sourceIdentity} ${protocol}`;
    const known = this.hosts.get(key);
    if (known) {
      known.usedSince = this.sweeps;
      return known.endpoint;
    }
    const network = this.network;
    const createSocket = network ? () => network.markedSocket(redirected.direction, redirected.sourceIdentity) : undefined;
    const options = { connectTimeoutMs: this.spec.connectTimeoutMs, createSocket };
    const origin = `http://${address}`;
    const pool = protocol === 'http2' ? new Http2ConnectionPool(origin, options) : new Http1ConnectionPool(origin, options);
    const endpoint: UpstreamEndpoint = { host, port, address, weight: 1, pool, active: 0, currentWeight: 0 };
    this.hosts.set(key, { endpoint, usedSince: this.sweeps });
    return endpoint;
  }

  /** Hosts with no request in flight and none picked since the previous sweep are closed. */
  private cleanup(): void {
    const sweep = ++this.sweeps;
    for (const [key, host] of this.hosts) {
      if (host.endpoint.active === 0 && sweep - host.usedSince >= 2) {
        this.hosts.delete(key);
        void host.endpoint.pool.close().catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    const hosts = [...this.hosts.values()];
    this.hosts.clear();
    await Promise.all(hosts.map((h) => h.endpoint.pool.close().catch(() => undefined)));
  }
}
