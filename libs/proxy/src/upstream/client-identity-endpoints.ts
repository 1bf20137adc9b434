import type * as net from 'node:net';
import { normalizeRequestPath, type HttpRequestFacts } from '@tendril/policy';
import type { L7Decision, L7PolicyIndex } from '../l7-policy';
import { WORLD_IDENTITY, type RedirectedConnection, type TransparentNetwork } from '../transparent';
import type { ClusterSpec, UpstreamEndpoint } from './cluster';
import { IdleEndpointCache, connectionPoolTo } from './idle-endpoint-cache';

/**
 * The upstream side of the L7 load balancer (the mesh listener, bpf_metadata is_l7lb), as Cilium
 * does it for traffic its Envoy load-balances: the client dialled a Service frontend, the proxy
 * picked a backend, so
 *
 * - the client's egress policy is checked against that backend before each request goes to it
 *   (Cilium's upstream cilium.l7policy filter): the datapath's own verdict from the pinned policy
 *   map for (client endpoint, backend identity, TCP, backend port); when that port carries L7
 *   egress rules, the request must match them too (NPDS, as on the egress redirect listener);
 * - the connection to the backend is opened from a socket marked "from the egress proxy, on behalf
 *   of identity N" (Cilium's SO_MARK socket option), so the backend's ingress policy is applied by
 *   its tc program to the client's identity, not to the node's. Connections therefore cannot be
 *   shared between clients of different identities: one pool per backend and identity, dropped
 *   when unused for two cleanup intervals, as ORIGINAL_DST hosts are.
 */

/** The admission of one request to a client-identity endpoint; `policies` is the proxy's NPDS. */
export type EndpointAdmission = (policies: L7PolicyIndex | undefined, request: HttpRequestFacts) => L7Decision;

const CLEANUP_INTERVAL_MS = 5_000;

function denied(reason: string): L7Decision {
  return { allowed: false, reason, edits: [], mismatchedHeaders: [] };
}

function stripMapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The client's egress decision for one request to host:port, as the datapath and NPDS decide it. */
export function clientEgressDecision(network: TransparentNetwork, policies: L7PolicyIndex | undefined, client: string, host: string, port: number, request: HttpRequestFacts): L7Decision {
  if (!network.egressVerdict) return denied('the datapath offers no egress policy verdicts: the L7 load balancer cannot check the client');
  const verdict = network.egressVerdict(client, host, port);
  if (verdict.kind === 'deny') return denied(`the egress policy of ${client} does not allow ${host}:${port} (${verdict.reason})`);
  if (verdict.kind === 'allow') return { allowed: true, reason: `the egress policy of ${client} allows ${host}:${port}`, edits: [], mismatchedHeaders: [] };
  // The port carries L7 egress rules: the request must match them, judged on its normalised path as on the egress redirect listener.
  const normalized = normalizeRequestPath(request.path);
  if (!normalized.ok) return denied(`request target cannot be normalised for the egress L7 rules of ${client}`);
  if (!policies) return denied('no L7 policy received yet');
  return policies.decide('egress', client, port, network.identityOf(host) ?? WORLD_IDENTITY, { ...request, path: normalized.path });
}

export class ClientIdentityEndpoints {
  private readonly hosts = new IdleEndpointCache(CLEANUP_INTERVAL_MS);

  constructor(
    private readonly spec: ClusterSpec,
    private readonly network: TransparentNetwork,
  ) {}

  /** The endpoint for requests of this redirected connection to the backend the cluster picked. */
  endpointFor(picked: UpstreamEndpoint, redirected: RedirectedConnection, downstream: net.Socket): UpstreamEndpoint {
    const client = stripMapped(downstream.remoteAddress ?? '');
    const protocol = this.spec.protocol === 'http2' ? 'http2' : 'http1';
    return this.hosts.get(`${picked.address} ${client} ${redirected.sourceIdentity}`, () => {
      const network = this.network;
      const { host, port } = picked;
      // A marked socket cannot originate TLS here (the pools do not support it): never reach the backend unmarked.
      const admit: EndpointAdmission = this.spec.tls
        ? () => denied(`cluster ${this.spec.name} originates TLS, which cannot carry the client's identity to the backend`)
        : (policies, request) => clientEgressDecision(network, policies, client, host, port, request);
      const createSocket = (): net.Socket => network.markedSocket('egress', redirected.sourceIdentity);
      const pool = connectionPoolTo(picked.address, protocol, { connectTimeoutMs: this.spec.connectTimeoutMs, createSocket });
      return { host, port, address: picked.address, weight: picked.weight, pool, active: 0, currentWeight: 0, admit, createSocket };
    });
  }

  close(): Promise<void> {
    return this.hosts.close();
  }
}
