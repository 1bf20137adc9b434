import { request } from 'undici';
import { eventually, freePort, startEchoServer, type EchoResponse, type EchoServer } from '@tendril/testing';
import { baseConfig, featureRoutes, sectionRoutes } from './e2e-config';
import { Node, tendril } from './harness';

jest.setTimeout(60_000);

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  echo?: EchoResponse;
}

describe('agent + node proxy, end to end through real processes', () => {
  const mirrored: EchoResponse[] = [];
  let backends: Record<string, EchoServer>;
  let node: Node;
  let gatewayPort: number;
  let portA: number;
  let portB: number;

  async function get(path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const res = await request(`http://127.0.0.1:${gatewayPort}${path}`, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers });
    const text = await res.body.text();
    const isJson = String(res.headers['content-type'] ?? '').includes('application/json');
    return { status: res.statusCode, headers: res.headers, echo: isJson ? (JSON.parse(text) as EchoResponse) : undefined };
  }

  beforeAll(async () => {
    backends = {
      v1: await startEchoServer({ pod: 'v1-pod', namespace: 'default' }),
      v2: await startEchoServer({ pod: 'v2-pod', namespace: 'default' }),
      mirror: await startEchoServer({ pod: 'mirror-pod', namespace: 'default', onRequest: (e) => mirrored.push(e) }),
      granted: await startEchoServer({ pod: 'granted-pod', namespace: 'other' }),
      'not-granted': await startEchoServer({ pod: 'not-granted-pod', namespace: 'other' }),
    };
    gatewayPort = await freePort();
    const closedPort = await freePort();
    portA = await freePort();
    portB = await freePort();
    const ports = Object.fromEntries(Object.entries(backends).map(([n, s]) => [n, { port: s.port, namespace: n.includes('granted') ? 'other' : undefined }]));
    node = await Node.create({
      'base.yaml': baseConfig({ gatewayPort, backends: { ...ports, down: { port: closedPort } } }),
      'routes.yaml': featureRoutes,
      'sections.yaml': sectionRoutes(portA, portB),
    });
    await node.startAgent();
    await node.startProxy();
    await eventually(async () => expect((await get('/exact')).status).toBe(200), 10_000);
  });

  afterAll(async () => {
    await node?.stop();
    await Promise.all(Object.values(backends ?? {}).map((b) => b.close()));
  });

  const pod = async (path: string, opts?: Parameters<typeof get>[1]): Promise<string | number> => {
    const r = await get(path, opts);
    return r.echo?.pod ?? r.status;
  };

  it('matches exact paths, segment-aware prefixes and regular expressions', async () => {
    expect(await pod('/exact')).toBe('v1-pod');
    expect(await pod('/exact/more')).toBe(404);
    expect(await pod('/prefix')).toBe('v2-pod');
    expect(await pod('/prefix/deeper')).toBe('v2-pod');
    expect(await pod('/prefixnot')).toBe(404);
    expect(await pod('/regex/123')).toBe('v1-pod');
    expect(await pod('/regex/abc')).toBe(404);
  });

  it('matches headers, query parameters and methods, more specific rules first', async () => {
    expect(await pod('/hdr', { headers: { 'x-env': 'canary' } })).toBe('v2-pod');
    expect(await pod('/hdr')).toBe('v1-pod');
    expect(await pod('/query?version=2')).toBe('v2-pod');
    expect(await pod('/query?version=3')).toBe('v1-pod');
    expect(await pod('/method', { method: 'POST' })).toBe('v2-pod');
    expect(await pod('/method')).toBe('v1-pod');
  });

  it('attaches routes to the listener a parentRef names by sectionName or port, and to several parents', async () => {
    const at = async (port: number, path: string): Promise<string | number> => {
      const res = await request(`http://127.0.0.1:${port}${path}`);
      const text = await res.body.text();
      return res.statusCode === 200 ? (JSON.parse(text) as EchoResponse).pod : res.statusCode;
    };
    expect(await at(portB, '/section')).toBe('v2-pod');
    expect(await at(portA, '/section')).toBe(404);
    expect(await at(portA, '/by-port')).toBe('v1-pod');
    expect(await at(portB, '/by-port')).toBe(404);
    expect(await at(gatewayPort, '/by-port')).toBe('v1-pod');
  });

  it('serves a route only for its hostnames', async () => {
    expect(await pod('/host', { headers: { host: 'foo.example.com' } })).toBe('v2-pod');
    expect(await pod('/host', { headers: { host: 'bar.example.com' } })).toBe(404);
  });

  it('modifies request and response headers', async () => {
    const r = await get('/reqhdr', { headers: { 'x-set': 'original', 'x-add': 'first', 'x-remove': 'gone' } });
    expect(r.echo?.headers['X-Set']).toEqual(['set-value 50%']);
    expect(r.echo?.headers['X-Add']).toEqual(['first', 'added']);
    expect(r.echo?.headers['X-Remove']).toBeUndefined();
    const resp = await get('/resphdr');
    expect(resp.headers['x-resp']).toBe('yes');
  });

  it('redirects and rewrites', async () => {
    const redirect = await get('/redirect/page');
    expect(redirect.status).toBe(302);
    // No port in the filter: the Gateway API spec keeps the listener's port.
    expect(redirect.headers['location']).toBe(`http://redirect.example.com:${gatewayPort}/redirect/page`);
    const rewrite = await get('/rewrite/old/page');
    expect(rewrite.echo).toMatchObject({ path: '/new/old/page', host: 'rewritten.example.com' });
  });

  it('mirrors requests to a second backend and never sends traffic to a zero weight', async () => {
    mirrored.length = 0;
    expect(await pod('/mirror/copy-me')).toBe('v1-pod');
    await eventually(() => expect(mirrored.map((m) => m.path)).toContain('/mirror/copy-me'));
    for (let i = 0; i < 20; i++) expect(await pod('/weights')).toBe('v2-pod');
  });

  it('answers as Envoy does: 504 on timeout, 503 when the upstream is down, 500 for invalid backends', async () => {
    expect((await get('/timeout', { headers: { 'x-echo-delay-ms': '2000' } })).status).toBe(504);
    expect((await get('/timeout')).status).toBe(200);
    expect((await get('/down')).status).toBe(503);
    expect((await get('/missing')).status).toBe(500);
    expect(await pod('/granted')).toBe('granted-pod');
    expect((await get('/not-granted')).status).toBe(500);
  });

  it('reports route status through `tendril get`, as kubectl would', async () => {
    const out = await tendril(['get', 'httproute', 'missing-backend', '-o', 'json', '--agent', node.adminAddress]);
    expect(out.code).toBe(0);
    const route = JSON.parse(out.stdout) as { status: { parents: Array<{ conditions: Array<{ type: string; status: string; reason: string; lastTransitionTime: string }> }> } };
    const conditions = route.status.parents[0].conditions;
    for (const c of conditions) expect(c.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Accepted', status: 'True' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound' })]));
    const crossNs = JSON.parse((await tendril(['get', 'httproutes', 'cross-namespace', '-o', 'json', '--agent', node.adminAddress])).stdout);
    expect(JSON.stringify(crossNs.status)).toContain('RefNotPermitted');
    const table = await tendril(['get', 'gateways', 'gw', '--agent', node.adminAddress]);
    expect(table.stdout).toMatch(/^NAME\s+CLASS\s+ADDRESS\s+PROGRAMMED\s+AGE\ngw\s+tendril\s+127\.0\.0\.1\s+True\s+\d+s\n$/);
    // The class lists the features tendril passes conformance for, as the upstream suite reads them.
    const gatewayClass = JSON.parse((await tendril(['get', 'gatewayclass', 'tendril', '-o', 'json', '--agent', node.adminAddress])).stdout) as { status?: { supportedFeatures?: Array<{ name: string }> } };
    const features = gatewayClass.status?.supportedFeatures?.map((f) => f.name) ?? [];
    expect(features).toEqual(expect.arrayContaining(['Gateway', 'HTTPRoute', 'HTTPRouteRetry', 'ReferenceGrant']));
  });
});
