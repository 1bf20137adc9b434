import type { envoy } from '@tendril/api-envoy';
import type { KubeObject } from '@tendril/api-k8s';
import { translate } from '@tendril/gateway';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ProxyRuntime, type ProxyConfig } from '../src';
import { readClientHello } from '../src/tls/client-hello';
import { selfSignedCertificate, type TestCertificate } from './certificates';
import { edsCluster, loadAssignment, unusedPort } from './fixtures';

type FilterChain = envoy.config.listener.v3.FilterChain;
type Listener = envoy.config.listener.v3.Listener;

function tcpProxyChain(name: string, cluster: string, serverNames?: string[]): FilterChain {
  return {
    name,
    ...(serverNames ? { filter_chain_match: { server_names: serverNames } } : {}),
    filters: [
      {
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: name, cluster },
      },
    ],
  };
}

function passthroughListener(chains: FilterChain[]): Listener {
  return {
    name: 'passthrough',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
    filter_chains: chains,
  };
}

/** A TLS backend that answers every connection with its name, then closes. */
async function tlsBackend(name: string, certificate: TestCertificate): Promise<net.Server> {
  const server = tls.createServer({ cert: certificate.cert, key: certificate.key }, (socket) => socket.end(`hello from ${name}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** A plain TCP backend that echoes what it receives. */
async function echoBackend(): Promise<net.Server> {
  const server = net.createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const portOf = (server: net.Server): number => (server.address() as net.AddressInfo).port;

/** Connects with TLS through the proxy; resolves with the backend's certificate and what it said. */
function tlsThrough(port: number, servername: string, ca: string[]): Promise<{ fingerprint: string; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, checkServerIdentity: () => undefined });
    let text = '';
    let fingerprint = '';
    socket.setEncoding('utf8');
    socket.once('secureConnect', () => (fingerprint = socket.getPeerCertificate().fingerprint256));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.once('end', () => (fingerprint ? resolve({ fingerprint, text }) : reject(new Error('closed before the TLS handshake finished'))));
    socket.once('error', reject);
  });
}

describe('tcp_proxy listeners (TLS passthrough by SNI)', () => {
  let certA: TestCertificate;
  let certB: TestCertificate;
  const servers: net.Server[] = [];
  const runtime = new ProxyRuntime({ accessLog: () => undefined, drainTimeoutMs: 1_000 });
  let config: ProxyConfig;

  beforeAll(async () => {
    [certA, certB] = await Promise.all([selfSignedCertificate(['a.example']), selfSignedCertificate(['*.b.example'])]);
    const [a, b, echo] = await Promise.all([tlsBackend('a', certA), tlsBackend('b', certB), echoBackend()]);
    servers.push(a, b, echo);
    config = {
      listeners: [
        passthroughListener([
          tcpProxyChain('a', 'backend-a', ['a.example']),
          tcpProxyChain('b', 'backend-b', ['*.b.example']),
          tcpProxyChain('default', 'backend-echo'),
        ]),
      ],
      routes: [],
      clusters: [edsCluster('backend-a'), edsCluster('backend-b'), edsCluster('backend-echo')],
      endpoints: [
        loadAssignment('backend-a', [{ port: portOf(a) }]),
        loadAssignment('backend-b', [{ port: portOf(b) }]),
        loadAssignment('backend-echo', [{ port: portOf(echo) }]),
      ],
    };
  });
  afterAll(async () => {
    await runtime.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('relays the TLS session untouched to the backend the SNI selects (the backend\'s own certificate answers)', async () => {
    const result = await runtime.apply(config);
    expect(result.errors).toEqual([]);
    const port = result.listeners[0].port;
    expect(await tlsThrough(port, 'a.example', [certA.cert])).toEqual({ fingerprint: certA.fingerprint, text: 'hello from a' });
    expect(await tlsThrough(port, 'x.y.b.example', [certB.cert])).toEqual({ fingerprint: certB.fingerprint, text: 'hello from b' });
  });

  it('sends a connection that is not TLS to the chain without server names, bytes unchanged', async () => {
    const { listeners } = await runtime.apply(config);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(listeners[0].port, '127.0.0.1', () => socket.write('plain bytes\r\n'));
      socket.setEncoding('utf8');
      socket.once('data', (chunk: string) => {
        resolve(chunk);
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect(reply).toBe('plain bytes\r\n');
  });

  it('closes a connection no chain matches', async () => {
    const { listeners } = await runtime.apply({ ...config, listeners: [passthroughListener([tcpProxyChain('a', 'backend-a', ['a.example'])])] });
    await expect(tlsThrough(listeners[0].port, 'other.example', [certA.cert])).rejects.toThrow(/closed before the TLS handshake finished|ECONNRESET|socket disconnected/);
  });

  it('rejects tcp_proxy chains it cannot serve, naming the chain', async () => {
    const mixed = passthroughListener([tcpProxyChain('a', 'backend-a', ['a.example'])]);
    mixed.filter_chains!.push({ name: 'http', filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager' } }] });
    const noCluster = passthroughListener([tcpProxyChain('a', '', ['a.example'])]);
    const result = await runtime.validate({ ...config, listeners: [{ ...mixed, name: 'mixed' }, { ...noCluster, name: 'no-cluster' }] });
    expect(result).toEqual([
      { kind: 'Listener', resource: 'mixed', message: 'filter chain "http": a listener\'s chains must all be one tcp_proxy filter (after a tendril.kafkapolicy filter, if any), or all one envoy.filters.network.http_connection_manager' },
      { kind: 'Listener', resource: 'no-cluster', message: 'filter chain "a": tcp_proxy needs a cluster or weighted_clusters' },
    ]);
  });
});

describe('tcp_proxy chains that terminate TLS (TLSRoute Terminate mode)', () => {
  let gatewayCert: TestCertificate;
  let backendCert: TestCertificate;
  const servers: net.Server[] = [];
  const runtime = new ProxyRuntime({ accessLog: () => undefined, drainTimeoutMs: 1_000 });

  beforeAll(async () => {
    [gatewayCert, backendCert] = await Promise.all([selfSignedCertificate(['terminate.example']), selfSignedCertificate(['passthrough.example'])]);
    servers.push(await echoBackend(), await tlsBackend('passthrough', backendCert));
  });
  afterAll(async () => {
    await runtime.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('ends TLS with the chain\'s certificate and relays the plaintext, beside a passthrough chain on the same listener', async () => {
    const terminating: FilterChain = {
      ...tcpProxyChain('terminate', 'plain-echo', ['terminate.example']),
      transport_socket: {
        name: 'envoy.transport_sockets.tls',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
          common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: gatewayCert.cert }, private_key: { inline_string: gatewayCert.key } }] },
        },
      },
    };
    const result = await runtime.apply({
      listeners: [passthroughListener([terminating, tcpProxyChain('passthrough', 'tls-backend', ['passthrough.example'])])],
      routes: [],
      clusters: [edsCluster('plain-echo'), edsCluster('tls-backend')],
      endpoints: [loadAssignment('plain-echo', [{ port: portOf(servers[0]) }]), loadAssignment('tls-backend', [{ port: portOf(servers[1]) }])],
    });
    expect(result.errors).toEqual([]);
    const port = result.listeners[0].port;
    // The Gateway's certificate answers, and the plain echo backend sees (and echoes) the cleartext.
    const echoed = await new Promise<{ fingerprint: string; text: string }>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'terminate.example', ca: [gatewayCert.cert], checkServerIdentity: () => undefined }, () => socket.write('ping'));
      socket.setEncoding('utf8');
      socket.once('data', (text: string) => {
        resolve({ fingerprint: socket.getPeerCertificate().fingerprint256, text });
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect(echoed).toEqual({ fingerprint: gatewayCert.fingerprint, text: 'ping' });
    expect(await tlsThrough(port, 'passthrough.example', [backendCert.cert])).toEqual({ fingerprint: backendCert.fingerprint, text: 'hello from passthrough' });
  });
});

describe('tcp_proxy weighted_clusters', () => {
  const servers: net.Server[] = [];
  const runtime = new ProxyRuntime({ accessLog: () => undefined, drainTimeoutMs: 1_000 });
  afterAll(async () => {
    await runtime.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  function weightedListener(clusters: Array<{ name?: string; weight?: number }>): Listener {
    return {
      name: 'weighted',
      address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
      filter_chains: [
        {
          name: 'tcp',
          filters: [
            {
              name: 'envoy.filters.network.tcp_proxy',
              typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'tcp', weighted_clusters: { clusters } },
            },
          ],
        },
      ],
    };
  }

  /** A plain TCP backend that answers every connection with its name, then closes. */
  async function namedBackend(name: string): Promise<net.Server> {
    const server = net.createServer((socket) => socket.end(name));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return server;
  }

  function answerOf(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.once('end', () => resolve(text));
      socket.once('error', reject);
    });
  }

  it('spreads connections over the clusters by weight, none to a weight 0 cluster', async () => {
    const [heavy, light, none] = await Promise.all([namedBackend('heavy'), namedBackend('light'), namedBackend('none')]);
    const result = await runtime.apply({
      listeners: [weightedListener([{ name: 'heavy', weight: 3 }, { name: 'light', weight: 1 }, { name: 'none', weight: 0 }])],
      routes: [],
      clusters: [edsCluster('heavy'), edsCluster('light'), edsCluster('none')],
      endpoints: [loadAssignment('heavy', [{ port: portOf(heavy) }]), loadAssignment('light', [{ port: portOf(light) }]), loadAssignment('none', [{ port: portOf(none) }])],
    });
    expect(result.errors).toEqual([]);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i += 1) {
      const answer = await answerOf(result.listeners[0].port);
      counts[answer] = (counts[answer] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(['heavy', 'light']);
    // Expected 150 of 200 (σ ≈ 6): a band of ±40 cannot fail by chance, and fails for an even or one-sided split.
    expect(counts.heavy).toBeGreaterThan(110);
    expect(counts.heavy).toBeLessThan(190);
  });

  it('rejects weighted_clusters it cannot serve, naming the chain', async () => {
    const result = await runtime.validate({
      listeners: [
        { ...weightedListener([{ name: 'a', weight: 0 }]), name: 'all-zero' },
        { ...weightedListener([{ weight: 1 }]), name: 'unnamed' },
        { ...weightedListener([{ name: 'a', weight: 1.5 }]), name: 'fractional' },
      ],
      routes: [],
      clusters: [edsCluster('a')],
      endpoints: [],
    });
    expect(result).toEqual([
      { kind: 'Listener', resource: 'all-zero', message: 'filter chain "tcp": tcp_proxy weighted_clusters total weight must be greater than 0' },
      { kind: 'Listener', resource: 'unnamed', message: 'filter chain "tcp": a tcp_proxy weighted_clusters entry has no name' },
      { kind: 'Listener', resource: 'fractional', message: 'filter chain "tcp": tcp_proxy weighted_clusters entry "a" has invalid weight 1.5' },
    ]);
  });
});

describe('TLSRoute passthrough from Gateway API, served by the proxy', () => {
  const servers: net.Server[] = [];
  const runtime = new ProxyRuntime({ accessLog: () => undefined, drainTimeoutMs: 1_000 });
  afterAll(async () => {
    await runtime.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('sends each SNI to its TLSRoute\'s backend without terminating TLS', async () => {
    const [certA, certB] = await Promise.all([selfSignedCertificate(['a.example']), selfSignedCertificate(['*.wild.example'])]);
    const [a, b] = await Promise.all([tlsBackend('a', certA), tlsBackend('b', certB)]);
    servers.push(a, b);
    const port = await unusedPort();
    const ns = 'infra';
    const backend = (name: string, server: net.Server): KubeObject[] => [
      { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ name: 'tls', port: 443 }] } } as KubeObject,
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${name}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
        addressType: 'IPv4',
        ports: [{ name: 'tls', port: portOf(server), protocol: 'TCP' }],
        endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      } as KubeObject,
    ];
    const tlsRoute = (name: string, sectionName: string, service: string, hostnames?: string[]): KubeObject =>
      ({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'TLSRoute',
        metadata: { name, namespace: ns, generation: 1 },
        spec: { parentRefs: [{ name: 'gw', sectionName }], ...(hostnames ? { hostnames } : {}), rules: [{ backendRefs: [{ name: service, port: 443 }] }] },
      }) as KubeObject;
    const resources: KubeObject[] = [
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'tendril', generation: 1 }, spec: { controllerName: 'tendril.io/gateway-controller' } } as KubeObject,
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'gw', namespace: ns, generation: 1 },
        spec: {
          gatewayClassName: 'tendril',
          listeners: [
            { name: 'any', port, protocol: 'TLS', tls: { mode: 'Passthrough' } },
            { name: 'wild', port, protocol: 'TLS', hostname: '*.wild.example', tls: { mode: 'Passthrough' } },
          ],
        },
      } as KubeObject,
      ...backend('backend-a', a),
      ...backend('backend-b', b),
      tlsRoute('to-a', 'any', 'backend-a', ['a.example']),
      tlsRoute('to-b', 'wild', 'backend-b'),
    ];
    const { envoy } = translate({ resources, controllerName: 'tendril.io/gateway-controller', now: '2026-01-01T00:00:00Z', options: { defaultAddress: '127.0.0.1' } });
    const result = await runtime.apply(envoy as unknown as ProxyConfig);
    expect(result.errors).toEqual([]);
    expect(await tlsThrough(port, 'a.example', [certA.cert])).toEqual({ fingerprint: certA.fingerprint, text: 'hello from a' });
    expect(await tlsThrough(port, 'x.wild.example', [certB.cert])).toEqual({ fingerprint: certB.fingerprint, text: 'hello from b' });
    await expect(tlsThrough(port, 'unknown.example', [certA.cert])).rejects.toThrow(/closed before the TLS handshake finished|ECONNRESET|socket disconnected/);
  });
});

describe('readClientHello', () => {
  let hello: Buffer;

  beforeAll(async () => {
    // A real ClientHello, as node's TLS client sends it.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const captured = new Promise<Buffer>((resolve) => server.once('connection', (socket) => socket.once('data', (chunk: Buffer) => { resolve(chunk); socket.destroy(); })));
    const client = tls.connect({ host: '127.0.0.1', port: portOf(server), servername: 'Sni.Example' });
    client.on('error', () => undefined);
    hello = await captured;
    client.destroy();
    server.close();
  });

  it('reads the server name (lower-cased) from a ClientHello', () => {
    expect(readClientHello(hello)).toEqual({ kind: 'tls', serverName: 'sni.example' });
  });

  it('asks for more bytes until the ClientHello is complete', () => {
    for (const length of [0, 3, 5, 40, hello.length - 1]) expect(readClientHello(hello.subarray(0, length))).toEqual({ kind: 'incomplete' });
  });

  it('reassembles a ClientHello split over two TLS records', () => {
    const payload = hello.subarray(5);
    const record = (part: Buffer): Buffer => Buffer.concat([Buffer.from([22, 3, 1, part.length >> 8, part.length & 0xff]), part]);
    const split = Buffer.concat([record(payload.subarray(0, 20)), record(payload.subarray(20))]);
    expect(readClientHello(split.subarray(0, 30))).toEqual({ kind: 'incomplete' });
    expect(readClientHello(split)).toEqual({ kind: 'tls', serverName: 'sni.example' });
  });

  it('recognises bytes that are not a TLS ClientHello', () => {
    expect(readClientHello(Buffer.from('GET / HTTP/1.1\r\n'))).toMatchObject({ kind: 'not-tls' });
    const notHello = Buffer.from(hello);
    notHello[5] = 2; // a ServerHello
    expect(readClientHello(notHello)).toMatchObject({ kind: 'not-tls' });
  });
});
