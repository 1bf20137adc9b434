import type { KubeObject } from '@tendril/api-k8s';
import { translate } from '@tendril/gateway';
import type { EchoResponse } from '@tendril/testing';
import * as http2 from 'node:http2';
import { Agent, request } from 'undici';
import type { ProxyConfig } from '../src';
import { selfSignedCertificate, type TestCertificate } from './certificates';
import { ProxyHarness, unusedPort } from './fixtures';

// The translator's HTTPS listeners served by the proxy: the upstream conformance tests
// HTTPRouteHTTPSListener and HTTPRouteHTTPSListenerDetectMisdirectedRequests, cluster-free.

const CONTROLLER = 'tendril.io/gateway-controller';
const NS = 'gateway-conformance-infra';

function httpsListener(name: string, port: number, hostname?: string): Record<string, unknown> {
  return {
    name,
    port,
    protocol: 'HTTPS',
    ...(hostname ? { hostname } : {}),
    tls: { certificateRefs: [{ group: '', kind: 'Secret', name: 'tls-validity-checks-certificate' }] },
  };
}

function route(name: string, backend: string, options: { sectionName?: string; hostnames?: string[] }): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: NS, generation: 1 },
    spec: {
      parentRefs: [{ name: 'same-namespace-with-https-listener', ...(options.sectionName ? { sectionName: options.sectionName } : {}) }],
      ...(options.hostnames ? { hostnames: options.hostnames } : {}),
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/detect-misdirected-requests' } }], backendRefs: [{ name: backend, port: 8080 }] }],
    },
  } as KubeObject;
}

/** The HTTPS part of HTTPRouteRedirectPortAndScheme: redirects keep https and the listener port unless told otherwise. */
function redirects(): KubeObject {
  const rule = (path: string, redirect: Record<string, unknown>): Record<string, unknown> => ({
    matches: [{ path: { type: 'PathPrefix', value: path } }],
    filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.org', ...redirect } }],
  });
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'redirects', namespace: NS, generation: 1 },
    spec: {
      parentRefs: [{ name: 'same-namespace-with-https-listener', sectionName: 'https' }],
      hostnames: ['redirect.example.org'],
      rules: [
        rule('/scheme-nil-and-port-nil', {}),
        rule('/scheme-nil-and-port-8443', { port: 8443 }),
        rule('/scheme-http-and-port-nil', { scheme: 'http' }),
        rule('/scheme-http-and-port-8080', { scheme: 'http', port: 8080 }),
      ],
    },
  } as KubeObject;
}

function service(name: string, backendPort: number): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { ports: [{ name: 'http', port: 8080 }] } } as KubeObject,
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-slice`, namespace: NS, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: backendPort, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    } as KubeObject,
  ];
}

function h2Get(port: number, servername: string, authority: string, ca: string[], path = '/detect-misdirected-requests'): Promise<{ status: number; pod?: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { servername, ca, checkServerIdentity: () => undefined });
    session.once('error', reject);
    const stream = session.request({ ':path': path, ':authority': authority });
    let status = 0;
    let location: string | undefined;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      location = headers.location;
    });
    stream.on('data', (chunk: string) => (body += chunk));
    stream.once('error', reject);
    // 'close', not 'end': a response without body (a local 404 or 421) ends with its headers.
    stream.once('close', () => {
      session.close();
      let pod: string | undefined;
      try {
        pod = (JSON.parse(body) as EchoResponse).pod;
      } catch {
        // a local reply (404, 421), not the echo backend
      }
      resolve({ status, pod, location });
    });
  });
}

describe('HTTPS listeners from Gateway API, served by the proxy', () => {
  const harness = new ProxyHarness();
  let certificate: TestCertificate;
  let httpsPort = 0;
  let httpPort = 0;

  beforeAll(async () => {
    certificate = await selfSignedCertificate(['example.org', 'second-example.org', '*.wildcard.org']);
    const backends = await Promise.all(['infra-backend-v1', 'infra-backend-v2', 'infra-backend-v3'].map((name) => harness.backend(name)));
    [httpsPort, httpPort] = [await unusedPort(), await unusedPort()];
    const resources: KubeObject[] = [
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'tendril', generation: 1 }, spec: { controllerName: CONTROLLER } } as KubeObject,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'tls-validity-checks-certificate', namespace: NS },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': certificate.cert, 'tls.key': certificate.key },
      } as KubeObject,
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'same-namespace-with-https-listener', namespace: NS, generation: 1 },
        spec: {
          gatewayClassName: 'tendril',
          listeners: [
            httpsListener('https', httpsPort),
            httpsListener('https-with-hostname', httpsPort, 'second-example.org'),
            httpsListener('https-with-wildcard-hostname', httpsPort, '*.wildcard.org'),
            httpsListener('https-with-hostname-matching-wildcard', httpsPort, 'fourth-example.wildcard.org'),
            { name: 'http', port: httpPort, protocol: 'HTTP' },
          ],
        },
      } as KubeObject,
      ...backends.flatMap((b, i) => service(`infra-backend-v${i + 1}`, b.port)),
      route('test-1', 'infra-backend-v1', { sectionName: 'https', hostnames: ['example.org'] }),
      route('test-2', 'infra-backend-v2', { sectionName: 'https-with-hostname' }),
      route('test-3', 'infra-backend-v3', { sectionName: 'https-with-wildcard-hostname' }),
      route('test-4', 'infra-backend-v1', { sectionName: 'https-with-hostname-matching-wildcard' }),
      route('plain', 'infra-backend-v2', { sectionName: 'http' }),
      redirects(),
    ];
    const { envoy } = translate({ resources, controllerName: CONTROLLER, now: '2026-01-01T00:00:00Z', options: { defaultAddress: '127.0.0.1' } });
    await harness.apply(envoy as unknown as ProxyConfig);
  });
  afterAll(() => harness.close());

  // [SNI, Host, status, backend ('' for a local reply)] exactly as the upstream test lists them.
  const cases: Array<[string, string, number, string]> = [
    ['example.org', 'example.org', 200, 'infra-backend-v1'],
    ['example.org', 'second-example.org', 421, ''],
    ['example.org', 'unknown-example.org', 404, ''],
    ['second-example.org', 'second-example.org', 200, 'infra-backend-v2'],
    ['second-example.org', 'example.org', 421, ''],
    ['second-example.org', 'unknown-example.org', 421, ''],
    ['third-example.wildcard.org', 'third-example.wildcard.org', 200, 'infra-backend-v3'],
    ['third-example.wildcard.org', 'fith-example.wildcard.org', 200, 'infra-backend-v3'],
    ['third-example.wildcard.org', 'fourth-example.wildcard.org', 421, ''],
    ['third-example.wildcard.org', 'second-example.org', 421, ''],
    ['third-example.wildcard.org', 'unknown-example.org', 421, ''],
    ['fourth-example.wildcard.org', 'fourth-example.wildcard.org', 200, 'infra-backend-v1'],
    ['fourth-example.wildcard.org', 'fith-example.wildcard.org', 421, ''],
    ['unknown-example.org', 'example.org', 200, 'infra-backend-v1'],
    ['unknown-example.org', 'unknown-example.org', 404, ''],
  ];

  it.each(cases)('SNI %s, Host %s over h2: %d %s', async (sni, host, status, backend) => {
    const response = await h2Get(httpsPort, sni, host, [certificate.cert]);
    expect(response.status).toBe(status);
    if (backend) expect(response.pod).toBe(backend);
  });

  it('redirects from an HTTPS listener keep the https scheme and the listener port unless the filter sets them', async () => {
    const location = async (path: string): Promise<string | undefined> => {
      const response = await h2Get(httpsPort, 'redirect.example.org', 'redirect.example.org', [certificate.cert], path);
      expect(response.status).toBe(302);
      return response.location;
    };
    expect(await location('/scheme-nil-and-port-nil')).toBe(`https://example.org:${httpsPort}/scheme-nil-and-port-nil`);
    expect(await location('/scheme-nil-and-port-8443')).toBe('https://example.org:8443/scheme-nil-and-port-8443');
    // The upstream test accepts the new scheme's well-known port written out or left off.
    expect(await location('/scheme-http-and-port-nil')).toMatch(/^http:\/\/example\.org(:80)?\/scheme-http-and-port-nil$/);
    expect(await location('/scheme-http-and-port-8080')).toBe('http://example.org:8080/scheme-http-and-port-8080');
  });

  it('serves HTTPS over HTTP/1.1 with SNI equal to the Host, and keeps the HTTP listener on its own port', async () => {
    const client = new Agent({ connect: { ca: [certificate.cert], servername: 'second-example.org' } });
    try {
      const secure = await request(`https://127.0.0.1:${httpsPort}/detect-misdirected-requests`, { headers: { host: 'second-example.org' }, dispatcher: client });
      expect(secure.statusCode).toBe(200);
      expect(((await secure.body.json()) as EchoResponse).pod).toBe('infra-backend-v2');
      const plain = await request(`http://127.0.0.1:${httpPort}/detect-misdirected-requests`, { headers: { host: 'example.org' } });
      expect(plain.statusCode).toBe(200);
      expect(((await plain.body.json()) as EchoResponse).pod).toBe('infra-backend-v2');
    } finally {
      await client.close();
    }
  });
});
