import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Condition, KubeObject } from '@tendril/api-k8s';
import { startEchoServer, type EchoServer } from '@tendril/testing';
import { normaliseChecks, SUPPORTED_MESH_TESTS, SUPPORTED_TESTS, Suite, type HttpCheck } from '../src';
import { SUPPORTED_FEATURES } from '@tendril/gateway';
import { attemptPath } from '../src/checks';
import { RUNTIME_PROCEDURES } from '../src/procedures';
import { evaluateStatus, isUnsupportedStatus, parseStatusChecks, statusEventually, type StatusAssertion, type StatusSource } from '../src/status-checks';
import { attempt, backendOfPod, eventuallyConsistent, httpPodSampler, weightedDistribution } from '../src/traffic';

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
      { path: '/', cookies: 'a=<previous>', expect: { status: 200 } },
      { request: { path: '/', protocol: 'HTTP/2 cleartext' }, expect: { status: 200 } },
      { path: '/', expect: { status: 200, backendCertificate: 'x' } },
    ]);
    expect(checks.map((c) => 'unsupported' in c)).toEqual([true, true, true, true]);
    expect(checks[1]).toEqual({ unsupported: expect.stringContaining('cookies in') });
  });

  it('reads backendSNI as the server name the backend must see on the TLS connection from the Gateway', () => {
    const [check] = normaliseChecks([{ request: { host: 'abc.example.com', path: '/b' }, expect: { status: 200, backendSNI: 'other.example.com (policy hostname)' } }]) as HttpCheck[];
    expect(check.expect.backendServerName).toBe('other.example.com');
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
    expect(await weightedDistribution(httpPodSampler(target, '/'), { 'infra-backend-v1': 1 }, settings)).toBeUndefined();
    expect(await weightedDistribution(httpPodSampler(target, '/'), { 'infra-backend-v1': 0.5, 'infra-backend-v2': 0.5 }, settings)).toBe(
      'traffic distribution after 2 rounds of 20 requests: infra-backend-v1 got 100.0%, want 50%; infra-backend-v2 got 0.0%, want 50%',
    );
    expect(await weightedDistribution(httpPodSampler(target, '/'), { 'infra-backend-v1': 0, other: 1 }, settings)).toContain('infra-backend-v1 got 100.0%, want 0%');
  });

  it('retry checks: a fresh uuid per attempt, so each probe of the echo backend\'s retry simulation starts over', async () => {
    const [retry] = normaliseChecks([{ path: '/retry/x', query: 'responseCode=500&succeedAfter=1', expect: { status: 500 } }]) as HttpCheck[];
    expect(retry.request.query).toBe('responseCode=500&succeedAfter=1');
    const paths = new Set([attemptPath(retry.request, randomUUID), attemptPath(retry.request, randomUUID)]);
    expect(paths.size).toBe(2);
    for (const p of paths) expect(p).toMatch(/^\/retry\/x\?responseCode=500&succeedAfter=1&uuid=[0-9a-f-]{36}$/);
    expect(attemptPath({ ...retry.request, query: 'a=<new>&b=1' }, () => 'u1')).toBe('/retry/x?a=u1&b=1');
    // Without a proxy retrying, every attempt (a new uuid) fails once: the check holds for 500, never for 200.
    const target = { address: '127.0.0.1', port: echo.port };
    expect(await attempt(retry, target)).toBeUndefined();
    expect(await attempt(retry, target)).toBeUndefined();
    expect(await attempt({ ...retry, expect: { ...retry.expect, status: [200] } }, target)).toBe('status 500, want 200');
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


describe('status checks: inventory.json statusChecks read and asserted as the upstream helpers do', () => {
  const CONTROLLER = 'tendril.io/gateway-controller';
  const NS = 'gateway-conformance-infra';
  const route: KubeObject = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'invalid-backend-ref-unknown-kind', namespace: NS },
    spec: { parentRefs: [{ name: 'same-namespace' }] },
  };
  const condition = (type: string, status: 'True' | 'False', reason: string, observedGeneration = 1): Condition => ({
    type,
    status,
    reason,
    message: '',
    observedGeneration,
    lastTransitionTime: '2026-01-01T00:00:00Z',
  });
  const routeWith = (conditions: Condition[], parentRef: Record<string, string> = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: NS, name: 'same-namespace' }): KubeObject => ({
    ...route,
    metadata: { ...route.metadata, generation: 1 },
    status: { parents: [{ parentRef, controllerName: CONTROLLER, conditions }] },
  });
  const sourceOf = (...objects: KubeObject[]): StatusSource => (kind, namespace, name) => objects.find((o) => o.kind === kind && o.metadata.namespace === namespace && o.metadata.name === name);
  const [accepted, invalidKind] = parseStatusChecks(['route Accepted on same-namespace', 'route ResolvedRefs=False reason InvalidKind'], [route]) as StatusAssertion[];

  it('reads the upstream phrasings into assertions on the test\'s route, its Gateway parentRef and that Gateway\'s listeners', () => {
    const parsed = parseStatusChecks(
      ['Gateway same-namespace (gateway-conformance-infra) must have an address; route Accepted=True(reason Accepted) for the gateway parentRef; every listener ResolvedRefs=True, Accepted=True, Programmed=True'],
      [route],
    );
    const gateway = { namespace: NS, name: 'same-namespace' };
    expect(parsed.map((p) => ({ ...p, clause: undefined }))).toEqual([
      { clause: undefined, gatewayAddress: gateway },
      { clause: undefined, route: { namespace: NS, name: route.metadata.name }, routeKind: 'HTTPRoute', parent: gateway, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted' }] },
      {
        clause: undefined,
        listenersOf: gateway,
        conditions: [
          { type: 'ResolvedRefs', status: 'True' },
          { type: 'Accepted', status: 'True' },
          { type: 'Programmed', status: 'True' },
        ],
      },
    ]);
  });

  it('reports a phrasing it cannot read as unsupported, clause by clause, instead of passing it', () => {
    const parsed = parseStatusChecks(['route Accepted on same-namespace; GatewayClass has supportedFeatures sorted'], [route]);
    expect(parsed.filter(isUnsupportedStatus)).toEqual([{ unsupportedStatus: 'GatewayClass has supportedFeatures sorted' }]);
    expect(parseStatusChecks(['route no-such-route Accepted=True'], [route]).every(isUnsupportedStatus)).toBe(true);
  });

  it('passes when the route parent entry has the condition with the expected status and reason', () => {
    const source = sourceOf(routeWith([condition('Accepted', 'True', 'Accepted'), condition('ResolvedRefs', 'False', 'InvalidKind')]));
    expect(evaluateStatus(accepted, source, CONTROLLER)).toBeUndefined();
    expect(evaluateStatus(invalidKind, source, CONTROLLER)).toBeUndefined();
  });

  it('fails naming the object, the condition, what was expected and what it has', () => {
    const wrongReason = sourceOf(routeWith([condition('Accepted', 'True', 'Accepted'), condition('ResolvedRefs', 'False', 'BackendNotFound')]));
    expect(evaluateStatus(invalidKind, wrongReason, CONTROLLER)).toBe(
      `HTTPRoute ${NS}/invalid-backend-ref-unknown-kind parent Gateway ${NS}/same-namespace: condition ResolvedRefs: want ResolvedRefs=False reason InvalidKind, got ResolvedRefs=False reason BackendNotFound`,
    );
    const absent = sourceOf(routeWith([condition('Accepted', 'True', 'Accepted')]));
    expect(evaluateStatus(invalidKind, absent, CONTROLLER)).toBe(
      `HTTPRoute ${NS}/invalid-backend-ref-unknown-kind parent Gateway ${NS}/same-namespace: condition ResolvedRefs: want ResolvedRefs=False reason InvalidKind, got none (conditions: Accepted)`,
    );
    const stale = sourceOf(routeWith([condition('Accepted', 'True', 'Accepted', 0)]));
    expect(evaluateStatus(accepted, stale, CONTROLLER)).toContain('condition Accepted: observedGeneration 0, want metadata.generation 1');
  });

  it('wants the parent entry to spell out group and kind and carry the controller name, as upstream compares them', () => {
    const implicitGroup = sourceOf(routeWith([condition('Accepted', 'True', 'Accepted')], { name: 'same-namespace' }));
    expect(evaluateStatus(accepted, implicitGroup, CONTROLLER)).toContain('no status.parents entry with controllerName tendril.io/gateway-controller, group gateway.networking.k8s.io, kind Gateway');
    expect(evaluateStatus(accepted, sourceOf(routeWith([condition('Accepted', 'True', 'Accepted')])), 'other.io/controller')).toContain('no status.parents entry');
    expect(evaluateStatus(accepted, sourceOf(), CONTROLLER)).toBe(`HTTPRoute ${NS}/invalid-backend-ref-unknown-kind not found`);
  });

  it('checks listener count, attachedRoutes and conditions of the Gateway', () => {
    const [listeners] = parseStatusChecks(['Gateway status listeners exactly 2: l1 attachedRoutes=1, l2 attachedRoutes=0; each supportedKinds includes HTTPRoute; Accepted=True'], [
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: NS }, spec: { listeners: [{ name: 'l1' }, { name: 'l2' }] } },
    ]) as StatusAssertion[];
    const listener = (name: string, attachedRoutes: number): object => ({ name, attachedRoutes, supportedKinds: [{ kind: 'HTTPRoute' }], conditions: [condition('Accepted', 'True', 'Accepted')] });
    const gateway = (status: object[]): KubeObject => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: NS, generation: 1 }, spec: { listeners: [{ name: 'l1' }, { name: 'l2' }] }, status: { listeners: status } });
    expect(evaluateStatus(listeners, sourceOf(gateway([listener('l1', 1), listener('l2', 0)])), CONTROLLER)).toBeUndefined();
    expect(evaluateStatus(listeners, sourceOf(gateway([listener('l1', 2), listener('l2', 0)])), CONTROLLER)).toBe(`Gateway ${NS}/gw listener l1: attachedRoutes 2, want 1`);
    expect(evaluateStatus(listeners, sourceOf(gateway([listener('l1', 1)])), CONTROLLER)).toBe(`Gateway ${NS}/gw: 1 listeners in status, want 2`);
  });

  it('reads a statement about one Gateway (its conditions, "listeners exactly [...]") and checks each listener', () => {
    const gw: KubeObject = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: NS }, spec: { listeners: [{ name: 'http' }, { name: 'invalid' }] } };
    const parsed = parseStatusChecks(
      ['gw (http + invalid): Gateway Accepted=True reason ListenersNotValid; listeners exactly [http: supportedKinds includes HTTPRoute, attachedRoutes 0; invalid: supportedKinds EMPTY, Accepted=False reason UnsupportedProtocol]'],
      [gw],
    ) as StatusAssertion[];
    expect(parsed.filter(isUnsupportedStatus)).toEqual([]);
    const listener = (name: string, kinds: string[], accepted: Condition): object => ({ name, attachedRoutes: 0, supportedKinds: kinds.map((kind) => ({ kind })), conditions: [accepted] });
    const withStatus = (listeners: object[]): StatusSource =>
      sourceOf({ ...gw, metadata: { ...gw.metadata, generation: 1 }, status: { conditions: [condition('Accepted', 'True', 'ListenersNotValid')], listeners } });
    const good = withStatus([listener('http', ['HTTPRoute'], condition('Accepted', 'True', 'Accepted')), listener('invalid', [], condition('Accepted', 'False', 'UnsupportedProtocol'))]);
    expect(parsed.map((a) => evaluateStatus(a, good, CONTROLLER))).toEqual(parsed.map(() => undefined));
    const bad = withStatus([listener('http', ['HTTPRoute'], condition('Accepted', 'True', 'Accepted')), listener('invalid', ['HTTPRoute'], condition('Accepted', 'True', 'Accepted'))]);
    expect(parsed.map((a) => evaluateStatus(a, bad, CONTROLLER)).filter(Boolean)).toEqual([`Gateway ${NS}/gw listener invalid: supportedKinds [HTTPRoute], want none`]);
  });

  it('"no accepted parents": no parent entry, or one with Accepted=False; and a Gateway with zero attached routes', () => {
    const [notAttached] = parseStatusChecks(['no accepted parents'], [route]) as StatusAssertion[];
    expect(evaluateStatus(notAttached, sourceOf({ ...route, status: { parents: [] } }), CONTROLLER)).toBeUndefined();
    expect(evaluateStatus(notAttached, sourceOf(routeWith([condition('Accepted', 'False', 'NoMatchingParent')])), CONTROLLER)).toBeUndefined();
    expect(evaluateStatus(notAttached, sourceOf(routeWith([condition('Accepted', 'True', 'Accepted')])), CONTROLLER)).toBe(
      `HTTPRoute ${NS}/invalid-backend-ref-unknown-kind: parent same-namespace Accepted=True, want no parents or one with Accepted=False`,
    );
    const [zero] = parseStatusChecks(['Gateway same-namespace zero attached routes'], [route]) as StatusAssertion[];
    const gateway = (attachedRoutes: number): KubeObject => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'same-namespace', namespace: NS }, status: { listeners: [{ name: 'http', attachedRoutes }] } });
    expect(evaluateStatus(zero, sourceOf(gateway(0)), CONTROLLER)).toBeUndefined();
    expect(evaluateStatus(zero, sourceOf(gateway(1)), CONTROLLER)).toBe(`Gateway ${NS}/same-namespace: listener http attachedRoutes 1, want 0`);
  });

  it('polls until the status holds (eventual consistency), and gives up after the timeout with the last difference', async () => {
    const timeouts = { gatewayMs: 300, listenerMs: 300, routeMs: 300, pollIntervalMs: 20 };
    let current = routeWith([condition('Accepted', 'False', 'Pending')]);
    setTimeout(() => (current = routeWith([condition('Accepted', 'True', 'Accepted')])), 100);
    await expect(statusEventually(accepted, () => current, CONTROLLER, timeouts)).resolves.toBeUndefined();
    expect(await statusEventually(invalidKind, () => current, CONTROLLER, timeouts)).toBe(
      `status "route ResolvedRefs=False reason InvalidKind": HTTPRoute ${NS}/invalid-backend-ref-unknown-kind parent Gateway ${NS}/same-namespace: condition ResolvedRefs: want ResolvedRefs=False reason InvalidKind, got none (conditions: Accepted) (not within 0.3s)`,
    );
  });

  it('reads every status check of the supported tests (none is left unasserted; procedures assert their own)', () => {
    const suite = new Suite();
    if (!suite.available) return;
    const subs = { gatewayClassName: 'tendril-conformance', controllerName: CONTROLLER };
    const unsupported = SUPPORTED_TESTS.filter((name) => !(name in RUNTIME_PROCEDURES)).flatMap((name) => {
      const test = suite.test(name);
      return parseStatusChecks(test.statusChecks ?? [], suite.testManifests(test, subs))
        .filter(isUnsupportedStatus)
        .map((c) => `${name}: ${c.unsupportedStatus}`);
    });
    expect(unsupported).toEqual([]);
  });

  it('the GatewayClass claims exactly the features of the tests CI runs, mesh tests included (SUPPORTED_FEATURES in libs/gateway)', () => {
    const suite = new Suite();
    if (!suite.available) return;
    const tested = [...new Set([...SUPPORTED_TESTS, ...SUPPORTED_MESH_TESTS].flatMap((name) => suite.test(name).features ?? []))].sort();
    expect([...SUPPORTED_FEATURES].sort()).toEqual(tested);
  });
});
