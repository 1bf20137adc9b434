import type { envoy } from '@tendril/api-envoy';
import * as https from 'node:https';
import { selfSignedCertificate, tlsSecret, type TestCertificate } from './certificates';
import { edsCluster, loadAssignment, ProxyHarness, routeConfig, toCluster, vhost } from './fixtures';

type FilterChain = envoy.config.listener.v3.FilterChain;
const ADS = { ads: {}, resource_api_version: 'V3' as const };

/** A chain for `serverName` whose DownstreamTlsContext checks client certificates as `validation` says. */
function chain(serverName: string, validation: Record<string, unknown>, requireClientCertificate: boolean): FilterChain {
  return {
    name: serverName,
    filter_chain_match: { server_names: [serverName] },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        ...(requireClientCertificate ? { require_client_certificate: true } : {}),
        common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'server', sds_config: ADS }], alpn_protocols: ['http/1.1'], validation_context: validation },
      },
    },
    filters: [
      {
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'https',
          rds: { route_config_name: 'routes', config_source: ADS },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        },
      },
    ],
  };
}

describe('client certificate validation on TLS listeners (DownstreamTlsContext validation_context)', () => {
  const harness = new ProxyHarness();
  let server: TestCertificate;
  let trustedClient: TestCertificate;
  let otherClient: TestCertificate;

  beforeAll(async () => {
    [server, trustedClient, otherClient] = await Promise.all([selfSignedCertificate(['*.example']), selfSignedCertificate(['client']), selfSignedCertificate(['client'])]);
    const backend = await harness.backend('backend');
    const ca = { trusted_ca: { inline_string: trustedClient.cert } };
    await harness.apply({
      listeners: [
        {
          name: 'https',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
          filter_chains: [chain('strict.example', ca, true), chain('optional.example', ca, false), chain('fallback.example', { ...ca, trust_chain_verification: 'ACCEPT_UNTRUSTED' }, false)],
        },
      ],
      routes: [routeConfig('routes', [vhost('all', ['*'], [toCluster('/', 'backend')])])],
      clusters: [edsCluster('backend')],
      endpoints: [loadAssignment('backend', [{ port: backend.port }])],
      secrets: [tlsSecret('server', server)],
    });
  });
  afterAll(() => harness.close());

  /** One HTTPS request with this SNI, presenting `client` when given: the status, or the error's message. */
  function get(serverName: string, client?: TestCertificate): Promise<number | string> {
    return new Promise((resolve) => {
      const req = https.request(
        { host: '127.0.0.1', port: harness.port, path: '/', servername: serverName, ca: server.cert, agent: false, checkServerIdentity: () => undefined, headers: { host: serverName }, ...(client ? { cert: client.cert, key: client.key } : {}) },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', (err) => resolve(err.message));
      req.end();
    });
  }

  it('AllowValidOnly (require_client_certificate): only a certificate from the trusted CA gets through', async () => {
    expect(await get('strict.example', trustedClient)).toBe(200);
    expect(await get('strict.example', otherClient)).toEqual(expect.any(String));
    expect(await get('strict.example')).toEqual(expect.any(String));
  });

  it('without require_client_certificate a client may present none, but not an untrusted one', async () => {
    expect(await get('optional.example')).toBe(200);
    expect(await get('optional.example', trustedClient)).toBe(200);
    expect(await get('optional.example', otherClient)).toEqual(expect.any(String));
  });

  it('ACCEPT_UNTRUSTED (insecure fallback): any certificate, or none, gets through', async () => {
    expect(await get('fallback.example', trustedClient)).toBe(200);
    expect(await get('fallback.example', otherClient)).toBe(200);
    expect(await get('fallback.example')).toBe(200);
  });

  it('refuses a validation_context it cannot check against', async () => {
    const result = await harness.runtime.apply({
      listeners: [{ name: 'bad', address: { socket_address: { address: '127.0.0.1', port_value: 0 } }, filter_chains: [chain('x.example', { trusted_ca: { inline_string: 'garbage' } }, true)] }],
      routes: [],
      clusters: [],
      endpoints: [],
      secrets: [tlsSecret('server', server)],
    });
    expect(result.accepted).toBe(false);
    expect(JSON.stringify(result.errors)).toContain('validation_context.trusted_ca is not a PEM certificate bundle');
  });
});
