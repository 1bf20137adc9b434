import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { KubeObject } from '@tendril/api-k8s';
import { normaliseChecks, type HttpCheck } from '../src';
import { startTcpEchoServer, type TcpEchoServer } from '@tendril/testing';
import { caSignedSecret, certificateAuthority, selfSignedSecret } from '../src/certificates';
import { tlsEchoExchange } from '../src/tcp-echo-traffic';
import { isUnsupported } from '../src/checks';
import { isUnsupportedStatus, parseStatusChecks } from '../src/status-checks';
import { clientCertificateRequested, goHostnameMatches, tlsDialRejected } from '../src/tls-client';
import { attempt, type GatewayTarget } from '../src/traffic';

const INFRA = 'gateway-conformance-infra';

describe('normaliseChecks: HTTPS and h2 checks', () => {
  it('reads "HTTPS (HTTP/1.1), SNI=host, trust NAME" as HTTP/1.1 over TLS trusting that Secret, and a bare "HTTPS" as trusting the Gateway\'s certificates', () => {
    const [named, bare] = normaliseChecks([
      { request: { protocol: 'HTTPS (HTTP/1.1), SNI=host, trust tls-validity-checks-certificate', host: 'example.org', path: '/' }, expect: { status: 200, backend: 'infra-backend-v1' } },
      { request: { protocol: 'HTTPS', host: 'unknown-example.org', path: '/' }, expect: { status: 404 } },
    ]) as HttpCheck[];
    expect(named.request).toMatchObject({ protocol: 'https', host: 'example.org', trustSecret: 'tls-validity-checks-certificate' });
    expect(bare.request).toMatchObject({ protocol: 'https', host: 'unknown-example.org' });
    expect(bare.request.trustSecret).toBeUndefined();
  });

  it('expands the misdirected-request table: SNI and Host apart, over h2', () => {
    const checks = normaliseChecks([
      {
        request: { protocol: 'HTTP/2 over TLS (h2), trusting tls-validity-checks-certificate', path: '/detect-misdirected-requests', sni: '<serverName>', host: '<host>' },
        cases: [
          ['example.org', 'example.org', 200, 'infra-backend-v1'],
          ['example.org', 'second-example.org', 421],
        ],
        caseFormat: '[SNI serverName, Host/:authority, expected status, backend]',
      },
    ]) as HttpCheck[];
    expect(checks.map((c) => [c.request.protocol, c.request.serverName, c.request.host, c.expect.status, c.expect.backend])).toEqual([
      ['h2', 'example.org', 'example.org', [200], 'infra-backend-v1'],
      ['h2', 'example.org', 'second-example.org', [421], undefined],
    ]);
    expect(checks[1].label).toBe('GET second-example.org/detect-misdirected-requests (h2, SNI example.org)');
  });

  it('reads a listener\'s redirect table: the Gateway, HTTPS with SNI/Host, and the Location with or without a port', () => {
    const [plain, kept, secure] = normaliseChecks([
      { listener: 'same-namespace :80 (HTTP)', cases: [['/scheme-nil-and-port-nil', 302, 'http://example.org (port 80 or omitted)']] },
      { listener: 'same-namespace-with-http-listener-on-8080 :8080 (HTTP)', cases: [['/scheme-nil-and-port-nil', 302, 'http://example.org:8080 (listener port kept)']] },
      { listener: 'same-namespace-with-https-listener :443 (HTTPS, SNI/Host example.org)', cases: [['/scheme-http-and-port-nil', 302, 'http://example.org (80 or omitted)']] },
    ]) as HttpCheck[];
    expect(plain).toMatchObject({ gateway: 'same-namespace', request: { path: '/scheme-nil-and-port-nil', port: 80 }, expect: { status: [302], redirect: { scheme: 'http', host: 'example.org' } } });
    expect(plain.request.host).toBeUndefined();
    expect(plain.expect.redirect?.port).toBeUndefined();
    expect(kept).toMatchObject({ gateway: 'same-namespace-with-http-listener-on-8080', request: { port: 8080 }, expect: { redirect: { port: '8080' } } });
    expect(secure).toMatchObject({ gateway: 'same-namespace-with-https-listener', request: { protocol: 'https', host: 'example.org', port: 443 } });
  });

  it('leaves tables it cannot read unsupported', () => {
    const checks = normaliseChecks([
      { request: { protocol: 'HTTPS', sni: '<serverName>', host: '<host>' }, cases: [['a', 'b', 200]], caseFormat: '[something else]' },
      { listener: 'same-namespace on a good day', cases: [['/', 302, 'http://example.org']] },
      { listener: 'same-namespace :80 (HTTP)', cases: [['/', 302, 'example.org, somewhere']] },
      { request: { protocol: 'HTTP/2 cleartext with prior knowledge', sni: 'example.org' }, expect: { status: 200 } },
    ]);
    expect(checks.every(isUnsupported)).toBe(true);
  });
});

describe('Go\'s certificate name matching', () => {
  it('lets a leftmost * stand for exactly one label, also directly under a top-level domain', () => {
    expect(goHostnameMatches('*.org', 'example.org')).toBe(true);
    expect(goHostnameMatches('*.wildcard.org', 'Third-Example.wildcard.org.')).toBe(true);
    expect(goHostnameMatches('*.org', 'a.example.org')).toBe(false);
    expect(goHostnameMatches('*', 'example.org')).toBe(false);
    expect(goHostnameMatches('example.*', 'example.org')).toBe(false);
    expect(goHostnameMatches('second-example.org', 'second-example.org')).toBe(true);
  });
});

/** The PEM certificate and key of a new self-signed Secret, as the runner makes them at start. */
function certificate(hosts: string[]): { cert: string; key: string } {
  const secret = selfSignedSecret({ namespace: INFRA, name: 'test', hosts }) as unknown as { data: Record<string, string> };
  return { cert: Buffer.from(secret.data['tls.crt'], 'base64').toString(), key: Buffer.from(secret.data['tls.key'], 'base64').toString() };
}

describe('HTTPS and h2 traffic against a TLS server with the upstream wildcard certificate', () => {
  const served = certificate(['*', '*.org', '*.wildcard.org']);
  const other = certificate(['*.org']);
  // Answers like the echo backend; over h2, 421 when :authority is not the SNI (a misdirected request).
  const answer = (servername: string | false | null | undefined, host: string, path: string, method: string): { status: number; body: string } =>
    servername && host !== servername ? { status: 421, body: '' } : { status: 200, body: JSON.stringify({ path, host, method, namespace: INFRA, pod: 'infra-backend-v1-abc-def', headers: {} }) };
  let h1: https.Server;
  let h2: http2.Http2SecureServer;
  let h1Target: GatewayTarget;
  let h2Target: GatewayTarget;

  beforeAll(async () => {
    h1 = https.createServer({ cert: served.cert, key: served.key }, (req, res) => {
      const { status, body } = answer(undefined, req.headers.host ?? '', req.url ?? '/', req.method ?? 'GET');
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    h2 = http2.createSecureServer({ cert: served.cert, key: served.key }, (req, res) => {
      const { status, body } = answer((req.socket as TLSSocket).servername, req.headers[':authority'] ?? '', req.url, req.method);
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await Promise.all([new Promise<void>((r) => h1.listen(0, '127.0.0.1', r)), new Promise<void>((r) => h2.listen(0, '127.0.0.1', r))]);
    h1Target = { address: '127.0.0.1', port: (h1.address() as AddressInfo).port, trustedCertificates: [served.cert] };
    h2Target = { address: '127.0.0.1', port: (h2.address() as AddressInfo).port, trustedCertificates: [served.cert] };
  });
  afterAll(async () => {
    await Promise.all([new Promise((r) => h1.close(r)), new Promise((r) => h2.close(r))]);
  });

  const check = (raw: object): HttpCheck => normaliseChecks([raw])[0] as HttpCheck;

  it('HTTPS: passes when the trusted certificate is served for the host (a *.org name, as Go accepts it)', async () => {
    expect(await attempt(check({ request: { protocol: 'HTTPS', host: 'example.org', path: '/x' }, expect: { status: 200, backend: 'infra-backend-v1' } }), h1Target)).toBeUndefined();
  });

  it('HTTPS: a server whose certificate is not the trusted one fails the check', async () => {
    const failure = await attempt(check({ request: { protocol: 'HTTPS', host: 'example.org', path: '/x' }, expect: { status: 200 } }), { ...h1Target, trustedCertificates: [other.cert] });
    expect(failure).toMatch(/^request failed: .*(self.signed|unable to verify|certificate)/i);
  });

  it('HTTPS: a host the certificate does not cover fails the check', async () => {
    const failure = await attempt(check({ request: { protocol: 'HTTPS', host: 'a.example.org', path: '/' }, expect: { status: 200 } }), h1Target);
    expect(failure).toBe('request failed: the certificate is valid for *, *.org, *.wildcard.org, not a.example.org');
  });

  it('h2: sends SNI and :authority apart, so a misdirected request gets its 421', async () => {
    const table = (sni: string, host: string, status: number) =>
      check({ request: { protocol: 'HTTP/2 over TLS (h2)', path: '/detect-misdirected-requests', sni, host }, expect: { status } });
    expect(await attempt(table('example.org', 'example.org', 200), h2Target)).toBeUndefined();
    expect(await attempt(table('example.org', 'second-example.org', 421), h2Target)).toBeUndefined();
    expect(await attempt(table('example.org', 'second-example.org', 200), h2Target)).toBe('status 421, want 200');
  });
});

describe('status phrasings of the HTTPS tests', () => {
  const gateway = (name: string, listeners: number): KubeObject => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name, namespace: INFRA }, spec: { listeners: Array.from({ length: listeners }, (_, i) => ({ name: `l${i}` })) } });
  const route = (name: string, parent: string): KubeObject => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: INFRA }, spec: { parentRefs: [{ name: parent }] } });

  it('"all 4 listeners …" counts the listeners; "4 routes Accepted" needs the test to have 4 routes', () => {
    const objects = [gateway('gw', 4), ...['a', 'b', 'c', 'd'].map((n) => route(n, 'gw'))];
    const parsed = parseStatusChecks(['Gateway gw address; 4 routes Accepted; all 4 listeners RR/Accepted/Programmed'], objects);
    expect(parsed.filter(isUnsupportedStatus)).toEqual([]);
    expect(parsed.filter((p) => 'route' in p)).toHaveLength(4);
    expect(parsed.at(-1)).toEqual(expect.objectContaining({ listenersOf: { namespace: INFRA, name: 'gw' }, count: 4 }));
    expect(parseStatusChecks(['3 routes Accepted'], objects).every(isUnsupportedStatus)).toBe(true);
  });

  it('"three gateways (a, b, c) each with address, their route …, listeners …": each Gateway, its routes and listeners', () => {
    const objects = [gateway('g1', 1), gateway('g2', 1), gateway('g3', 1), route('r1', 'g1'), route('r2', 'g2'), route('r3', 'g3')];
    const parsed = parseStatusChecks(['three gateways (g1, g2, g3) each with address, their route Accepted and ResolvedRefs=True, listeners RR/Accepted/Programmed'], objects);
    expect(parsed.filter(isUnsupportedStatus)).toEqual([]);
    expect(parsed.filter((p) => 'route' in p).map((p) => ('route' in p ? `${p.route.name}@${p.parent.name}: ${p.conditions.map((c) => c.type).join('+')}` : ''))).toEqual([
      'r1@g1: Accepted+ResolvedRefs',
      'r2@g2: Accepted+ResolvedRefs',
      'r3@g3: Accepted+ResolvedRefs',
    ]);
    expect(parseStatusChecks(['two gateways (g1, g2, g3) each with address, their route Accepted, listeners ready'], objects).every(isUnsupportedStatus)).toBe(true);
  });
});

describe('TLS connection rejection, as upstream MakeTLSConnectionAndExpectEventuallyConnectionRejection sees it', () => {
  const served = certificate(['*.example.com']);

  it('a connection closed or reset before the handshake completes is a rejection', async () => {
    const closing = net.createServer((socket) => socket.end());
    const resetting = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await Promise.all([new Promise<void>((r) => closing.listen(0, '127.0.0.1', r)), new Promise<void>((r) => resetting.listen(0, '127.0.0.1', r))]);
    try {
      expect(await tlsDialRejected('127.0.0.1', (closing.address() as AddressInfo).port, 'abc.example.com', 5_000)).toBeUndefined();
      expect(await tlsDialRejected('127.0.0.1', (resetting.address() as AddressInfo).port, 'abc.example.com', 5_000)).toBeUndefined();
    } finally {
      closing.close();
      resetting.close();
    }
  });

  it('a completed handshake, or a certificate the client refuses, is not', async () => {
    const server = tls.createServer({ cert: served.cert, key: served.key }, (socket) => socket.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      // The client trusts the system's roots only, as upstream's dialer: this self-signed certificate fails verification.
      expect(await tlsDialRejected('127.0.0.1', (server.address() as AddressInfo).port, 'abc.example.com', 5_000)).toMatch(/^TLS dial failed without a rejection: .*self.signed/i);
    } finally {
      server.close();
    }
    const refused = net.createServer();
    await new Promise<void>((r) => refused.listen(0, '127.0.0.1', r));
    const port = (refused.address() as AddressInfo).port;
    await new Promise((r) => refused.close(r));
    expect(await tlsDialRejected('127.0.0.1', port, 'abc.example.com', 5_000)).toMatch(/^TLS dial failed without a rejection: connect ECONNREFUSED/);
  });
});

describe('TCP echo over TLS (upstream WaitForValidTCPResponse), against the TCP echo server', () => {
  const ca = certificateAuthority('tls-checks-ca-certificate');
  const leaf = caSignedSecret({ namespace: INFRA, name: 'tls-passthrough-checks-certificate', hosts: ['abc.example.com'] }, ca) as unknown as { data: Record<string, string> };
  const pem = (key: string): string => Buffer.from(leaf.data[key], 'base64').toString();
  let server: TcpEchoServer;
  beforeAll(async () => {
    server = await startTcpEchoServer({ tls: { cert: pem('tls.crt'), key: pem('tls.key') }, context: { namespace: INFRA, pod: 'tcp-backend-abc12-def34' } });
  });
  afterAll(async () => {
    await server.close();
  });
  const expected = { backendIsTLS: true, backend: 'tcp-backend', namespace: INFRA, hostname: 'abc.example.com' };

  it('passes when the backend, trusted through the CA, saw TLS with the SNI sent', async () => {
    expect(await tlsEchoExchange(server.host, server.tlsPort!, 'abc.example.com', [ca.cert], expected, 5_000)).toBeUndefined();
  });

  it('says what differs: another backend or namespace, plain TCP expected, an untrusted CA', async () => {
    expect(await tlsEchoExchange(server.host, server.tlsPort!, 'abc.example.com', [ca.cert], { ...expected, backend: 'tls-backend', namespace: 'elsewhere' }, 5_000)).toBe(
      'namespace "gateway-conformance-infra", want "elsewhere"; answered by pod "tcp-backend-abc12-def34", want tls-backend-…',
    );
    expect(await tlsEchoExchange(server.host, server.tlsPort!, 'abc.example.com', [ca.cert], { ...expected, backendIsTLS: false }, 5_000)).toBe('IS_TLS answered "true\\n", want false');
    const stranger = certificateAuthority('mismatch-ca-certificate');
    expect(await tlsEchoExchange(server.host, server.tlsPort!, 'abc.example.com', [stranger.cert], expected, 5_000)).toMatch(/^TLS connection failed: /);
  });
});

describe('whether a server asks for a client certificate (upstream GetClientCertificate hook)', () => {
  const secret = selfSignedSecret({ namespace: INFRA, name: 'server', hosts: ['example.org'] }) as KubeObject & { data: Record<string, string> };
  const [cert, key] = ['tls.crt', 'tls.key'].map((k) => Buffer.from(secret.data[k], 'base64').toString('utf8'));

  it.each([true, false])('requestCert %s is reported as such', async (requestCert) => {
    const server = tls.createServer({ cert, key, requestCert, rejectUnauthorized: false }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      expect(await clientCertificateRequested('127.0.0.1', (server.address() as AddressInfo).port, 'example.org', 5_000)).toBe(requestCert);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('says so when no handshake happens at all', async () => {
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await expect(clientCertificateRequested('127.0.0.1', (server.address() as AddressInfo).port, 'example.org', 5_000)).rejects.toThrow('completed no handshake');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
