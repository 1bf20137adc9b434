import type { envoy } from '@tendril/api-envoy';
import type { EchoServer } from '@tendril/testing';
import { edsCluster, httpListener, loadAssignment, ProxyHarness, routeConfig, toCluster, vhost } from './fixtures';

type CorsPolicy = envoy.extensions.filters.http.cors.v3.CorsPolicy;

const CORS_FILTER = { name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } };
const ROUTER_FILTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

function corsRoute(prefix: string, policy: CorsPolicy): envoy.config.route.v3.Route {
  return toCluster(prefix, 'a', {
    typed_per_filter_config: { 'envoy.filters.http.cors': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy', ...policy } },
  });
}

const LISTED: CorsPolicy = {
  allow_origin_string_match: [{ exact: 'https://www.foo.com' }, { safe_regex: { regex: 'https://.+\\.bar\\.com' } }],
  allow_methods: 'GET, OPTIONS',
  allow_headers: 'x-header-1, x-header-2',
  expose_headers: 'x-header-3, x-header-4',
  max_age: '3600',
  allow_credentials: true,
  forward_not_matching_preflights: false,
};

const WILDCARDS: CorsPolicy = {
  allow_origin_string_match: [{ safe_regex: { regex: '.*' } }],
  allow_methods: '*',
  allow_headers: '*',
  allow_credentials: false,
  max_age: '5',
};

describe('the cors HTTP filter', () => {
  const h = new ProxyHarness();
  let a: EchoServer;

  beforeAll(async () => {
    a = await h.backend('a');
  });
  afterAll(() => h.close());

  const serve = (httpFilters = [CORS_FILTER, ROUTER_FILTER]) =>
    h.apply({
      listeners: [httpListener('l', 'rc', 0, '127.0.0.1', { http_filters: httpFilters })],
      routes: [routeConfig('rc', [vhost('v', ['*'], [corsRoute('/listed', LISTED), corsRoute('/wild', WILDCARDS), toCluster('/', 'a')])])],
      clusters: [edsCluster('a')],
      endpoints: [loadAssignment('a', [{ port: a.port }])],
    });

  const preflight = (path: string, origin: string, headers: Record<string, string> = {}) =>
    h.request(path, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', ...headers } });

  it('answers a preflight from an allowed origin itself, with every CORS header, without asking the backend', async () => {
    await serve();
    for (const origin of ['https://www.foo.com', 'https://www.bar.com', 'https://deep.www.bar.com']) {
      const response = await preflight('/listed', origin, { 'access-control-request-headers': 'x-header-1' });
      expect(response.status).toBe(200);
      expect(response.text).toBe('');
      expect(response.headers).toMatchObject({
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'GET, OPTIONS',
        'access-control-allow-headers': 'x-header-1, x-header-2',
        'access-control-expose-headers': 'x-header-3, x-header-4',
        'access-control-max-age': '3600',
        'access-control-allow-credentials': 'true',
      });
    }
  });

  it('answers a preflight from another origin without allowing it, when such preflights are not forwarded', async () => {
    await serve();
    const response = await preflight('/listed', 'https://foobar.com');
    expect(response.status).toBe(200);
    expect(response.text).toBe('');
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('adds the echoed origin, credentials and exposed headers to forwarded responses of allowed origins only', async () => {
    await serve();
    const allowed = await h.request('/listed/x', { headers: { origin: 'https://www.bar.com' } });
    expect(allowed.echo.path).toBe('/listed/x');
    expect(allowed.headers).toMatchObject({ 'access-control-allow-origin': 'https://www.bar.com', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'x-header-3, x-header-4' });
    expect(allowed.headers['access-control-max-age']).toBeUndefined();
    const other = await h.request('/listed/x', { headers: { origin: 'https://foobar.com' } });
    expect(other.echo.path).toBe('/listed/x');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('echoes the requested method and headers for `*`, and omits allow-headers when none were asked', async () => {
    await serve();
    const asked = await preflight('/wild', 'https://any.example:8443', { 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-a, x-b' });
    expect(asked.headers).toMatchObject({ 'access-control-allow-origin': 'https://any.example:8443', 'access-control-allow-methods': 'PUT', 'access-control-allow-headers': 'x-a, x-b', 'access-control-max-age': '5' });
    expect(asked.headers['access-control-allow-credentials']).toBeUndefined();
    const notAsked = await preflight('/wild', 'https://any.example');
    expect(notAsked.headers['access-control-allow-headers']).toBeUndefined();
  });

  it('leaves requests without an Origin, and routes without a policy, alone', async () => {
    await serve();
    const noOrigin = await h.request('/listed', { method: 'OPTIONS', headers: { 'access-control-request-method': 'GET' } });
    expect(noOrigin.echo.method).toBe('OPTIONS');
    const noPolicy = await preflight('/other', 'https://www.foo.com');
    expect(noPolicy.echo.path).toBe('/other');
    expect(noPolicy.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('ignores route policies when the connection manager has no cors filter, as Envoy does', async () => {
    await serve([ROUTER_FILTER]);
    const response = await preflight('/listed', 'https://www.foo.com');
    expect(response.echo.method).toBe('OPTIONS');
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('rejects a policy it cannot serve with a readable error', async () => {
    await expect(
      h.apply({
        listeners: [httpListener('l', 'rc', 0, '127.0.0.1', { http_filters: [CORS_FILTER, ROUTER_FILTER] })],
        routes: [routeConfig('rc', [vhost('v', ['*'], [corsRoute('/', { allow_origin_string_match: [{ safe_regex: { regex: '(' } }] })])])],
        clusters: [edsCluster('a')],
        endpoints: [loadAssignment('a', [{ port: a.port }])],
      }),
    ).rejects.toThrow(/allow_origin_string_match\[0\]/);
  });
});
