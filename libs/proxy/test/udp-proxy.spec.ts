import type { envoy } from '@tendril/api-envoy';
import type { KubeObject } from '@tendril/api-k8s';
import { translate } from '@tendril/gateway';
import * as dgram from 'node:dgram';
import { ProxyRuntime, type ProxyConfig } from '../src';
import { edsCluster, loadAssignment } from './fixtures';

type Listener = envoy.config.listener.v3.Listener;
type ClusterLoadAssignment = envoy.config.endpoint.v3.ClusterLoadAssignment;

const UDP_PROXY = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig';
const UDP_ROUTE = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route';

function udpListener(name: string, cluster: string, extra: Record<string, unknown> = {}, port = 0): Listener {
  return {
    name,
    address: { socket_address: { protocol: 'UDP', address: '127.0.0.1', port_value: port } },
    udp_listener_config: {},
    listener_filters: [
      {
        name: 'envoy.filters.udp_listener.udp_proxy',
        typed_config: { '@type': UDP_PROXY, stat_prefix: name, matcher: { on_no_match: { action: { name: 'route', typed_config: { '@type': UDP_ROUTE, cluster } } } }, ...extra },
      },
    ],
  };
}

/** A UDP backend that answers each datagram with `<name> <client port> <payload>`, and counts the client ports it saw. */
interface UdpBackend {
  name: string;
  port: number;
  clientPorts: number[];
  close(): Promise<void>;
}

async function udpBackend(name: string): Promise<UdpBackend> {
  const socket = dgram.createSocket('udp4');
  const backend: UdpBackend = { name, port: 0, clientPorts: [], close: () => new Promise((resolve) => socket.close(() => resolve())) };
  socket.on('message', (payload, from) => {
    backend.clientPorts.push(from.port);
    socket.send(Buffer.concat([Buffer.from(`${name} ${from.port} `), payload]), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  backend.port = socket.address().port;
  return backend;
}

/** A client socket of its own (its own source port, so its own proxy session). */
class UdpClient {
  private readonly socket = dgram.createSocket('udp4');
  private readonly replies: Buffer[] = [];
  private waiter: (() => void) | undefined;

  constructor(private readonly port: number) {
    this.socket.on('message', (reply) => {
      this.replies.push(reply);
      this.waiter?.();
    });
  }

  /** Sends `payload` and resolves with the next reply, or undefined after `timeoutMs`. */
  async exchange(payload: string | Buffer, timeoutMs = 2_000): Promise<string | undefined> {
    this.socket.send(payload, this.port, '127.0.0.1');
    return this.next(timeoutMs);
  }

  async next(timeoutMs: number): Promise<string | undefined> {
    if (this.replies.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.replies.shift()?.toString();
  }

  close(): void {
    this.socket.close();
  }
}

describe('UDP listeners (udp_proxy)', () => {
  const runtime = new ProxyRuntime({ drainTimeoutMs: 1_000 });
  const backends: UdpBackend[] = [];
  const clients: UdpClient[] = [];

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await runtime.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  async function backend(name: string): Promise<UdpBackend> {
    const b = await udpBackend(name);
    backends.push(b);
    return b;
  }

  function client(port: number): UdpClient {
    const c = new UdpClient(port);
    clients.push(c);
    return c;
  }

  async function apply(config: Partial<ProxyConfig>): Promise<number> {
    const result = await runtime.apply({ listeners: [], routes: [], clusters: [], endpoints: [], ...config });
    if (!result.accepted) throw new Error(`config rejected: ${JSON.stringify(result.errors)}`);
    return result.listeners.find((l) => l.name === 'udp')?.port ?? 0;
  }

  it('relays datagrams both ways, one upstream socket per client address', async () => {
    const echo = await backend('echo');
    const port = await apply({ listeners: [udpListener('udp', 'echo')], clusters: [edsCluster('echo')], endpoints: [loadAssignment('echo', [{ port: echo.port }])] });
    const [a, b] = [client(port), client(port)];
    const first = await a.exchange('one');
    const second = await a.exchange('two');
    const other = await b.exchange('three');
    const [, firstPort] = (first ?? '').split(' ');
    expect(first).toBe(`echo ${firstPort} one`);
    expect(second).toBe(`echo ${firstPort} two`);
    expect(other).toMatch(/^echo \d+ three$/);
    expect(other?.split(' ')[1]).not.toBe(firstPort);
  });

  it('relays an empty datagram and a large one unchanged', async () => {
    const echo = await backend('sizes');
    const port = await apply({ listeners: [udpListener('udp', 'sizes')], clusters: [edsCluster('sizes')], endpoints: [loadAssignment('sizes', [{ port: echo.port }])] });
    const c = client(port);
    expect(await c.exchange(Buffer.alloc(0))).toMatch(/^sizes \d+ $/);
    const large = 'x'.repeat(60_000);
    const reply = await c.exchange(large);
    expect(reply?.endsWith(` ${large}`)).toBe(true);
  });

  it('picks each session’s endpoint by locality weight (Envoy Gateway’s weighted UDPRoute), none for weight 0', async () => {
    const [v1, v2, v3] = await Promise.all([backend('v1'), backend('v2'), backend('v3')]);
    const weighted: ClusterLoadAssignment = {
      cluster_name: 'weighted',
      endpoints: [
        { locality: { region: 'v1' }, load_balancing_weight: 70, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: v1.port } } } }] },
        { locality: { region: 'v2' }, load_balancing_weight: 30, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: v2.port } } } }] },
        // No weight: locality-weighted balancing never picks it.
        { locality: { region: 'v3' }, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: v3.port } } } }] },
      ],
    };
    const port = await apply({
      listeners: [udpListener('udp', 'weighted')],
      clusters: [{ ...edsCluster('weighted'), common_lb_config: { locality_weighted_lb_config: {} } }],
      endpoints: [weighted],
    });
    const counts = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const c = client(port);
      const reply = await c.exchange('hi');
      const name = reply?.split(' ')[0] ?? 'none';
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    expect(counts.get('v1')).toBeGreaterThanOrEqual(65);
    expect(counts.get('v2')).toBeGreaterThanOrEqual(25);
    expect(counts.get('v3')).toBeUndefined();
    expect(counts.get('none')).toBeUndefined();
  });

  it('ends a session after idle_timeout: the next datagram gets a new upstream socket', async () => {
    const echo = await backend('idle');
    const port = await apply({
      listeners: [udpListener('udp', 'idle', { idle_timeout: '0.2s' })],
      clusters: [edsCluster('idle')],
      endpoints: [loadAssignment('idle', [{ port: echo.port }])],
    });
    const c = client(port);
    const before = (await c.exchange('a'))?.split(' ')[1];
    expect((await c.exchange('b'))?.split(' ')[1]).toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const after = (await c.exchange('c'))?.split(' ')[1];
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('opens no more sessions than the cluster’s circuit_breakers max_connections; a session ending frees one', async () => {
    const echo = await backend('capped');
    const port = await apply({
      listeners: [udpListener('udp', 'capped', { idle_timeout: '0.3s' })],
      clusters: [{ ...edsCluster('capped'), circuit_breakers: { thresholds: [{ max_connections: 2 }] } }],
      endpoints: [loadAssignment('capped', [{ port: echo.port }])],
    });
    const [a, b, c] = [client(port), client(port), client(port)];
    expect(await a.exchange('a1')).toMatch(/^capped \d+ a1$/);
    expect(await b.exchange('b1')).toMatch(/^capped \d+ b1$/);
    expect(await c.exchange('c1', 200)).toBeUndefined();
    // Sessions already open keep working at the limit.
    expect(await a.exchange('a2')).toMatch(/^capped \d+ a2$/);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await c.exchange('c2')).toMatch(/^capped \d+ c2$/);
  });

  it('drops datagrams for an unreachable upstream (ICMP port unreachable) or a missing cluster, and keeps serving', async () => {
    const gone = await backend('gone');
    await gone.close();
    backends.splice(backends.indexOf(gone), 1);
    const port = await apply({ listeners: [udpListener('udp', 'gone')], clusters: [edsCluster('gone')], endpoints: [loadAssignment('gone', [{ port: gone.port }])] });
    const c = client(port);
    expect(await c.exchange('anyone?', 300)).toBeUndefined();
    expect(await c.exchange('still?', 300)).toBeUndefined();

    const noCluster = await apply({ listeners: [udpListener('udp', 'no-such-cluster')] });
    expect(noCluster).toBe(port);
    expect(await client(port).exchange('lost', 300)).toBeUndefined();

    const echo = await backend('back');
    await apply({ listeners: [udpListener('udp', 'back')], clusters: [edsCluster('back')], endpoints: [loadAssignment('back', [{ port: echo.port }])] });
    expect(await c.exchange('again')).toMatch(/^back \d+ again$/);
  });

  it('keeps the socket on an update that changes the cluster: the client’s next datagram goes to the new one', async () => {
    const [one, two] = await Promise.all([backend('one'), backend('two')]);
    const clusters = [edsCluster('one'), edsCluster('two')];
    const endpoints = [loadAssignment('one', [{ port: one.port }]), loadAssignment('two', [{ port: two.port }])];
    const port = await apply({ listeners: [udpListener('udp', 'one')], clusters, endpoints });
    const c = client(port);
    expect(await c.exchange('x')).toMatch(/^one /);
    expect(await apply({ listeners: [udpListener('udp', 'two')], clusters, endpoints })).toBe(port);
    expect(await c.exchange('y')).toMatch(/^two /);
  });

  it('frees the port when the listener is removed, and shares a port number with a TCP listener', async () => {
    const echo = await backend('shared');
    const port = await apply({ listeners: [udpListener('udp', 'shared')], clusters: [edsCluster('shared')], endpoints: [loadAssignment('shared', [{ port: echo.port }])] });
    await apply({});
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind(port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const tcp: Listener = {
      name: 'tcp',
      address: { socket_address: { address: '127.0.0.1', port_value: port } },
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'tcp', cluster: 'shared' } }] }],
    };
    const result = await runtime.apply({ listeners: [tcp, udpListener('udp', 'shared', {}, port)], routes: [], clusters: [edsCluster('shared')], endpoints: [loadAssignment('shared', [{ port: echo.port }])] });
    expect(result.errors).toEqual([]);
    expect(await client(port).exchange('both')).toMatch(/^shared \d+ both$/);
  });

  it('rejects UDP listeners it cannot serve, naming the problem', async () => {
    const invalid = (name: string, listener: Listener) => ({ ...listener, name });
    const result = await runtime.apply({
      listeners: [
        invalid('chains', { ...udpListener('x', 'c'), filter_chains: [{ filters: [] }] }),
        invalid('per-packet', udpListener('x', 'c', { use_per_packet_load_balancing: true })),
        invalid('no-route', { ...udpListener('x', 'c'), listener_filters: [{ name: 'envoy.filters.udp_listener.udp_proxy', typed_config: { '@type': UDP_PROXY, stat_prefix: 'x' } }] }),
        invalid('matcher-list', udpListener('x', 'c', { matcher: { matcher_list: { matchers: [] } } })),
        invalid('bad-timeout', udpListener('x', 'c', { idle_timeout: '0s' })),
      ],
      routes: [],
      clusters: [],
      endpoints: [],
    });
    expect(result.accepted).toBe(false);
    expect(Object.fromEntries(result.errors.map((e) => [e.resource, e.message]))).toEqual({
      chains: 'a UDP listener takes no filter chains (its udp_proxy listener filter relays the datagrams)',
      'per-packet': 'udp_proxy: use_per_packet_load_balancing is not supported',
      'no-route': 'udp_proxy: a route is required (matcher or cluster)',
      'matcher-list': 'udp_proxy: matcher_list and matcher_tree are not supported (only on_no_match with a Route action)',
      'bad-timeout': 'udp_proxy: idle_timeout 0s must be positive',
    });
  });

  it('serves what the gateway translator renders for a weighted UDPRoute', async () => {
    const [v1, v2] = await Promise.all([backend('tv1'), backend('tv2')]);
    const slice = (service: string, port: number): KubeObject =>
      ({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${service}-a`, namespace: 'ns', labels: { 'kubernetes.io/service-name': service } },
        addressType: 'IPv4',
        ports: [{ name: 'udp', port, protocol: 'UDP' }],
        endpoints: [{ addresses: ['127.0.0.1'] }],
      }) as unknown as KubeObject;
    const service = (name: string): KubeObject =>
      ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns' }, spec: { ports: [{ name: 'udp', port: 8080, protocol: 'UDP' }] } }) as unknown as KubeObject;
    const resources = [
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'tendril' }, spec: { controllerName: 'tendril.io/gateway-controller' } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'ns' }, spec: { gatewayClassName: 'tendril', listeners: [{ name: 'udp', port: 0, protocol: 'UDP' }] } },
      service('tv1'),
      service('tv2'),
      slice('tv1', v1.port),
      slice('tv2', v2.port),
      {
        apiVersion: 'gateway.networking.k8s.io/v1alpha2',
        kind: 'UDPRoute',
        metadata: { name: 'split', namespace: 'ns' },
        spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'tv1', port: 8080, weight: 1 }, { name: 'tv2', port: 8080, weight: 1 }] }] },
      },
    ] as unknown as KubeObject[];
    const { envoy: rendered } = translate({ resources, controllerName: 'tendril.io/gateway-controller', now: '2026-01-01T00:00:00Z', options: { defaultAddress: '127.0.0.1' } });
    const result = await runtime.apply(rendered as ProxyConfig);
    expect(result.errors).toEqual([]);
    const port = result.listeners.find((l) => l.name === 'ns/gw/0/udp')?.port ?? 0;
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await client(port).exchange('hi'))?.split(' ')[0] ?? 'none');
    expect([...seen].sort()).toEqual(['tv1', 'tv2']);
  });
});
