import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { envoy } from '@tendril/api-envoy';
import { startEchoServer, type EchoServer } from '@tendril/testing';
import { edsCluster, httpListener, loadAssignment, ProxyHarness, routeConfig, toCluster, vhost } from './fixtures';

const run = promisify(execFile);
type Cluster = envoy.config.cluster.v3.Cluster;
type SanType = envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher.SanType;

/** A self-signed RSA certificate with these subjectAltNames (`DNS:…`, `URI:…`), made for the run. */
async function certificate(subjectAltNames: string[]): Promise<{ cert: string; key: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tendril-upstream-tls-'));
  try {
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=upstream', '-addext', `subjectAltName=${subjectAltNames.join(',')}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    const [cert, key] = await Promise.all([readFile(join(dir, 'cert.pem'), 'utf8'), readFile(join(dir, 'key.pem'), 'utf8')]);
    return { cert, key };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function tlsCluster(name: string, tls: { sni?: string; ca?: string; sans?: Array<[SanType, string]>; alpn?: string[] }, http2 = false): Cluster {
  return {
    ...edsCluster(name, { http2 }),
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        ...(tls.sni ? { sni: tls.sni } : {}),
        common_tls_context: {
          ...(tls.alpn ? { alpn_protocols: tls.alpn } : {}),
          ...(tls.ca !== undefined
            ? { validation_context: { trusted_ca: { inline_string: tls.ca }, ...(tls.sans ? { match_typed_subject_alt_names: tls.sans.map(([san_type, exact]) => ({ san_type, matcher: { exact } })) } : {}) } }
            : {}),
        },
      },
    },
  };
}

describe('upstream TLS (UpstreamTlsContext transport sockets)', () => {
  const h = new ProxyHarness();
  let server: { cert: string; key: string };
  let unrelated: { cert: string; key: string };
  let backend: EchoServer;

  beforeAll(async () => {
    [server, unrelated] = await Promise.all([certificate(['DNS:abc.example.com', 'URI:spiffe://abc.example.com/test-identity', 'DNS:*.wild.example.com']), certificate(['DNS:abc.example.com'])]);
    backend = await startEchoServer({ pod: 'tls-backend', tls: { cert: server.cert, key: server.key, port: 0 } });
    h.backends.push(backend);
  });
  afterAll(() => h.close());

  async function through(cluster: Cluster): Promise<Awaited<ReturnType<ProxyHarness['request']>>> {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', cluster.name ?? '')])])],
      clusters: [cluster],
      endpoints: [loadAssignment(cluster.name ?? '', [{ port: backend.httpsPort ?? 0 }])],
    });
    // A Host unlike the SNI: the SNI must be the cluster's, never the request's Host.
    return h.request('/tls', { headers: { host: 'client.example.org' } });
  }

  it('originates TLS with the configured SNI, verifying the chain and the DNS name', async () => {
    const res = await through(tlsCluster('ok', { sni: 'abc.example.com', ca: server.cert, sans: [['DNS', 'abc.example.com']] }));
    expect(res.status).toBe(200);
    expect(res.echo.tls?.serverName).toBe('abc.example.com');
    // The Host header is the client's, not the SNI.
    expect(res.echo.host).toBe('client.example.org');
  });

  it('matches a URI subject alternative name exactly, and DNS names against certificate wildcards', async () => {
    expect((await through(tlsCluster('uri', { sni: 'abc.example.com', ca: server.cert, sans: [['URI', 'spiffe://abc.example.com/test-identity']] }))).status).toBe(200);
    expect((await through(tlsCluster('wild', { sni: 'x.wild.example.com', ca: server.cert, sans: [['DNS', 'x.wild.example.com']] }))).status).toBe(200);
  });

  it('fails the request with a 503 when no subject alternative name matches', async () => {
    const dns = await through(tlsCluster('dns-mismatch', { sni: 'abc.example.com', ca: server.cert, sans: [['DNS', 'mismatch.example.com']] }));
    expect(dns.status).toBe(503);
    expect(dns.text).toContain('connection failure');
    expect((await through(tlsCluster('uri-mismatch', { sni: 'abc.example.com', ca: server.cert, sans: [['URI', 'spiffe://other.example.com/x']] }))).status).toBe(503);
  });

  it('fails the request with a 503 when the certificate is not signed by the trusted CA', async () => {
    expect((await through(tlsCluster('ca-mismatch', { sni: 'abc.example.com', ca: unrelated.cert }))).status).toBe(503);
  });

  it('speaks HTTP/2 over TLS (ALPN h2) to an HTTP/2 cluster', async () => {
    const res = await through(tlsCluster('h2', { sni: 'abc.example.com', ca: server.cert }, true));
    expect(res.status).toBe(200);
    expect(res.echo.proto).toBe('HTTP/2.0');
    expect(res.echo.tls?.negotiatedProtocol).toBe('h2');
  });

  it('refuses a TLS cluster that would not verify its upstream, saying why', async () => {
    const result = await h.runtime.apply({ listeners: [], routes: [], clusters: [tlsCluster('unverified', { sni: 'abc.example.com' })], endpoints: [] });
    expect(result.accepted).toBe(false);
    expect(JSON.stringify(result.errors)).toContain('without validation_context would trust any server');
    const garbage = await h.runtime.apply({ listeners: [], routes: [], clusters: [tlsCluster('garbage', { ca: 'not a certificate' })], endpoints: [] });
    expect(JSON.stringify(garbage.errors)).toContain('trusted_ca is not a PEM certificate bundle');
  });
});
