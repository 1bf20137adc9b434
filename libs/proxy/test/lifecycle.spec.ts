import type { EchoServer } from '@tendril/testing';
import * as net from 'node:net';
import { ProxyRuntime, validateConfig, type ProxyConfig } from '../src';
import { edsCluster, httpListener, loadAssignment, ProxyHarness, routeConfig, toCluster, unusedPort, vhost } from './fixtures';

describe('config lifecycle', () => {
  const h = new ProxyHarness();
  let a: EchoServer;
  let b: EchoServer;

  beforeAll(async () => {
    a = await h.backend('a');
    b = await h.backend('b');
  });
  afterAll(() => h.close());

  const config = (cluster: string, listeners = [httpListener('l', 'rc')]): ProxyConfig => ({
    listeners,
    routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', cluster)])])],
    clusters: [edsCluster('a'), edsCluster('b')],
    endpoints: [loadAssignment('a', [{ port: a.port }]), loadAssignment('b', [{ port: b.port }])],
  });

  it('finishes an in-flight request on the old route while new requests see the updated route', async () => {
    await h.apply(config('a'));
    const slow = h.request('/slow', { headers: { 'x-echo-delay-ms': '400' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await h.apply(config('b'));
    const fresh = await h.request('/fresh');
    expect(fresh.echo.pod).toBe('b');
    const finished = await slow;
    expect([finished.status, finished.echo.pod]).toEqual([200, 'a']);
  });

  it('keeps the listener socket when only its route configuration name changes', async () => {
    await h.apply(config('a'));
    const port = h.port;
    const renamed: ProxyConfig = {
      ...config('a', [httpListener('l', 'rc2')]),
      routes: [routeConfig('rc2', [vhost('v', ['*'], [toCluster('/', 'b')])])],
    };
    await h.apply(renamed);
    expect(h.port).toBe(port);
    expect((await h.request('/')).echo.pod).toBe('b');
  });

  it('binds an added listener next to the existing one, each serving its own route configuration', async () => {
    await h.apply(config('a'));
    const first = h.port;
    const result = await h.runtime.apply({
      ...config('a', [httpListener('l', 'rc'), httpListener('second', 'rc-b')]),
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'a')])]), routeConfig('rc-b', [vhost('v', ['*'], [toCluster('/', 'b')])])],
    });
    expect(result.accepted).toBe(true);
    const second = result.listeners.find((l) => l.name === 'second')?.port ?? 0;
    expect(result.listeners.find((l) => l.name === 'l')?.port).toBe(first);
    expect((await h.request('/', { port: first })).echo.pod).toBe('a');
    expect((await h.request('/', { port: second })).echo.pod).toBe('b');
  });

  it('drains a removed listener: in-flight requests complete, new connections are refused', async () => {
    const port = await unusedPort();
    await h.apply(config('a', [httpListener('fixed', 'rc', port)]));
    expect(h.port).toBe(port);
    const slow = h.request('/slow', { headers: { 'x-echo-delay-ms': '400' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await h.apply(config('a', []));
    await expect(
      new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => resolve('connected'));
        socket.on('error', (err: NodeJS.ErrnoException) => reject(err.code));
      }),
    ).rejects.toBe('ECONNREFUSED');
    const finished = await slow;
    expect([finished.status, finished.echo.pod]).toEqual([200, 'a']);
    expect(finished.headers.connection).toBe('close');
    expect(h.runtime.boundListeners()).toEqual([]);
  });

  it('rejects a listener whose address is in use and keeps serving the previous config', async () => {
    await h.apply(config('a'));
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busyPort = (blocker.address() as net.AddressInfo).port;
    try {
      const wanted = config('b', [httpListener('l', 'rc'), httpListener('busy', 'rc', busyPort)]);
      expect(validateConfig(wanted)).toEqual([]);
      expect(await h.runtime.validate(wanted)).toEqual([
        { kind: 'Listener', resource: 'busy', message: `cannot bind 127.0.0.1:${busyPort}: address already in use` },
      ]);
      const result = await h.runtime.apply(wanted);
      expect(result.accepted).toBe(false);
      expect(result.errors[0].message).toContain('address already in use');
      expect(result.listeners.map((l) => l.name)).toEqual(['l']);
      // Neither the routes nor the listeners of the rejected update took effect.
      expect((await h.request('/')).echo.pod).toBe('a');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('close() waits for in-flight requests', async () => {
    const runtime = new ProxyRuntime({ accessLog: () => undefined });
    const result = await runtime.apply(config('a'));
    const port = result.listeners[0].port;
    const slow = h.request('/slow', { port, headers: { 'x-echo-delay-ms': '300' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await runtime.close();
    expect((await slow).status).toBe(200);
  });
});

describe('validateConfig', () => {
  const valid = (): ProxyConfig => ({
    listeners: [httpListener('l', 'rc', 8080)],
    routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'not-declared-anywhere')])])],
    clusters: [edsCluster('a')],
    endpoints: [loadAssignment('a', [{ port: 9000 }])],
  });

  /** The config's one route, to edit in place. */
  const onlyRoute = (config: ProxyConfig) => {
    const route = config.routes[0].virtual_hosts?.[0].routes?.[0];
    if (!route) throw new Error('fixture has no route');
    return route;
  };
  const onlyHcm = (config: ProxyConfig) => {
    const filter = config.listeners[0].filter_chains?.[0].filters?.[0];
    if (!filter) throw new Error('fixture has no filter');
    return filter;
  };

  it('accepts a route naming an unknown cluster (Envoy answers 503 for it)', () => {
    expect(validateConfig(valid())).toEqual([]);
  });

  it('skips API listeners, which are for proxyless gRPC clients and have no socket', () => {
    const config = valid();
    config.listeners.push({
      name: 'grpc.example.com',
      api_listener: {
        api_listener: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          rds: { route_config_name: 'grpc.example.com', config_source: { ads: {}, resource_api_version: 'V3' } },
        },
      },
    });
    expect(validateConfig(config)).toEqual([]);
  });

  it('rejects an invalid regex and names where it is', () => {
    const config = valid();
    onlyRoute(config).match = { safe_regex: { regex: '/items/(unclosed' } };
    const errors = validateConfig(config);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind: 'RouteConfiguration', resource: 'rc' });
    expect(errors[0].message).toMatch(/virtual_hosts\[0\] \(v\) routes\[0\].*invalid regex "\/items\/\(unclosed"/);
  });

  it('rejects RE2-incompatible regex features', () => {
    const config = valid();
    onlyRoute(config).match = { prefix: '/', headers: [{ name: 'x', string_match: { safe_regex: { regex: '(?=a)b' } } }] };
    expect(validateConfig(config)[0].message).toContain('lookaround assertions are not supported by RE2');
  });

  it('rejects unknown network and HTTP filters', () => {
    const badNetwork = valid();
    Object.assign(onlyHcm(badNetwork), { name: 'envoy.filters.network.redis_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy' } });
    expect(validateConfig(badNetwork)).toEqual([
      {
        kind: 'Listener',
        resource: 'l',
        message: 'unknown network filter "envoy.filters.network.redis_proxy" (type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy)',
      },
    ]);
    const badHttp = valid();
    const hcm = onlyHcm(badHttp).typed_config as unknown as { http_filters: unknown[] };
    hcm.http_filters.unshift({ name: 'envoy.filters.http.lua', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua' } });
    expect(validateConfig(badHttp)[0].message).toBe('unknown HTTP filter "envoy.filters.http.lua" (type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua)');
  });

  it('rejects listeners sharing an address, non-IP addresses and headers that may not be modified', () => {
    const config = valid();
    config.listeners.push(httpListener('twin', 'rc', 8080), httpListener('named', 'rc', 8081, 'localhost'));
    config.routes[0].request_headers_to_add = [{ header: { key: ':path', value: '/x' } }];
    const messages = validateConfig(config).map((e) => `${e.kind}/${e.resource}: ${e.message}`);
    expect(messages).toEqual([
      'Listener/twin: address 127.0.0.1:8080 is also used by listener "l"',
      'Listener/named: address "localhost" is not an IP address',
      'RouteConfiguration/rc: request_headers_to_add: header ":path" may not be modified',
    ]);
  });

  it('rejects header value commands it cannot substitute and lone "%"', () => {
    const config = valid();
    onlyRoute(config).request_headers_to_add = [
      { header: { key: 'x-client', value: '%DOWNSTREAM_REMOTE_ADDRESS%' } },
      { header: { key: 'x-odd', value: '50%' } },
    ];
    expect(validateConfig(config).map((e) => e.message)).toEqual([
      'virtual_hosts[0] (v) routes[0] (/->not-declared-anywhere): header value command %DOWNSTREAM_REMOTE_ADDRESS% is not supported',
    ]);
    onlyRoute(config).request_headers_to_add = [{ header: { key: 'x-odd', value: '50%' } }];
    expect(validateConfig(config)[0].message).toContain('has an unterminated "%"');
  });

  it('reports malformed resources as errors instead of throwing', () => {
    const malformed = { listeners: [null], routes: [{ name: 'rc', virtual_hosts: [{ domains: ['*'], routes: [{ match: {} }] }] }] } as unknown as ProxyConfig;
    const messages = validateConfig(malformed).map((e) => `${e.kind}/${e.resource}`);
    expect(messages).toEqual(['Listener/#0', 'RouteConfiguration/rc']);
  });

  it('rejects unsupported cluster settings and malformed endpoints', () => {
    const config = valid();
    config.clusters.push({ name: 'ring', type: 'EDS', lb_policy: 'RING_HASH' });
    config.endpoints.push({ cluster_name: 'bad', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1' } } } }] }] });
    const messages = validateConfig(config).map((e) => `${e.kind}/${e.resource}: ${e.message}`);
    expect(messages).toEqual([
      'ClusterLoadAssignment/bad: lb_endpoint needs endpoint.address.socket_address with address and port_value',
      'Cluster/ring: lb_policy RING_HASH is not supported',
    ]);
  });
});
