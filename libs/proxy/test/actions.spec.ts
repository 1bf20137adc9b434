import type { envoy } from '@tendril/api-envoy';
import type { EchoResponse, EchoServer } from '@tendril/testing';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { edsCluster, httpListener, loadAssignment, nodeRequest, ProxyHarness, routeConfig, toCluster, vhost } from './fixtures';

type Route = envoy.config.route.v3.Route;

describe('route actions', () => {
  const h = new ProxyHarness();
  let a: EchoServer;
  let b: EchoServer;

  beforeAll(async () => {
    a = await h.backend('a');
    b = await h.backend('b');
  });
  afterAll(() => h.close());

  const serve = (routes: Route[], extra: Partial<envoy.config.route.v3.RouteConfiguration> = {}, vhostExtra: Partial<envoy.config.route.v3.VirtualHost> = {}) =>
    h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], routes, vhostExtra)], extra)],
      clusters: [edsCluster('a'), edsCluster('b')],
      endpoints: [loadAssignment('a', [{ port: a.port }]), loadAssignment('b', [{ port: b.port }])],
    });

  it('prefix_rewrite replaces the matched prefix and keeps the query; x-envoy-original-path carries the original', async () => {
    await serve([toCluster('/old', 'a', {}, { prefix_rewrite: '/new' })]);
    const response = await h.request('/old/page?q=1');
    expect(response.echo.path).toBe('/new/page?q=1');
    expect(response.echo.headers['X-Envoy-Original-Path']).toEqual(['/old/page?q=1']);
  });

  it('regex_rewrite substitutes capture groups in the path', async () => {
    await serve([
      {
        match: { safe_regex: { regex: '/users/[0-9]+/.*' } },
        route: { cluster: 'a', regex_rewrite: { pattern: { regex: '^/users/([0-9]+)/(.*)$' }, substitution: '/u/\\2/\\1' } },
      },
    ]);
    expect((await h.request('/users/42/profile?x=y')).echo.path).toBe('/u/profile/42?x=y');
  });

  it('host_rewrite_literal sets the upstream Host', async () => {
    await serve([toCluster('/', 'a', {}, { host_rewrite_literal: 'internal.svc' })]);
    expect((await h.request('/', { headers: { host: 'public.example' } })).echo.host).toBe('internal.svc');
  });

  it('builds redirect Location like Envoy', async () => {
    await serve([
      { match: { prefix: '/https' }, redirect: { scheme_redirect: 'https' } },
      { match: { prefix: '/host' }, redirect: { host_redirect: 'new.example', response_code: 'FOUND' } },
      { match: { prefix: '/port' }, redirect: { port_redirect: 8443, response_code: 'SEE_OTHER' } },
      { match: { prefix: '/path' }, redirect: { path_redirect: '/elsewhere', response_code: 'TEMPORARY_REDIRECT' } },
      { match: { prefix: '/strip' }, redirect: { path_redirect: '/clean', strip_query: true, response_code: 'PERMANENT_REDIRECT' } },
      { match: { prefix: '/prefix' }, redirect: { prefix_rewrite: '/moved' } },
    ]);
    const redirect = async (path: string, host = 'shop.example:80') => {
      const response = await h.request(path, { headers: { host } });
      return [response.status, response.headers.location];
    };
    // The scheme changes to https, so the request's default http port 80 is dropped.
    expect(await redirect('/https/a?b=c')).toEqual([301, 'https://shop.example/https/a?b=c']);
    expect(await redirect('/https/a', 'shop.example:8080')).toEqual([301, 'https://shop.example:8080/https/a']);
    expect(await redirect('/host/x')).toEqual([302, 'http://new.example/host/x']);
    expect(await redirect('/port/x', 'shop.example:8080')).toEqual([303, 'http://shop.example:8443/port/x']);
    expect(await redirect('/path/x?keep=1', 'shop.example')).toEqual([307, 'http://shop.example/elsewhere?keep=1']);
    expect(await redirect('/strip/x?drop=1', 'shop.example')).toEqual([308, 'http://shop.example/clean']);
    expect(await redirect('/prefix/rest?q', 'shop.example')).toEqual([301, 'http://shop.example/moved/rest?q']);
  });

  it('serves direct_response with its status and body', async () => {
    await serve([{ match: { prefix: '/' }, direct_response: { status: 500, body: { inline_string: 'invalid backend' } } }]);
    const response = await h.request('/any');
    expect(response.status).toBe(500);
    expect(response.text).toBe('invalid backend');
    expect(response.headers['content-type']).toBe('text/plain');
  });

  it('applies header mutations at route, virtual host and route configuration level with append_action semantics', async () => {
    await serve(
      [
        toCluster('/', 'a', {
          request_headers_to_add: [
            { header: { key: 'x-level', value: 'route' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
            { header: { key: 'x-append', value: 'route' } },
            { header: { key: 'x-if-absent', value: 'route' }, append_action: 'ADD_IF_ABSENT' },
            { header: { key: 'x-only-if-exists', value: 'route' }, append_action: 'OVERWRITE_IF_EXISTS' },
            { header: { key: 'x-percent', value: '100%% literal' } },
          ],
          request_headers_to_remove: ['x-secret'],
          response_headers_to_add: [{ header: { key: 'x-served-by', value: 'tendril' } }],
          response_headers_to_remove: ['x-content-type-options'],
        }),
      ],
      {
        request_headers_to_add: [{ header: { key: 'x-level', value: 'config' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
        response_headers_to_add: [{ header: { key: 'x-config', value: 'yes' } }],
      },
      { request_headers_to_add: [{ header: { key: 'x-vhost', value: 'v' }, append_action: 'ADD_IF_ABSENT' }] },
    );
    const response = await h.request('/', { headers: { 'x-append': 'client', 'x-if-absent': 'client', 'x-secret': 's', 'x-vhost': 'client' } });
    const seen = response.echo.headers;
    // The least specific level (route configuration) is evaluated last, so it wins the overwrite.
    expect(seen['X-Level']).toEqual(['config']);
    expect(seen['X-Append']).toEqual(['client', 'route']);
    expect(seen['X-If-Absent']).toEqual(['client']);
    expect(seen['X-Only-If-Exists']).toBeUndefined();
    expect(seen['X-Secret']).toBeUndefined();
    expect(seen['X-Percent']).toEqual(['100% literal']);
    expect(seen['X-Vhost']).toEqual(['client']);
    expect(response.headers['x-served-by']).toBe('tendril');
    expect(response.headers['x-config']).toBe('yes');
    expect(response.headers['x-content-type-options']).toBeUndefined();
  });

  it('adds x-forwarded-for, x-forwarded-proto and x-request-id and strips hop-by-hop headers', async () => {
    await serve([toCluster('/', 'a')]);
    const response = await nodeRequest(h.port, '/', { 'x-forwarded-for': '203.0.113.9', 'keep-alive': 'timeout=5', 'x-drop-me': '1', connection: 'keep-alive, x-drop-me' });
    const seen = (JSON.parse(response.body) as EchoResponse).headers;
    expect(seen['X-Forwarded-For']).toEqual(['203.0.113.9,127.0.0.1']);
    expect(seen['X-Forwarded-Proto']).toEqual(['http']);
    expect(seen['X-Request-Id']?.[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen['Keep-Alive']).toBeUndefined();
    expect(seen['X-Drop-Me']).toBeUndefined();
    expect(h.accessLog.at(-1)?.x_request_id).toBe(seen['X-Request-Id']?.[0]);
    const kept = await h.request('/', { headers: { 'x-request-id': 'abc-123' } });
    expect(kept.echo.headers['X-Request-Id']).toEqual(['abc-123']);
  });

  it('splits traffic by weighted_clusters; a weight-0 entry gets nothing; entry headers apply', async () => {
    await serve([
      {
        match: { prefix: '/' },
        route: {
          weighted_clusters: {
            clusters: [
              { name: 'a', weight: 3, request_headers_to_add: [{ header: { key: 'x-split', value: 'a' } }] },
              { name: 'b', weight: 1 },
              { name: 'missing', weight: 0 },
            ],
          },
        },
      },
    ]);
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 200; i++) {
      const response = await h.request('/');
      expect(response.status).toBe(200);
      counts[response.echo.pod]++;
      if (response.echo.pod === 'a') expect(response.echo.headers['X-Split']).toEqual(['a']);
      else expect(response.echo.headers['X-Split']).toBeUndefined();
    }
    // 3:1 split; bounds far outside the binomial spread (p < 1e-6) so the test is not flaky.
    expect(counts.a).toBeGreaterThan(110);
    expect(counts.b).toBeGreaterThan(20);
  });

  it('mirrors requests with body to the shadow cluster with a -shadow Host, ignoring its response', async () => {
    const mirrored: { host?: string; body: string; path?: string }[] = [];
    const shadow = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        mirrored.push({ host: req.headers.host, body, path: req.url });
        res.writeHead(500).end('shadow failure is ignored');
      });
    });
    await new Promise<void>((resolve) => shadow.listen(0, '127.0.0.1', resolve));
    try {
      await h.apply({
        listeners: [httpListener('l', 'rc')],
        routes: [
          routeConfig('rc', [
            vhost('v', ['*'], [
              toCluster('/', 'a', {}, { request_mirror_policies: [{ cluster: 'shadow', runtime_fraction: { default_value: { numerator: 100, denominator: 'HUNDRED' } } }] }),
            ]),
          ]),
        ],
        clusters: [edsCluster('a'), edsCluster('shadow')],
        endpoints: [loadAssignment('a', [{ port: a.port }]), loadAssignment('shadow', [{ port: (shadow.address() as AddressInfo).port }])],
      });
      const response = await h.request('/orders', { method: 'POST', body: 'order-1', headers: { host: 'shop.example:8080' } });
      expect(response.status).toBe(200);
      expect(response.echo.host).toBe('shop.example:8080');
      await waitFor(() => mirrored.length === 1);
      expect(mirrored[0]).toEqual({ host: 'shop.example-shadow:8080', body: 'order-1', path: '/orders' });
    } finally {
      await new Promise<void>((resolve) => shadow.close(() => resolve()));
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
