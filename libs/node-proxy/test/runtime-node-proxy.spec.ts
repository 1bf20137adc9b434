import { request } from 'undici';
import { TypeUrl } from '@tendril/api-envoy';
import { ProxyRuntime, type ProxyConfig } from '@tendril/proxy';
import { eventually, freePort } from '@tendril/testing';
import { AdsServer, Snapshot, SnapshotCache, silentLogger } from '@tendril/xds';
import { runtimeNodeProxy } from '../src';

const ADS = { ads: {}, resource_api_version: 'V3' };

/** One HTTP listener with an empty route table (every request: 404), optionally transparent. */
function snapshot(version: string, port: number, transparent = false): Snapshot {
  return Snapshot.fromResources(version, [
    {
      typeUrl: TypeUrl.Listener,
      resource: {
        name: 'http',
        address: { socket_address: { address: '127.0.0.1', port_value: port } },
        ...(transparent ? { transparent: true } : {}),
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                  stat_prefix: 'http',
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
  ]);
}

describe('runtimeNodeProxy: the proxy runtime driven by the agent over ADS', () => {
  it('serves what the runtime accepts, NACKs what it refuses with its reason while the old listener keeps serving, and releases the runtime on stop', async () => {
    const cache = new SnapshotCache();
    const server = new AdsServer({ cache });
    const xdsPort = await server.listen('127.0.0.1:0');
    const port = await freePort();
    const applied: ProxyConfig[] = [];
    const rejected: string[][] = [];
    let closed = false;
    // No transparent network: a transparent listener cannot be served and must be refused.
    const runtime = new ProxyRuntime({ accessLog: () => undefined });
    const proxy = runtimeNodeProxy({
      xdsAddress: `127.0.0.1:${xdsPort}`,
      runtime,
      logger: silentLogger,
      nodeId: 'runtime-1',
      onApplied: (config) => applied.push(config),
      onRejected: (errors) => rejected.push(errors),
      afterClose: () => {
        closed = true;
      },
    });
    try {
      await proxy.start();
      cache.setDefault(snapshot('1', port));
      await eventually(async () => expect((await request(`http://127.0.0.1:${port}/x`)).statusCode).toBe(404));
      await eventually(() => expect(applied.at(-1)!.routes.map((r) => r['name'])).toEqual(['routes']));
      expect(applied.at(-1)!.listeners.map((l) => l['name'])).toEqual(['http']);
      const appliedBeforeRefusal = applied.length;
      expect(server.status.list()[0]).toMatchObject({ nodeId: 'runtime-1', protocol: 'delta' });

      cache.setDefault(snapshot('2', port, true));
      await eventually(() => expect(rejected).toHaveLength(1));
      expect(rejected[0]!.join('; ')).toMatch(/transparent/);
      await eventually(() => expect(server.status.list()[0]!.types[TypeUrl.Listener]!.lastNack?.message).toBe(rejected[0]!.join('; ')));
      expect((await request(`http://127.0.0.1:${port}/x`)).statusCode).toBe(404);
      expect(applied).toHaveLength(appliedBeforeRefusal);
    } finally {
      await proxy.stop();
      await server.close();
    }
    expect(closed).toBe(true);
    await expect(request(`http://127.0.0.1:${port}/x`)).rejects.toThrow(/ECONNREFUSED/);
  });
});
