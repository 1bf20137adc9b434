/** The L7 load balancer's upstream side: the client's egress decision for the backend picked, and per-client marked endpoints. */
import * as net from 'node:net';
import type { PolicyVerdict } from '@tendril/policy';
import { L7PolicyIndex } from '../src/l7-policy';
import type { RedirectDirection, RedirectedConnection, TransparentNetwork } from '../src/transparent';
import { ClientIdentityEndpoints, clientEgressDecision } from '../src/upstream/client-identity-endpoints';
import type { ClusterSpec, UpstreamEndpoint } from '../src/upstream/cluster';
import { Http1ConnectionPool } from '../src/upstream/http1-pool';

const CLIENT = '10.244.0.5';
const BACKEND = '10.244.0.9';
const BACKEND_IDENTITY = 4100;

/** The datapath as the proxy sees it: verdicts by backend address, identities, and the marks asked for. */
function fakeNetwork(verdicts: Record<string, PolicyVerdict>): TransparentNetwork & { marks: Array<{ direction: RedirectDirection; identity: number }> } {
  const marks: Array<{ direction: RedirectDirection; identity: number }> = [];
  return {
    bpfRoot: '/sys/fs/bpf/test',
    marks,
    listenerFd: () => Promise.reject(new Error('not used')),
    identityOf: (address) => (address === BACKEND ? BACKEND_IDENTITY : undefined),
    markedSocket: (direction, identity) => {
      marks.push({ direction, identity });
      return new net.Socket();
    },
    egressVerdict: (source, destination) => (source === CLIENT ? (verdicts[destination] ?? { kind: 'deny', reason: 'no-match' }) : { kind: 'deny', reason: 'no-match' }),
  };
}

const request = (path: string, method = 'GET') => ({ method, path, authority: 'echo', headers: {} });

describe('clientEgressDecision', () => {
  const { index } = L7PolicyIndex.compile([
    { name: CLIENT, endpoint_id: 7, egress_per_port_policies: [{ port: 8080, rules: [{ remote_policies: [BACKEND_IDENTITY], http_rules: { http_rules: [{ method: 'GET', path: '/public/.*' }] }, origins: ['CNP client-egress'] }] }] },
  ]);

  it('a deny verdict of the client’s egress policy refuses the request, naming the backend', () => {
    const decision = clientEgressDecision(fakeNetwork({}), index, CLIENT, BACKEND, 8080, request('/'));
    expect(decision).toMatchObject({ allowed: false, reason: `the egress policy of ${CLIENT} does not allow ${BACKEND}:8080 (no-match)` });
  });

  it('a datapath that offers no verdicts fails closed', () => {
    const { egressVerdict: _omitted, ...blind } = fakeNetwork({ [BACKEND]: { kind: 'allow' } });
    expect(clientEgressDecision(blind, index, CLIENT, BACKEND, 8080, request('/')).allowed).toBe(false);
  });

  it('an allow verdict admits every request', () => {
    expect(clientEgressDecision(fakeNetwork({ [BACKEND]: { kind: 'allow' } }), index, CLIENT, BACKEND, 8080, request('/anything', 'DELETE')).allowed).toBe(true);
  });

  it('a redirect verdict (L7 egress rules on the port) admits only what the rules allow, on the normalised path', () => {
    const network = fakeNetwork({ [BACKEND]: { kind: 'redirect', proxyPort: 15001 } });
    expect(clientEgressDecision(network, index, CLIENT, BACKEND, 8080, request('/public/a')).allowed).toBe(true);
    expect(clientEgressDecision(network, index, CLIENT, BACKEND, 8080, request('/public/../private')).allowed).toBe(false);
    expect(clientEgressDecision(network, index, CLIENT, BACKEND, 8080, request('/public/a', 'POST')).allowed).toBe(false);
    // Before any NPDS has arrived the proxy denies, never allows by default.
    expect(clientEgressDecision(network, undefined, CLIENT, BACKEND, 8080, request('/public/a'))).toMatchObject({ allowed: false, reason: 'no L7 policy received yet' });
  });
});

describe('ClientIdentityEndpoints', () => {
  const spec: ClusterSpec = { name: 'default/echo-v2/80', protocol: 'http1', connectTimeoutMs: 1_000, lbPolicy: 'ROUND_ROBIN', endpoints: [{ host: BACKEND, port: 8080, weight: 1 }], maxConnections: 1024 };
  const picked: UpstreamEndpoint = { host: BACKEND, port: 8080, address: `${BACKEND}:8080`, weight: 1, pool: new Http1ConnectionPool(`http://${BACKEND}:8080`, { connectTimeoutMs: 1_000 }), active: 0, currentWeight: 0 };
  const redirected = (identity: number): RedirectedConnection => ({ originalDestination: { host: '10.96.0.10', port: 80 }, sourceIdentity: identity, destinationIdentity: 2, direction: 'egress', l7LoadBalancer: true });
  const downstream = (address: string): net.Socket => Object.defineProperty(new net.Socket(), 'remoteAddress', { value: address });

  it('hands out one endpoint per backend and client, with sockets marked with the client’s identity as an egress-proxy connection', async () => {
    const network = fakeNetwork({ [BACKEND]: { kind: 'allow' } });
    const endpoints = new ClientIdentityEndpoints(spec, network);
    try {
      const first = endpoints.endpointFor(picked, redirected(5001), downstream(`::ffff:${CLIENT}`));
      expect(endpoints.endpointFor(picked, redirected(5001), downstream(CLIENT))).toBe(first);
      const other = endpoints.endpointFor(picked, redirected(5002), downstream('10.244.0.6'));
      expect(other).not.toBe(first);
      expect(first.pool).not.toBe(picked.pool);
      first.createSocket?.().destroy();
      other.createSocket?.().destroy();
      expect(network.marks).toEqual([
        { direction: 'egress', identity: 5001 },
        { direction: 'egress', identity: 5002 },
      ]);
      // The admission is the client's own: 10.244.0.6 is no local endpoint of the fake datapath.
      expect(first.admit?.(undefined, request('/')).allowed).toBe(true);
      expect(other.admit?.(undefined, request('/')).allowed).toBe(false);
    } finally {
      await endpoints.close();
      await picked.pool.close();
    }
  });

  it('a cluster that originates TLS cannot carry the identity: every request is refused rather than sent unmarked', async () => {
    const tlsSpec = { ...spec, tls: { key: 'k' } } as unknown as ClusterSpec;
    const endpoints = new ClientIdentityEndpoints(tlsSpec, fakeNetwork({ [BACKEND]: { kind: 'allow' } }));
    try {
      const endpoint = endpoints.endpointFor(picked, redirected(5001), downstream(CLIENT));
      expect(endpoint.admit?.(undefined, request('/'))).toMatchObject({ allowed: false, reason: expect.stringMatching(/originates TLS/) });
    } finally {
      await endpoints.close();
    }
  });
});
