import type { envoy } from '@tendril/api-envoy';
import * as net from 'node:net';
import { ProxyRuntime, type Listener, type ProxyConfig } from '../src';
import { BPF_METADATA_TYPE_URL, ORIGINAL_DST_TYPE_URL } from '../src/compile-config';

type FilterChain = envoy.config.listener.v3.FilterChain;

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

/** A chain whose every request gets `status` with `body` (a direct_response route), or goes to `cluster`. */
function chain(name: string, answer: { status: number; body: string } | { cluster: string }, match?: FilterChain['filter_chain_match']): FilterChain {
  const route = 'cluster' in answer ? { match: { prefix: '/' }, route: { cluster: answer.cluster } } : { match: { prefix: '/' }, direct_response: { status: answer.status, body: { inline_string: answer.body } } };
  return {
    name,
    ...(match ? { filter_chain_match: match } : {}),
    filters: [
      {
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: { '@type': HCM_TYPE, stat_prefix: name, route_config: { name, virtual_hosts: [{ name, domains: ['*'], routes: [route] }] }, http_filters: [ROUTER] },
      },
    ],
  } as FilterChain;
}

function listener(chains: FilterChain[], extra: Partial<Listener> = {}): Listener {
  return { name: 'chains', address: { socket_address: { address: '0.0.0.0', port_value: 0 } }, filter_chains: chains, ...extra };
}

/** One HTTP/1.1 request on its own connection from `from` to `to`; the response text, or "closed". */
function requestFrom(from: string, to: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: to, port, localAddress: from });
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', () => resolve('closed'));
    socket.on('close', () => resolve(text === '' ? 'closed' : (text.split('\r\n\r\n')[1] ?? '')));
    socket.write(`GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
  });
}

describe('cleartext filter chains chosen per connection (filter_chain_match)', () => {
  const runtime = new ProxyRuntime({ accessLog: () => undefined, drainTimeoutMs: 1_000 });
  afterAll(() => runtime.close());

  const apply = async (config: Partial<ProxyConfig>) => runtime.apply({ listeners: [], routes: [], clusters: [], endpoints: [], ...config });

  it('picks the most specific chain by destination IP, then source IP, else the default chain', async () => {
    const result = await apply({
      listeners: [
        listener([chain('to-2', { status: 200, body: 'to 127.0.0.2' }, { prefix_ranges: [{ address_prefix: '127.0.0.2', prefix_len: 32 }] }), chain('to-2-from-3', { status: 200, body: 'to 127.0.0.2 from 127.0.0.3' }, { prefix_ranges: [{ address_prefix: '127.0.0.2', prefix_len: 32 }], source_prefix_ranges: [{ address_prefix: '127.0.0.3', prefix_len: 32 }] }), chain('loopback-8', { status: 200, body: 'to 127/8' }, { prefix_ranges: [{ address_prefix: '127.0.0.0', prefix_len: 8 }] })], {
          default_filter_chain: chain('default', { status: 403, body: 'Access denied\r\n' }),
        }),
      ],
    });
    expect(result.errors).toEqual([]);
    const port = result.listeners[0].port;
    expect(await requestFrom('127.0.0.1', '127.0.0.2', port)).toBe('to 127.0.0.2');
    expect(await requestFrom('127.0.0.3', '127.0.0.2', port)).toBe('to 127.0.0.2 from 127.0.0.3');
    expect(await requestFrom('127.0.0.1', '127.0.0.5', port)).toBe('to 127/8');
  });

  it('a destination_port that is not the connection’s rules its chain out; with no chain and no default the connection is closed', async () => {
    const result = await apply({ listeners: [listener([chain('other-port', { status: 200, body: 'other port' }, { destination_port: 1 })])] });
    expect(result.errors).toEqual([]);
    expect(await requestFrom('127.0.0.1', '127.0.0.1', result.listeners[0].port)).toBe('closed');

    const withDefault = await apply({ listeners: [listener([chain('other-port', { status: 200, body: 'other port' }, { destination_port: 1 })], { default_filter_chain: chain('default', { status: 403, body: 'Access denied\r\n' }) })] });
    expect(await requestFrom('127.0.0.1', '127.0.0.1', withDefault.listeners[0].port)).toBe('Access denied\r\n');
  });

  it('an updated listener re-selects the chain of an open keep-alive connection on its next request', async () => {
    const allow = chain('allow', { status: 200, body: 'allowed' }, { prefix_ranges: [{ address_prefix: '127.0.0.1', prefix_len: 32 }] });
    const deny = chain('default', { status: 403, body: 'Access denied\r\n' });
    const first = await apply({ listeners: [listener([allow], { default_filter_chain: deny })] });
    const port = first.listeners[0].port;
    const socket = net.connect({ host: '127.0.0.1', port });
    const responses: string[] = [];
    let buffered = '';
    const next = () =>
      new Promise<string>((resolve) => {
        const onData = (chunk: Buffer) => {
          buffered += chunk.toString('latin1');
          const end = buffered.indexOf('\r\n\r\n');
          const length = /content-length: (\d+)/i.exec(buffered)?.[1];
          if (end >= 0 && length !== undefined && buffered.length >= end + 4 + Number(length)) {
            const body = buffered.slice(end + 4, end + 4 + Number(length));
            buffered = buffered.slice(end + 4 + Number(length));
            socket.off('data', onData);
            resolve(body);
          }
        };
        socket.on('data', onData);
        socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      });
    responses.push(await next());
    // The allowing chain is gone (policy narrowed): the open connection must not keep it.
    await apply({ listeners: [listener([chain('other', { status: 200, body: 'other' }, { prefix_ranges: [{ address_prefix: '10.0.0.1', prefix_len: 32 }] })], { default_filter_chain: deny })] });
    responses.push(await next());
    socket.destroy();
    expect(responses).toEqual(['allowed', 'Access denied\r\n']);
  });

  it('rejects chains that match alike, and match criteria it cannot evaluate', async () => {
    const same = { prefix_ranges: [{ address_prefix: '127.0.0.1', prefix_len: 32 }] };
    const duplicate = await apply({ listeners: [listener([chain('a', { status: 200, body: 'a' }, same), chain('b', { status: 200, body: 'b' }, same)])] });
    expect(duplicate.accepted).toBe(false);
    expect(duplicate.errors[0].message).toMatch(/filter chain "b": another filter chain has the same filter_chain_match/);
    const sni = await apply({ listeners: [listener([chain('a', { status: 200, body: 'a' }, { server_names: ['x.example'] }), chain('b', { status: 200, body: 'b' })])] });
    expect(sni.errors[0].message).toMatch(/filter_chain_match.server_names is not supported on a cleartext chain/);
    const badPrefix = await apply({ listeners: [listener([chain('a', { status: 200, body: 'a' }, { prefix_ranges: [{ address_prefix: '10.0.0.300', prefix_len: 32 }] })])] });
    expect(badPrefix.errors[0].message).toMatch(/address_prefix "10.0.0.300" is not an IP address/);
  });
});

describe('transparent listeners and ORIGINAL_DST clusters without the datapath', () => {
  const runtime = new ProxyRuntime({ accessLog: () => undefined, drainTimeoutMs: 1_000 });
  afterAll(() => runtime.close());

  const redirectListener: Listener = {
    name: 'tendril-http-ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    transparent: true,
    listener_filters: [
      { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': ORIGINAL_DST_TYPE_URL } },
      { name: 'tendril.bpf_metadata', typed_config: { '@type': BPF_METADATA_TYPE_URL, is_ingress: true } as never },
    ],
    filter_chains: [chain('any', { cluster: 'original-dst' })],
  };

  it('refuses a transparent listener when no datapath is there to steer traffic to it', async () => {
    const result = await runtime.apply({ listeners: [redirectListener], routes: [], clusters: [], endpoints: [] });
    expect(result.accepted).toBe(false);
    expect(result.errors).toEqual([{ kind: 'Listener', resource: 'tendril-http-ingress', message: expect.stringMatching(/transparent listeners need the eBPF datapath/) }]);
  });

  it('checks the listener filters’ order and the ORIGINAL_DST cluster’s load balancing', async () => {
    const noOriginalDst = await runtime.apply({ listeners: [{ ...redirectListener, listener_filters: redirectListener.listener_filters?.slice(1) }], routes: [], clusters: [], endpoints: [] });
    expect(noOriginalDst.errors[0].message).toMatch(/tendril.bpf_metadata needs the original_dst listener filter/);
    const notTransparent = await runtime.apply({ listeners: [{ ...redirectListener, transparent: false }], routes: [], clusters: [], endpoints: [] });
    expect(notTransparent.errors[0].message).toMatch(/original_dst listener filter needs transparent: true/);
    const cluster = await runtime.apply({ listeners: [], routes: [], clusters: [{ name: 'original-dst', type: 'ORIGINAL_DST', lb_policy: 'ROUND_ROBIN' }], endpoints: [] });
    expect(cluster.errors).toEqual([{ kind: 'Cluster', resource: 'original-dst', message: 'an ORIGINAL_DST cluster needs lb_policy CLUSTER_PROVIDED' }]);
    // Keeping the downstream protocol upstream (h2c stays h2c, for gRPC) is for ORIGINAL_DST clusters only.
    const downstream = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
      },
    };
    const onStatic = await runtime.apply({ listeners: [], routes: [], clusters: [{ name: 's', type: 'STATIC', typed_extension_protocol_options: downstream }], endpoints: [] });
    expect(onStatic.errors).toEqual([{ kind: 'Cluster', resource: 's', message: 'use_downstream_protocol_config is only supported on ORIGINAL_DST clusters' }]);
    const onOriginalDst = await runtime.apply({ listeners: [], routes: [], clusters: [{ name: 'o', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', typed_extension_protocol_options: downstream }], endpoints: [] });
    expect(onOriginalDst.errors).toEqual([]);
  });

  it('is_l7lb (the mesh listener’s L7 load balancing) is refused on an ingress listener, on tcp_proxy chains and when it is not a boolean', async () => {
    const l7lb = (config: Record<string, unknown>, filterChains = redirectListener.filter_chains) => ({
      ...redirectListener,
      listener_filters: [redirectListener.listener_filters![0]!, { name: 'tendril.bpf_metadata', typed_config: { '@type': BPF_METADATA_TYPE_URL, ...config } as never }],
      filter_chains: filterChains,
    });
    const onIngress = await runtime.apply({ listeners: [l7lb({ is_ingress: true, is_l7lb: true })], routes: [], clusters: [], endpoints: [] });
    expect(onIngress.errors[0]?.message).toBe('tendril.bpf_metadata: is_l7lb is only for an egress listener (is_ingress false)');
    const notBoolean = await runtime.apply({ listeners: [l7lb({ is_l7lb: 'yes' })], routes: [], clusters: [], endpoints: [] });
    expect(notBoolean.errors[0]?.message).toBe('tendril.bpf_metadata: is_l7lb must be a boolean');
    const tcpChain = { filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 't', cluster: 'c' } }] };
    const onTcp = await runtime.apply({ listeners: [l7lb({ is_l7lb: true }, [tcpChain as never])], routes: [], clusters: [], endpoints: [] });
    expect(onTcp.errors[0]?.message).toMatch(/is_l7lb needs HTTP connection manager chains/);
  });

  it('answers 503 "no healthy upstream" for a request that reached an ORIGINAL_DST cluster without a redirect', async () => {
    const result = await runtime.apply({
      listeners: [listener([chain('any', { cluster: 'original-dst' })])],
      routes: [],
      clusters: [{ name: 'original-dst', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '1s' }],
      endpoints: [],
    });
    expect(result.errors).toEqual([]);
    expect(await requestFrom('127.0.0.1', '127.0.0.1', result.listeners[0].port)).toBe('no healthy upstream');
  });
});
