import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeObject } from '@tendril/api-k8s';
import { startEchoServer, type EchoResponse, type EchoServer } from '@tendril/testing';
import { normaliseChecks, type HttpCheck } from '../src';
import { selfSignedSecret } from '../src/certificates';
import { PodLogs } from '../src/environment';
import { mirrorCountProblem } from '../src/procedures';
import { isUnsupportedStatus, parseStatusChecks } from '../src/status-checks';
import { attempt, backendHeaderLoop, mirrorRound, websocketEcho } from '../src/traffic';

const INFRA = 'gateway-conformance-infra';

describe('normaliseChecks: rewrites, listener ports, h2c and the backend-header loop', () => {
  it('reads what the backend must see after a rewrite, ignoring the explanatory `rule`', () => {
    const [check] = normaliseChecks([{ request: { host: 'rewrite.example', path: '/prefix/one/two' }, expect: { pathSeenByBackend: '/one/two', hostSeenByBackend: 'one.example.org', rule: 'prefix /prefix/one -> /one' } }]) as HttpCheck[];
    expect(check.expect).toMatchObject({ pathSeenByBackend: '/one/two', hostSeenByBackend: 'one.example.org' });
  });

  it('reads "port N" as the listener port to dial and "HTTP/2 cleartext with prior knowledge" as h2c', () => {
    const [toPort, h2c] = normaliseChecks([
      { request: { host: 'foo.com:8080', to: 'port 8080' }, expect: { backend: 'infra-backend-v2' } },
      { request: { path: '/', protocol: 'HTTP/2 cleartext with prior knowledge (no Upgrade)' }, expect: { status: 200 } },
    ]) as HttpCheck[];
    expect(toPort.request.port).toBe(8080);
    expect(toPort.label).toBe('GET foo.com:8080/ (port 8080)');
    expect(h2c.request.protocol).toBe('h2c');
  });

  it('leaves other destinations and protocols unsupported rather than sending them as plain HTTP', () => {
    const checks = normaliseChecks([
      { request: { to: 'same-namespace-with-https-listener :443 (HTTPS)', path: '/' }, expect: { status: 200 } },
      { request: { protocol: 'HTTP/3 over QUIC', path: '/' }, expect: { status: 200 } },
      { loop: 'forever, somehow' },
    ]);
    expect(checks).toEqual([
      { unsupported: expect.stringContaining('request.to') },
      { unsupported: expect.stringContaining('request.protocol "HTTP/3 over QUIC"') },
      { unsupported: 'loop "forever, somehow"' },
    ]);
  });

  it('reads the WebSocket check as the upstream test runs it: dial the path, echo a text and a binary message', () => {
    const [ws] = normaliseChecks([
      { request: { websocket: 'dial ws://<gw>/ws (origin ws://gateway/<testname>)' }, expect: { textFrameEcho: "'Websocket Support!' echoed back", binaryFrameEcho: 'bytes 1..7 echoed back' } },
    ]);
    expect(ws).toEqual({ websocket: { path: '/ws', origin: 'ws://gateway/HTTPRouteBackendProtocolWebSocket', text: 'Websocket Support!', binary: [1, 2, 3, 4, 5, 6, 7] } });
  });

  it('repeats the previous cases against another Gateway when a group says "identical expectations"', () => {
    const checks = normaliseChecks([
      { gateway: 'isolation (4 listeners)', cases: [['bar.com', '/empty-hostname', 'infra-backend-v1'], ['bar.com', '/wildcard-example-com', 404]], caseFormat: '[Host, path, backend or status]' },
      { gateway: 'isolation-with-hostname-intersection (same listeners)', cases: 'identical expectations' },
    ]) as HttpCheck[];
    expect(checks.map((c) => [c.gateway, c.request.host, c.request.path, c.expect.backend ?? c.expect.status[0]])).toEqual([
      ['isolation', 'bar.com', '/empty-hostname', 'infra-backend-v1'],
      ['isolation', 'bar.com', '/wildcard-example-com', 404],
      ['isolation-with-hostname-intersection', 'bar.com', '/empty-hostname', 'infra-backend-v1'],
      ['isolation-with-hostname-intersection', 'bar.com', '/wildcard-example-com', 404],
    ]);
  });

  it('reads the HTTPRouteRequestHeaderModifierBackendWeights loop', () => {
    const [loop] = normaliseChecks([
      {
        loop: "100 sequential requests to /: each captured request must carry exactly one 'Backend' header (looked up by the exact Go-canonical key 'Backend' in the echo JSON) and the responding pod name must start with that header's value",
      },
    ]);
    expect(loop).toEqual({ loop: { requests: 100, path: '/', header: 'Backend' } });
  });
});

describe('traffic: rewrites, h2c and listener ports against an echo backend', () => {
  let echo: EchoServer;
  const seen: EchoResponse[] = [];
  beforeAll(async () => {
    echo = await startEchoServer({ host: '127.0.0.1', port: 0, pod: 'infra-backend-v1-7d9f-abc12', namespace: INFRA, onRequest: (e) => seen.push(e) });
  });
  afterAll(() => echo.close());

  const check = (request: Partial<HttpCheck['request']>, expect: Partial<HttpCheck['expect']> = {}): HttpCheck => ({
    label: 'GET /x',
    request: { path: '/x', method: 'GET', headers: {}, backendSetsResponseHeaders: {}, ...request },
    expect: { status: [200], requestHeadersSeenByBackend: {}, absentRequestHeaders: [], responseHeaders: {}, absentResponseHeaders: [], ...expect },
  });

  it('compares the path and host the backend saw with the rewritten ones when the check gives them', async () => {
    const target = { address: '127.0.0.1', port: echo.port };
    // Nothing rewrites here, so an expected rewrite is reported as missing.
    expect(await attempt(check({ host: 'rewrite.example' }, { pathSeenByBackend: '/one', hostSeenByBackend: 'one.example.org' }), target)).toBe(
      'backend saw path "/x", want "/one"; backend saw host "rewrite.example", want "one.example.org"',
    );
    expect(await attempt(check({ host: 'rewrite.example' }, { pathSeenByBackend: '/x', hostSeenByBackend: 'rewrite.example' }), target)).toBeUndefined();
  });

  it('sends an h2c check as HTTP/2 with prior knowledge, the Host as :authority', async () => {
    seen.length = 0;
    expect(await attempt(check({ protocol: 'h2c', host: 'example.org' }, { backend: 'infra-backend-v1' }), { address: '127.0.0.1', port: echo.port })).toBeUndefined();
    expect(seen.map((e) => [e.proto, e.host])).toEqual([['HTTP/2.0', 'example.org']]);
  });

  it('WebSocket: passes when the echo backend sends both messages back, fails naming why when it cannot', async () => {
    const ws = { path: '/ws', origin: 'ws://gateway/t', text: 'Websocket Support!', binary: [1, 2, 3, 4, 5, 6, 7] };
    expect(await websocketEcho({ address: '127.0.0.1', port: echo.port }, ws, 2_000)).toBeUndefined();
    // The echo backend refuses upgrades anywhere but /ws.
    expect(await websocketEcho({ address: '127.0.0.1', port: echo.port }, { ...ws, path: '/not-ws' }, 2_000)).toMatch(/^websocket (failed|closed)/);
  });

  it('CORS: a preflight the backend answered fails "answered by the Gateway"; header alternatives ignore whitespace only when asked', async () => {
    const target = { address: '127.0.0.1', port: echo.port };
    expect(await attempt(check({ method: 'OPTIONS' }, { answeredByGateway: true }), target)).toBe('the request reached a backend (its JSON echo came back), want the Gateway to answer it');
    // The echo backend sets the response headers X-Echo-Set-Header asks for.
    const withHeader = { backendSetsResponseHeaders: { 'Access-Control-Allow-Methods': 'PUT' } };
    expect(await attempt(check(withHeader, { responseHeaderAlternatives: { 'access-control-allow-methods': ['*', ' PUT '] }, ignoreWhitespace: true }), target)).toBeUndefined();
    expect(await attempt(check(withHeader, { responseHeaderAlternatives: { 'access-control-allow-methods': ['*', ' PUT '] } }), target)).toBe(
      'response header access-control-allow-methods: "PUT", want one of "*", " PUT "',
    );
    expect(await attempt(check({}, { responseHeaderAlternatives: { 'access-control-allow-origin': ['*'] } }), target)).toMatch(/access-control-allow-origin: absent/);
  });

  it('compares the SNI the backend saw on its TLS connection with the expected one (BackendTLSPolicy hostname)', async () => {
    const secret = selfSignedSecret({ namespace: INFRA, name: 'backend', hosts: ['abc.example.com'] }) as KubeObject & { data: Record<string, string> };
    const [cert, key] = ['tls.crt', 'tls.key'].map((k) => Buffer.from(secret.data[k], 'base64').toString('utf8'));
    const tlsEcho = await startEchoServer({ host: '127.0.0.1', port: 0, pod: 'tls-backend-7d9f-abc12', namespace: INFRA, tls: { cert, key, port: 0 } });
    try {
      const target = { address: '127.0.0.1', port: tlsEcho.httpsPort ?? 0, trustedCertificates: [cert] };
      const https = { protocol: 'https' as const, host: 'abc.example.com', serverName: 'abc.example.com' };
      expect(await attempt(check(https, { backendServerName: 'abc.example.com' }), target)).toBeUndefined();
      expect(await attempt(check(https, { backendServerName: 'other.example.com' }), target)).toBe('backend saw SNI "abc.example.com", want "other.example.com"');
      expect(await attempt(check({ host: 'abc.example.com' }, { backendServerName: 'abc.example.com' }), { address: '127.0.0.1', port: echo.port })).toBe('backend was reached without TLS, want TLS with SNI "abc.example.com"');
    } finally {
      await tlsEcho.close();
    }
  });

  it('dials the listener port a check names instead of the Gateway\'s first', async () => {
    const wrongPort = { address: '127.0.0.1', port: 1 };
    expect(await attempt(check({ port: echo.port, host: 'foo.com' }), wrongPort)).toBeUndefined();
    expect(await attempt(check({ host: 'foo.com' }), wrongPort)).toMatch(/^request failed/);
  });
});

describe('the backend-header loop (per-backend filters apply only to the chosen backend)', () => {
  let server: http.Server;
  let answers: Array<{ pod: string; headers: Record<string, string[]> }> = [];
  beforeAll(async () => {
    let i = 0;
    server = http.createServer((_req, res) => res.end(JSON.stringify(answers[i++ % answers.length])));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  const target = (): { address: string; port: number } => ({ address: '127.0.0.1', port: (server.address() as AddressInfo).port });
  const loop = { requests: 4, path: '/', header: 'Backend' };

  it('passes when every answer comes from a pod of the backend its one Backend header names', async () => {
    answers = [
      { pod: 'infra-backend-v1-a-b', headers: { Backend: ['infra-backend-v1'] } },
      { pod: 'infra-backend-v2-a-b', headers: { Backend: ['infra-backend-v2'] } },
    ];
    expect(await backendHeaderLoop(target(), loop)).toBeUndefined();
  });

  it('fails on a header set by the other backend\'s filter, or set twice', async () => {
    answers = [{ pod: 'infra-backend-v1-a-b', headers: { Backend: ['infra-backend-v2'] } }];
    expect(await backendHeaderLoop(target(), loop)).toBe('request 1 of 4: answered by pod "infra-backend-v1-a-b", but its Backend header says "infra-backend-v2"');
    answers = [{ pod: 'infra-backend-v1-a-b', headers: { Backend: ['infra-backend-v1', 'infra-backend-v2'] } }];
    expect(await backendHeaderLoop(target(), loop)).toBe('request 1 of 4: backend saw 2 Backend headers (["infra-backend-v1","infra-backend-v2"]), want exactly one');
  });
});

describe('backend logs for the mirror tests', () => {
  it('files the agent\'s pod output by namespace and pod, with the time it arrived', () => {
    let now = 1_000;
    const logs = new PodLogs(() => now);
    expect(logs.record(`[pod ${INFRA}/infra-backend-v2-abc-def] Echoing back request made to /mirror?id=1 to client (127.0.0.1:5000)`)).toBe(true);
    now = 2_000;
    logs.record(`[pod ${INFRA}/infra-backend-v3-abc-def] Echoing back request made to /mirror?id=1 to client (127.0.0.1:5001)`);
    expect(logs.record('[agent] warn: something')).toBe(false);
    expect(logs.since(0, INFRA, (pod) => pod.startsWith('infra-backend-v2-')).map((l) => l.text)).toEqual(['Echoing back request made to /mirror?id=1 to client (127.0.0.1:5000)']);
    expect(logs.since(1_500, INFRA, () => true).map((l) => l.pod)).toEqual(['infra-backend-v3-abc-def']);
    expect(logs.since(0, 'other', () => true)).toEqual([]);
  });

  it('the echo backend prints the line the upstream mirror check looks for, once per request', async () => {
    const lines: string[] = [];
    const echo = await startEchoServer({ host: '127.0.0.1', port: 0, requestLog: (line) => lines.push(line) });
    try {
      const target = { address: '127.0.0.1', port: echo.port };
      expect(await mirrorRound(target, '/percent-mirror?gateway-api-conformance-request-id=r1', {}, { requests: 6, concurrency: 3 })).toBeUndefined();
      expect(lines).toHaveLength(6);
      for (const line of lines) expect(line).toMatch(/^Echoing back request made to \/percent-mirror\?gateway-api-conformance-request-id=r1 to client \(127\.0\.0\.1:\d+\)$/);
    } finally {
      await echo.close();
    }
  });

  it('a percentage mirror passes within 3 standard deviations of the binomial mean, as upstream', () => {
    // 500 requests at 20%: mean 100, 3σ = 26.8.
    expect(mirrorCountProblem(100, 500, 0.2)).toBeUndefined();
    expect(mirrorCountProblem(126, 500, 0.2)).toBeUndefined();
    expect(mirrorCountProblem(127, 500, 0.2)).toBe('127 of 500 requests mirrored, want 100 ± 26.8 (20%)');
    expect(mirrorCountProblem(0, 500, 0.5)).toBe('0 of 500 requests mirrored, want 250 ± 33.5 (50%)');
  });
});

describe('status phrasings added for the GATEWAY-HTTP set', () => {
  const gateway = (name: string, listeners: unknown[], extra: object = {}): KubeObject => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name, namespace: INFRA }, spec: { listeners, ...extra } });
  const route = (name: string, parentRefs: unknown[]): KubeObject => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: INFRA }, spec: { parentRefs } });

  it('keeps a note with a "+" in it whole, and reads "that gateway has zero attached routes"', () => {
    const objects = [gateway('gw', [{ name: 'http', port: 80 }]), route('r', [{ name: 'gw', sectionName: 'http', port: 81 }])];
    const parsed = parseStatusChecks(['route (parentRef sectionName http + port 81 on gw): Accepted=False reason NoMatchingParent', 'that gateway has zero attached routes'], objects);
    expect(parsed.filter(isUnsupportedStatus)).toEqual([]);
    expect(parsed).toEqual([
      expect.objectContaining({ route: { namespace: INFRA, name: 'r' }, conditions: [{ type: 'Accepted', status: 'False', reason: 'NoMatchingParent' }] }),
      expect.objectContaining({ zeroAttachedRoutes: { namespace: INFRA, name: 'gw' } }),
    ]);
  });

  it('reads "for each gateway: all N routes …" as every route on each of its Gateways', () => {
    const objects = [gateway('g1', [{ name: 'http' }]), gateway('g2', [{ name: 'http' }]), route('r1', [{ name: 'g1' }]), route('r2', [{ name: 'g2' }])];
    const parsed = parseStatusChecks(['for each gateway: all 1 routes Accepted + ResolvedRefs=True'], objects);
    expect(parsed.map((p) => ('route' in p ? [p.route.name, p.parent.name, p.conditions[0].type] : p))).toEqual([
      ['r1', 'g1', 'Accepted'],
      ['r2', 'g2', 'Accepted'],
      ['r1', 'g1', 'ResolvedRefs'],
      ['r2', 'g2', 'ResolvedRefs'],
    ]);
    // A count that does not match the manifests is not guessed at.
    expect(parseStatusChecks(['for each gateway: all 4 routes Accepted'], objects).every(isUnsupportedStatus)).toBe(true);
  });

  it('reads "listeners exactly [a attachedRoutes 0, b attachedRoutes 1], each …" as per-listener assertions', () => {
    const objects = [gateway('two', [{ name: 'a' }, { name: 'b' }])];
    const parsed = parseStatusChecks(['two: listeners exactly [a attachedRoutes 0, b attachedRoutes 1], each supportedKinds HTTPRoute, Accepted=True, ResolvedRefs=True (note)'], objects);
    expect(parsed).toEqual([
      expect.objectContaining({ listenersOf: { namespace: INFRA, name: 'two' }, count: 2 }),
      expect.objectContaining({ listener: 'a', attachedRoutes: 0, supportedKinds: ['HTTPRoute'], conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }] }),
      expect.objectContaining({ listener: 'b', attachedRoutes: 1 }),
    ]);
  });

  it('reads the latest-conditions and typed-address phrasings of GatewayNameMaximumLength and GatewayOptionalAddressValue', () => {
    const objects = [gateway('g', [{ name: 'http' }], { addresses: [{ type: 'IPAddress' }] })];
    expect(parseStatusChecks(["Gateway with a 253-character name (prefix + 'a' padding): all status conditions have observedGeneration == generation (values not checked)"], objects)).toEqual([
      expect.objectContaining({ gateway: { namespace: INFRA, name: 'g' }, conditions: [], allConditionsCurrent: true }),
    ]);
    expect(parseStatusChecks(['g (spec.addresses entry with a type but no value) conditions at latest generation; status.addresses gets at least one entry with a type set'], objects)).toEqual([
      expect.objectContaining({ gateway: { namespace: INFRA, name: 'g' }, allConditionsCurrent: true }),
      expect.objectContaining({ gatewayAddress: { namespace: INFRA, name: 'g' } }),
    ]);
  });
});
