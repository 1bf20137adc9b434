import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import { TypeUrl } from '@tendril/api-envoy';
import { ProxyRuntime } from '@tendril/proxy';
import { eventually, freePort } from '@tendril/testing';
import { AdsServer, Snapshot, SnapshotCache, silentLogger } from '@tendril/xds';
import { runtimeNodeProxy } from '../src';

const ADS = { ads: {}, resource_api_version: 'V3' };

/** A throwaway self-signed certificate, made per run with openssl (no key is committed). */
async function certificate(name: string): Promise<{ cert: string; key: string; fingerprint: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tendril-sds-'));
  try {
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    const [cert, key] = await Promise.all([readFile(join(dir, 'cert.pem'), 'utf8'), readFile(join(dir, 'key.pem'), 'utf8')]);
    return { cert, key, fingerprint: new X509Certificate(cert).fingerprint256 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function presentedFingerprint(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

function snapshot(version: string, port: number, secret: { cert: string; key: string }): Snapshot {
  return Snapshot.fromResources(version, [
    {
      typeUrl: TypeUrl.Listener,
      resource: {
        name: 'https',
        address: { socket_address: { address: '127.0.0.1', port_value: port } },
        listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
        filter_chains: [
          {
            filter_chain_match: { server_names: ['secure.example'] },
            transport_socket: {
              name: 'envoy.transport_sockets.tls',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
                common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'ns/certificate', sds_config: ADS }], alpn_protocols: ['h2', 'http/1.1'] },
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
          },
        ],
      },
    },
    { typeUrl: TypeUrl.RouteConfiguration, resource: { name: 'routes', virtual_hosts: [] } },
    {
      typeUrl: TypeUrl.Secret,
      resource: { name: 'ns/certificate', tls_certificate: { certificate_chain: { inline_string: secret.cert }, private_key: { inline_string: secret.key } } },
    },
  ]);
}

describe('NodeProxy with the proxy runtime: certificates over SDS', () => {
  it('serves a TLS listener with the Secret it names, fetched over ADS, and rotates it when the Secret changes', async () => {
    const [first, second] = await Promise.all([certificate('secure.example'), certificate('secure.example')]);
    const cache = new SnapshotCache();
    const server = new AdsServer({ cache });
    const xdsPort = await server.listen('127.0.0.1:0');
    const runtime = new ProxyRuntime({ accessLog: () => undefined });
    const proxy = runtimeNodeProxy({ xdsAddress: `127.0.0.1:${xdsPort}`, runtime, logger: silentLogger, nodeId: 'sds-1', protocol: 'sotw' });
    const port = await freePort();
    try {
      await proxy.start();
      cache.setDefault(snapshot('1', port, first));
      await eventually(async () => expect(await presentedFingerprint(port, 'secure.example')).toBe(first.fingerprint));
      cache.setDefault(snapshot('2', port, second));
      await eventually(async () => expect(await presentedFingerprint(port, 'secure.example')).toBe(second.fingerprint));
    } finally {
      await proxy.stop();
      await server.close();
    }
  });
});
