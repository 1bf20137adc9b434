import type * as net from 'node:net';
import type { UpstreamEndpoint } from './cluster';
import { Http1ConnectionPool } from './http1-pool';
import { Http2ConnectionPool } from './http2-pool';

/**
 * Upstream endpoints made on first use under a key (a destination and the client identity its
 * sockets carry) and closed when idle: every `intervalMs` a sweep closes those with no request in
 * flight and none picked since the previous sweep, as Envoy's original-destination cluster drops
 * its hosts. ORIGINAL_DST hosts and the L7 load balancer's per-client endpoints both live here.
 */
export class IdleEndpointCache {
  private readonly hosts = new Map<string, { endpoint: UpstreamEndpoint; usedSince: number }>();
  private sweeps = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.sweep(), intervalMs).unref();
  }

  /** The endpoint under `key`, made by `create` the first time it is asked for (again after it was closed). */
  get(key: string, create: () => UpstreamEndpoint): UpstreamEndpoint {
    const known = this.hosts.get(key);
    if (known) {
      known.usedSince = this.sweeps;
      return known.endpoint;
    }
    const endpoint = create();
    this.hosts.set(key, { endpoint, usedSince: this.sweeps });
    return endpoint;
  }

  private sweep(): void {
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

/** A connection pool to `address` (host:port) over HTTP/1.1 or HTTP/2, its sockets from `createSocket` when given. */
export function connectionPoolTo(
  address: string,
  protocol: 'http1' | 'http2',
  options: { connectTimeoutMs: number; createSocket?: () => net.Socket },
): Http1ConnectionPool | Http2ConnectionPool {
  const origin = `http://${address}`;
  return protocol === 'http2' ? new Http2ConnectionPool(origin, options) : new Http1ConnectionPool(origin, options);
}
