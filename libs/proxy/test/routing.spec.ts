import { edsCluster, httpListener, loadAssignment, ProxyHarness, routeConfig, toCluster, vhost } from './fixtures';
import type { EchoServer } from '@tendril/testing';

describe('routing', () => {
  const h = new ProxyHarness();
  let a: EchoServer;
  let b: EchoServer;

  beforeAll(async () => {
    a = await h.backend('a');
    b = await h.backend('b');
  });
  afterAll(() => h.close());

  const clusters = () => ({
    clusters: [edsCluster('a'), edsCluster('b')],
    endpoints: [loadAssignment('a', [{ port: a.port }]), loadAssignment('b', [{ port: b.port }])],
  });

  it('selects the virtual host by Host: exact beats suffix wildcard beats "*", ignoring case and port', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [
        routeConfig('rc', [
          vhost('any', ['*'], [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'any' } } }]),
          vhost('wild', ['*.example.com'], [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'wild' } } }]),
          vhost('deeper', ['*.api.example.com'], [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'deeper' } } }]),
          vhost('exact', ['www.example.com'], [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'exact' } } }]),
        ]),
      ],
    });
    const hostBody = async (host: string) => (await h.request('/', { headers: { host } })).text;
    expect(await hostBody('www.example.com')).toBe('exact');
    expect(await hostBody('WWW.Example.COM:8080')).toBe('exact');
    expect(await hostBody('foo.example.com')).toBe('wild');
    expect(await hostBody('a.b.example.com')).toBe('wild');
    expect(await hostBody('v1.api.example.com')).toBe('deeper');
    expect(await hostBody('example.com')).toBe('any');
    expect(await hostBody('other.org')).toBe('any');
  });

  it('answers 404 with response flag NR when no virtual host or route matches', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('only', ['only.example'], [toCluster('/api', 'a')])])],
      ...clusters(),
    });
    expect((await h.request('/api', { headers: { host: 'elsewhere' } })).status).toBe(404);
    expect((await h.request('/other', { headers: { host: 'only.example' } })).status).toBe(404);
    expect(h.accessLog.at(-1)).toMatchObject({ response_code: 404, response_flags: 'NR', route_name: null, upstream_host: null });
    expect(h.accessLog.at(-1)?.x_request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('evaluates routes in order with every path match kind', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [
        routeConfig('rc', [
          vhost('v', ['*'], [
            { name: 'exact', match: { path: '/exact' }, route: { cluster: 'a' } },
            { name: 'separated', match: { path_separated_prefix: '/seg' }, route: { cluster: 'a' } },
            { name: 'regex', match: { safe_regex: { regex: '/items/[0-9]+' } }, route: { cluster: 'a' } },
            { name: 'insensitive', match: { prefix: '/CaSe', case_sensitive: false }, route: { cluster: 'a' } },
            { name: 'fallback', match: { prefix: '/' }, route: { cluster: 'b' } },
          ]),
        ]),
      ],
      ...clusters(),
    });
    const routeOf = async (path: string) => {
      const response = await h.request(path);
      expect(response.status).toBe(200);
      return h.accessLog.at(-1)?.route_name;
    };
    expect(await routeOf('/exact')).toBe('exact');
    expect(await routeOf('/exact?x=1')).toBe('exact');
    expect(await routeOf('/exact/more')).toBe('fallback');
    expect(await routeOf('/seg')).toBe('separated');
    expect(await routeOf('/seg/x')).toBe('separated');
    expect(await routeOf('/segment')).toBe('fallback');
    expect(await routeOf('/items/42')).toBe('regex');
    expect(await routeOf('/items/42/x')).toBe('fallback');
    expect(await routeOf('/case/abc')).toBe('insensitive');
    const fallback = await h.request('/anything');
    expect(fallback.echo.pod).toBe('b');
  });

  it('matches headers (incl. :method, invert, present) and query parameters', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [
        routeConfig('rc', [
          vhost('v', ['*'], [
            { name: 'post', match: { prefix: '/', headers: [{ name: ':method', string_match: { exact: 'POST' } }] }, route: { cluster: 'a' } },
            { name: 'canary', match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { safe_regex: { regex: 'yes|true' } } }] }, route: { cluster: 'a' } },
            { name: 'not-beta', match: { prefix: '/', headers: [{ name: 'x-tier', string_match: { prefix: 'beta' }, invert_match: true }, { name: 'x-tier', present_match: true }] }, route: { cluster: 'a' } },
            { name: 'query', match: { prefix: '/', query_parameters: [{ name: 'v', string_match: { exact: 'two words' } }] }, route: { cluster: 'a' } },
            { name: 'query-present', match: { prefix: '/', query_parameters: [{ name: 'debug', present_match: true }] }, route: { cluster: 'a' } },
            { name: 'fallback', match: { prefix: '/' }, route: { cluster: 'b' } },
          ]),
        ]),
      ],
      ...clusters(),
    });
    const routeOf = async (path: string, options: { method?: string; headers?: Record<string, string> } = {}) => {
      await h.request(path, options);
      return h.accessLog.at(-1)?.route_name;
    };
    expect(await routeOf('/', { method: 'POST' })).toBe('post');
    expect(await routeOf('/', { headers: { 'x-canary': 'true' } })).toBe('canary');
    expect(await routeOf('/', { headers: { 'x-canary': 'truely' } })).toBe('fallback');
    expect(await routeOf('/', { headers: { 'x-tier': 'gold' } })).toBe('not-beta');
    expect(await routeOf('/', { headers: { 'x-tier': 'beta-1' } })).toBe('fallback');
    expect(await routeOf('/?v=two%20words')).toBe('query');
    expect(await routeOf('/?v=two')).toBe('fallback');
    expect(await routeOf('/?debug')).toBe('query-present');
  });

  it('serves a route update to the next request without rebinding the listener', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'a')])])],
      ...clusters(),
    });
    const port = h.port;
    expect((await h.request('/')).echo.pod).toBe('a');
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'b')])])],
      ...clusters(),
    });
    expect(h.port).toBe(port);
    expect((await h.request('/')).echo.pod).toBe('b');
  });
});
