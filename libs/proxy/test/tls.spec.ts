import type { envoy } from '@tendril/api-envoy';
import * as http2 from 'node:http2';
import { Agent, request } from 'undici';
import { ProxyRuntime, validateConfig, type ProxyConfig } from '../src';
import { handshake, selfSignedCertificate, tlsSecret, type TestCertificate } from './certificates';
import { edsCluster, loadAssignment, ProxyHarness, routeConfig, toCluster, vhost } from './fixtures';

type Listener = envoy.config.listener.v3.Listener;
type FilterChain = envoy.config.listener.v3.FilterChain;

const ADS = { ads: {}, resource_api_version: 'V3' as const };

function hcm(routeConfigName: string): FilterChain['filters'] {
  return [
    {
      name: 'envoy.filters.network.http_connection_manager',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'https',
        codec_type: 'AUTO',
        rds: { route_config_name: routeConfigName, config_source: ADS },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      },
    },
  ];
}

interface ChainOptions {
  name: string;
  serverNames?: string[];
  secrets: string[];
  routeConfigName: string;
  alpn?: string[];
  extraTls?: Record<string, unknown>;
}

function tlsChain(options: ChainOptions): FilterChain {
  return {
    name: options.name,
    ...(options.serverNames ? { filter_chain_match: { server_names: options.serverNames } } : {}),
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        common_tls_context: {
          tls_certificate_sds_secret_configs: options.secrets.map((name) => ({ name, sds_config: ADS })),
          alpn_protocols: options.alpn ?? ['h2', 'http/1.1'],
        },
        ...options.extraTls,
      },
    },
    filters: hcm(options.routeConfigName),
  };
}

function tlsListener(chains: ChainOptions[], port = 0): Listener {
  return {
    name: 'https',
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
    filter_chains: chains.map(tlsChain),
  };
}

/** One request over HTTP/2 with TLS (ALPN h2), with its own SNI and :authority. */
function h2Request(port: number, options: { servername: string; authority: string; ca: string[]; path?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { servername: options.servername, ca: options.ca, checkServerIdentity: () => undefined });
    session.once('error', reject);
    const stream = session.request({ ':path': options.path ?? '/', ':authority': options.authority });
    let body = '';
    let status = 0;
    stream.setEncoding('utf8');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: string) => (body += chunk));
    // 'close', not 'end': a response without body ends with its headers.
    stream.once('close', () => {
      session.close();
      resolve({ status, body });
    });
    stream.once('error', reject);
  });
}

describe('TLS listeners', () => {
  let defaultCert: TestCertificate;
  let exactCert: TestCertificate;
  let wildcardCert: TestCertificate;
  let rotatedCert: TestCertificate;
  let ca: string[];
  const harness = new ProxyHarness();
  let backendPort = 0;

  beforeAll(async () => {
    [defaultCert, exactCert, wildcardCert, rotatedCert] = await Promise.all([
      selfSignedCertificate(['default.example']),
      selfSignedCertificate(['exact.example']),
      selfSignedCertificate(['*.wildcard.example']),
      selfSignedCertificate(['default.example']),
    ]);
    ca = [defaultCert.cert, exactCert.cert, wildcardCert.cert, rotatedCert.cert];
    backendPort = (await harness.backend('tls-backend')).port;
  });
  afterAll(() => harness.close());

  const routes = (name: string): envoy.config.route.v3.RouteConfiguration =>
    routeConfig(name, [vhost(name, ['*'], [toCluster('/', 'backend', {}, {})], { response_headers_to_add: [{ header: { key: 'x-chain', value: name } }] })]);

  function config(overrides: Partial<ProxyConfig> = {}): Partial<ProxyConfig> {
    return {
      listeners: [
        tlsListener([
          { name: 'default', secrets: ['default-cert'], routeConfigName: 'default-routes' },
          { name: 'exact', serverNames: ['exact.example'], secrets: ['exact-cert'], routeConfigName: 'exact-routes' },
          { name: 'wildcard', serverNames: ['*.wildcard.example'], secrets: ['wildcard-cert'], routeConfigName: 'wildcard-routes' },
        ]),
      ],
      routes: [routes('default-routes'), routes('exact-routes'), routes('wildcard-routes')],
      clusters: [edsCluster('backend')],
      endpoints: [loadAssignment('backend', [{ port: backendPort }])],
      secrets: [tlsSecret('default-cert', defaultCert), tlsSecret('exact-cert', exactCert), tlsSecret('wildcard-cert', wildcardCert)],
      ...overrides,
    };
  }

  it('serves HTTP/1.1 over TLS to a client trusting the certificate, telling the backend the scheme was https', async () => {
    await harness.apply(config());
    const client = new Agent({ connect: { ca, servername: 'exact.example' } });
    try {
      const response = await request(`https://127.0.0.1:${harness.port}/hello`, { headers: { host: 'exact.example' }, dispatcher: client });
      const echo = (await response.body.json()) as { path: string; headers: Record<string, string[]> };
      expect(response.statusCode).toBe(200);
      expect(response.headers['x-chain']).toBe('exact-routes');
      expect(echo.path).toBe('/hello');
      expect(echo.headers['X-Forwarded-Proto']).toEqual(['https']);
    } finally {
      await client.close();
    }
  });

  it('selects the filter chain by SNI: exact name, then the longest wildcard, then the chain without server names', async () => {
    await harness.apply(config());
    const port = harness.port;
    expect((await handshake(port, { servername: 'exact.example', ca })).fingerprint).toBe(exactCert.fingerprint);
    expect((await handshake(port, { servername: 'a.wildcard.example', ca })).fingerprint).toBe(wildcardCert.fingerprint);
    expect((await handshake(port, { servername: 'a.b.wildcard.example', ca })).fingerprint).toBe(wildcardCert.fingerprint);
    expect((await handshake(port, { servername: 'wildcard.example', ca })).fingerprint).toBe(defaultCert.fingerprint);
    expect((await handshake(port, { servername: 'EXACT.example', ca })).fingerprint).toBe(exactCert.fingerprint);
    expect((await handshake(port, { ca })).fingerprint).toBe(defaultCert.fingerprint);
  });

  it('routes each connection with the routes of the chain its SNI selected, over HTTP/2 as well', async () => {
    await harness.apply(config());
    const wildcard = await h2Request(harness.port, { servername: 'x.wildcard.example', authority: 'x.wildcard.example', ca, path: '/h2' });
    expect(wildcard.status).toBe(200);
    expect(JSON.parse(wildcard.body)).toMatchObject({ path: '/h2', protocol: 'HTTP/1.1' });
  });

  it('negotiates h2 or http/1.1 by ALPN in the listener\'s order of preference', async () => {
    await harness.apply(config());
    expect((await handshake(harness.port, { servername: 'exact.example', ca, alpn: ['http/1.1', 'h2'] })).alpnProtocol).toBe('h2');
    expect((await handshake(harness.port, { servername: 'exact.example', ca, alpn: ['http/1.1'] })).alpnProtocol).toBe('http/1.1');
    expect((await handshake(harness.port, { servername: 'exact.example', ca })).alpnProtocol).toBe(false);
  });

  it('refuses the handshake when no chain serves the SNI and there is no chain without server names', async () => {
    await harness.apply(
      config({
        listeners: [tlsListener([{ name: 'exact', serverNames: ['exact.example'], secrets: ['exact-cert'], routeConfigName: 'exact-routes' }])],
      }),
    );
    await expect(handshake(harness.port, { servername: 'other.example', ca })).rejects.toThrow();
    await expect(handshake(harness.port, { ca })).rejects.toThrow();
    expect((await handshake(harness.port, { servername: 'exact.example', ca })).fingerprint).toBe(exactCert.fingerprint);
  });

  it('rotates a certificate when its Secret changes, without dropping an established connection', async () => {
    await harness.apply(config());
    const port = harness.port;
    const session = http2.connect(`https://127.0.0.1:${port}`, { servername: 'default.example', ca, checkServerIdentity: () => undefined });
    const get = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ':path': '/', ':authority': 'default.example' });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.once('error', reject);
        stream.resume();
      });
    try {
      expect(await get()).toBe(200);
      await harness.apply(config({ secrets: [tlsSecret('default-cert', rotatedCert), tlsSecret('exact-cert', exactCert), tlsSecret('wildcard-cert', wildcardCert)] }));
      expect((await handshake(port, { servername: 'default.example', ca })).fingerprint).toBe(rotatedCert.fingerprint);
      expect(await get()).toBe(200);
      expect(session.closed).toBe(false);
    } finally {
      session.close();
    }
  });

  it('accepts a listener whose Secret has not arrived yet and serves it once the Secret does', async () => {
    await harness.apply(config({ secrets: [tlsSecret('exact-cert', exactCert), tlsSecret('wildcard-cert', wildcardCert)] }));
    await expect(handshake(harness.port, { servername: 'default.example', ca })).rejects.toThrow();
    expect((await handshake(harness.port, { servername: 'exact.example', ca })).fingerprint).toBe(exactCert.fingerprint);
    await harness.apply(config());
    expect((await handshake(harness.port, { servername: 'default.example', ca })).fingerprint).toBe(defaultCert.fingerprint);
  });
});

describe('validateConfig of TLS listeners and Secrets', () => {
  let certificate: TestCertificate;
  let other: TestCertificate;
  beforeAll(async () => {
    [certificate, other] = await Promise.all([selfSignedCertificate(['a.example']), selfSignedCertificate(['b.example'])]);
  });

  const base = (listener: Listener, secrets = [tlsSecret('cert', certificate)]): ProxyConfig => ({ listeners: [listener], routes: [], clusters: [], endpoints: [], secrets });

  it('accepts a listener with SDS certificates', () => {
    expect(validateConfig(base(tlsListener([{ name: 'a', secrets: ['cert'], routeConfigName: 'r' }])))).toEqual([]);
  });

  it('rejects a Secret that is not a certificate and key that belong together', () => {
    const garbage = { name: 'cert', tls_certificate: { certificate_chain: { inline_string: 'not a pem' }, private_key: { inline_string: certificate.key } } };
    const mismatched = tlsSecret('cert', { cert: certificate.cert, key: other.key });
    for (const secret of [garbage, mismatched]) {
      const errors = validateConfig(base(tlsListener([{ name: 'a', secrets: ['cert'], routeConfigName: 'r' }]), [secret]));
      expect(errors).toEqual([{ kind: 'Secret', resource: 'cert', message: expect.stringContaining('not a usable certificate and private key') }]);
    }
    expect(validateConfig(base(tlsListener([{ name: 'a', secrets: ['cert'], routeConfigName: 'r' }]), [{ name: 'cert', validation_context: {} }]))).toEqual([
      { kind: 'Secret', resource: 'cert', message: 'only tls_certificate and generic_secret secrets are supported' },
    ]);
    // A generic secret (an L7 header-match value) must carry its value.
    expect(validateConfig(base(tlsListener([{ name: 'a', secrets: ['cert'], routeConfigName: 'r' }]), [{ name: 'cert', generic_secret: { secret: {} } }]))).toEqual([
      { kind: 'Secret', resource: 'cert', message: 'generic_secret.secret is required' },
    ]);
  });

  it('rejects TLS settings it cannot honour, and chains it cannot tell apart, naming the chain', () => {
    const cases: Array<[Listener, string]> = [
      [tlsListener([{ name: 'a', secrets: ['cert'], routeConfigName: 'r', extraTls: { require_client_certificate: true } }]), 'filter chain "a": require_client_certificate needs a validation_context to check the certificate against'],
      [tlsListener([{ name: 'a', secrets: [], routeConfigName: 'r' }]), 'filter chain "a": a DownstreamTlsContext needs a certificate (tls_certificates or tls_certificate_sds_secret_configs)'],
      [
        tlsListener([
          { name: 'a', serverNames: ['x.example'], secrets: ['cert'], routeConfigName: 'r' },
          { name: 'b', serverNames: ['X.example'], secrets: ['cert'], routeConfigName: 'r' },
        ]),
        'filter chain "b": server name "X.example" is matched by more than one filter chain',
      ],
      [
        tlsListener([
          { name: 'a', secrets: ['cert'], routeConfigName: 'r' },
          { name: 'b', secrets: ['cert'], routeConfigName: 'r' },
        ]),
        'filter chain "b": more than one filter chain without server_names',
      ],
      [tlsListener([{ name: 'a', serverNames: ['w*.example'], secrets: ['cert'], routeConfigName: 'r' }]), 'filter chain "a": server_names entry "w*.example" is neither a host name nor a "*." wildcard'],
    ];
    for (const [listener, message] of cases) expect(validateConfig(base(listener))).toEqual([{ kind: 'Listener', resource: 'https', message }]);
    const mixed = tlsListener([{ name: 'a', serverNames: ['x.example'], secrets: ['cert'], routeConfigName: 'r' }]);
    mixed.filter_chains!.push({ name: 'plain', filters: hcm('r') });
    expect(validateConfig(base(mixed))).toEqual([{ kind: 'Listener', resource: 'https', message: 'filter chain "plain": a listener cannot mix TLS and cleartext filter chains' }]);
  });

  it('keeps serving the previous configuration when a Secret is rejected', async () => {
    const runtime = new ProxyRuntime({ accessLog: () => undefined });
    try {
      const good = await runtime.apply(base(tlsListener([{ name: 'a', secrets: ['cert'], routeConfigName: 'r' }])));
      expect(good.accepted).toBe(true);
      const port = good.listeners[0].port;
      const bad = await runtime.apply({ ...base(tlsListener([{ name: 'a', secrets: ['cert'], routeConfigName: 'r' }], port)), secrets: [tlsSecret('cert', { cert: certificate.cert, key: other.key })] });
      expect(bad.accepted).toBe(false);
      expect((await handshake(port, { ca: [certificate.cert] })).fingerprint).toBe(certificate.fingerprint);
    } finally {
      await runtime.close();
    }
  });
});
