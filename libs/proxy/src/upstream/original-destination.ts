import type * as net from 'node:net';
import { redirectedConnectionOf, type TransparentNetwork } from '../transparent';
import { formatHostPort, type ClusterSpec, type OriginalDestinationHosts, type UpstreamEndpoint } from './cluster';
import { IdleEndpointCache, connectionPoolTo } from './idle-endpoint-cache';

/**
 * The hosts of an ORIGINAL_DST cluster: one per original destination and client identity (the
 * identity travels in the upstream socket's mark, so connections cannot be shared across
 * clients of different identities), created on first use and dropped when unused for a cleanup
 * interval, as Envoy's original-destination cluster does.
 */
export class OriginalDestinationEndpoints implements OriginalDestinationHosts {
  private readonly hosts: IdleEndpointCache;

  constructor(
    private readonly spec: ClusterSpec,
    private readonly network: TransparentNetwork | undefined,
  ) {
    this.hosts = new IdleEndpointCache(spec.originalDestination?.cleanupIntervalMs ?? 5_000);
  }

  /** Undefined for a request that did not come through a datapath redirect: there is no original destination to go to. */
  endpointFor(downstream: net.Socket | undefined, downstreamHttp2: boolean): UpstreamEndpoint | undefined {
    const redirected = redirectedConnectionOf(downstream);
    if (!redirected) return undefined;
    const { host, port } = redirected.originalDestination;
    const address = formatHostPort(host, port);
    const protocol = this.spec.protocol === 'downstream' ? (downstreamHttp2 ? 'http2' : 'http1') : this.spec.protocol;
    return this.hosts.get(`${address} ${redirected.direction} ${redirected.sourceIdentity} ${protocol}`, () => {
      const network = this.network;
      const createSocket = network ? () => network.markedSocket(redirected.direction, redirected.sourceIdentity) : undefined;
      const pool = connectionPoolTo(address, protocol, { connectTimeoutMs: this.spec.connectTimeoutMs, createSocket });
      return { host, port, address, weight: 1, pool, active: 0, currentWeight: 0 };
    });
  }

  close(): Promise<void> {
    return this.hosts.close();
  }
}
