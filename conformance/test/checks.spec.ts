import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEchoServer, type EchoServer } from '@tendril/testing';
import { normaliseChecks, type HttpCheck } from '../src';
import { attempt, backendOfPod, eventuallyConsistent, weightedDistribution } from '../src/traffic';

describe('normaliseChecks: inventory.json expectations into one shape', () => {
  it('reads {request, expect} objects with defaults (GET, status 200) and strips parenthesised notes', () => {
    const [check] = normaliseChecks([
      { request: { path: '/add', headers: { 'X-Header-Add': 'some-other-value' } }, expect: { requestHeadersSeenByBackend: { 'X-Header-Add': 'some-other-value,add-appends-values (values joined with ",")' } } },
    ]);
    expect(check).toMatchObject({
      request: { path: '/add', method: 'GET', headers: { 'X-Header-Add': 'some-other-value' } },
      expect: { status: [200], requestHeadersSeenByBackend: { 'X-Header-Add': 'some-other-value,add-appends-values' } },
    });
  });

  it('reads [host, path, backend-or-status] case tuples, and a group naming a gateway sends its cases there', () => {
    const checks = normaliseChecks([
      { group: 'route s1', cases: [['very.specific.com:1234', '/s1', 'infra-backend-v1 (port in Host header ignored for matching)'], ['non.matching.com', '/s1', 404]] },
      { group: 'gateway httproute-hostname-intersection-all (listener without hostname) + route', cases: [['first.com', '/', 'infra-backend-v2']] },
    ]) as HttpCheck[];
    expect(checks.map((c) => [c.gateway, c.request.host, c.expect.status, c.expect.backend])).toEqual([
      [undefined, 'very.specific.com:1234', [200], 'infra-backend-v1'],
      [undefined, 'non.matching.com', [404], undefined],
      ['httproute-hostname-intersection-all', 'first.com', [200], 'infra-backend-v2'],
    ]);
  });

  it('reads request fields given at the top level and a bare string expectation as the backend', () => {
    const [check] = normaliseChecks([{ path: '/', headers: { Version: 'one' }, expect: 'echo-v1' }]) as HttpCheck[];
    expect(check).toMatchObject({ request: { path: '/', headers: { Version: 'one' } }, expect: { status: [200], backend: 'echo-v1' } });
  });

  it('marks what it cannot execute as plain HTTP/1.1 (distributions, placeholders, other protocols) unsupported instead of guessing', () => {
    const checks = normaliseChecks([
      { distribution: '500 requests', note: 'x' },
      { path: '/retry', query: 'uuid=<new>', expect: { status: 200 } },
      { request: { path: '/', protocol: 'HTTP/2 cleartext' }, expect: { status: 200 } },
      { path: '/', expect: { status: 200, backendSNI: 'abc.example.com' } },
    ]);
    expect(checks.map((c) => 'unsupported' in c)).toEqual([true, true, true, true]);
    expect(checks[1]).toEqual({ unsupported: expect.stringContaining('query in') });
  });
});

describe('traffic checks against an echo backend', () => {
  let echo: EchoServer;
  beforeAll(async () => {
    echo = await startEchoServer({ host: '127.0.0.1', port: 0, pod: 'infra-backend-v1-7d9f-abc12', namespace: 'gateway-conformance-infra' });
  });
  afterAll(() => echo.close());

  const check = (expect: Partial<HttpCheck['expect']>, headers: Record<string, string> = {}): HttpCheck => ({
    label: 'GET /x',
    request: { path: '/x?a=1', method: 'GET', headers, backendSetsResponseHeaders: {} },
    expect: { status: [200], requestHeadersSeenByBackend: {}, absentRequestHeaders: [], responseHeaders: {}, absentResponseHeaders: [], ...expect },
  });

  it('passes when status, pod prefix, namespace, path and headers match', async () => {
    const target = { address: '127.0.0.1', port: echo.port };
    await expect(attempt(check({ backend: 'infra-backend-v1', namespace: 'gateway-conformance-infra', requestHeadersSeenByBackend: { version: 'one' } }, { Version: 'one' }), target)).resolves.toBeUndefined();
  });

  it('says what differs when the response does not match', async () => {
    const target = { address: '127.0.0.1', port: echo.port };
    const failure = await attempt(check({ backend: 'infra-backend-v2', absentRequestHeaders: ['Version'] }, { Version: 'one' }), target);
    expect(failure).toContain('answered by pod "infra-backend-v1-7d9f-abc12", want infra-backend-v2-…');
    expect(failure).toContain('backend saw header Version, want it removed');
    expect(await attempt(check({ status: [404] }), target)).toBe('status 200, want 404');
  });

  it('gives up after the consistency window with the last failure', async () => {
    const rules = { requiredConsecutiveSuccesses: 3, maxTimeToConsistencyMs: 300, pollIntervalMs: 100, requestTimeoutMs: 1_000 };
    const failure = await eventuallyConsistent(check({ status: [404] }), () => ({ address: '127.0.0.1', port: echo.port }), rules);
    expect(failure).toBe('GET /x: status 200, want 404 (not consistent within 0.3s)');
  });

  it('weighted traffic: a backend that should get half the requests but gets none fails the distribution', async () => {
    const target = { address: '127.0.0.1', port: echo.port };
    const settings = { requests: 20, concurrency: 4, tolerance: 0.05, attempts: 2 };
    expect(await weightedDistribution(target, '/', { 'infra-backend-v1': 1 }, undefined, settings)).toBeUndefined();
    expect(await weightedDistribution(target, '/', { 'infra-backend-v1': 0.5, 'infra-backend-v2': 0.5 }, undefined, settings)).toBe(
      'traffic distribution after 2 rounds of 20 requests: infra-backend-v1 got 100.0%, want 50%; infra-backend-v2 got 0.0%, want 50%',
    );
    expect(await weightedDistribution(target, '/', { 'infra-backend-v1': 0, other: 1 }, undefined, settings)).toContain('infra-backend-v1 got 100.0%, want 0%');
  });

  it('names a pod\'s backend as the upstream suite does: without the last two segments', () => {
    expect(backendOfPod('infra-backend-v1-7d9f-abc12')).toBe('infra-backend-v1');
  });
});

describe('redirect checks: the Location header as the upstream suite compares it', () => {
  let server: http.Server;
  let port = 0;
  beforeAll(async () => {
    // Answers 302 with the Location given in the request's x-location header.
    server = http.createServer((req, res) => res.writeHead(302, { location: String(req.headers['x-location']) }).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const redirectTo = async (location: string, redirect: Record<string, string>): Promise<string | undefined> => {
    const [check] = normaliseChecks([{ request: { path: '/p', headers: { 'x-location': location } }, expect: { status: 302, redirect } }]) as HttpCheck[];
    return attempt(check, { address: '127.0.0.1', port });
  };

  it('takes the request path and scheme as defaults and allows the default port, written or not', async () => {
    await expect(redirectTo('http://example.org/p', { host: 'example.org', port: '80 or absent' })).resolves.toBeUndefined();
    await expect(redirectTo('http://example.org:80/p', { host: 'unchanged (gateway host)' })).resolves.toBeUndefined();
    await expect(redirectTo('https://example.org/p', { scheme: 'https', port: '443 or absent' })).resolves.toBeUndefined();
  });

  it('reports each part that differs', async () => {
    expect(await redirectTo('https://other.org:8443/q', { host: 'example.org', port: '8083' })).toBe(
      'Location https://other.org:8443/q: scheme https, want http, host other.org, want example.org, port 8443, want 8083, path /q, want /p',
    );
    expect(await redirectTo('http://example.org:8080/p', {})).toBe('Location http://example.org:8080/p: port 8080, want none or 80');
  });
});

