import { request } from 'undici';
import { TypeUrl, unpackAny } from '@tendril/api-envoy';
import { eventually, freePort } from '@tendril/testing';
import { AdsServer, Snapshot, SnapshotCache, silentLogger } from '@tendril/xds';
import { NodeProxy, type DataPlaneConfig } from '../src';

function snapshot(label: string, listenerName: string): Snapshot {
  return Snapshot.fromResources(label, [
    { typeUrl: TypeUrl.Cluster, resource: { name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } } } },
    { typeUrl: TypeUrl.ClusterLoadAssignment, resource: { cluster_name: 'c', endpoints: [] } },
    { typeUrl: TypeUrl.Listener, resource: { name: listenerName, address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } },
  ]);
}

async function json(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

describe('NodeProxy', () => {
  it('is not ready before its first listeners, then applies them and serves its config on the admin API', async () => {
    const cache = new SnapshotCache();
    const server = new AdsServer({ cache });
    const xdsPort = await server.listen('127.0.0.1:0');
    const applied: DataPlaneConfig[] = [];
    const adminPort = await freePort();
    const proxy = new NodeProxy({
      target: `127.0.0.1:${xdsPort}`,
      node: { id: 'np-1' },
      protocol: 'sotw',
      decodeAny: (a) => unpackAny(a),
      logger: silentLogger,
      adminAddress: `127.0.0.1:${adminPort}`,
      dataPlane: {
        apply: async (config) => {
          if (config.listeners.some((l) => l['name'] === 'unservable')) throw new Error('listener "unservable" cannot be served');
          applied.push(config);
        },
        close: async () => undefined,
      },
    });
    try {
      await proxy.start();
      expect((await json(`http://127.0.0.1:${adminPort}/ready`)).status).toBe(503);
      cache.setDefault(snapshot('1', 'good'));
      await eventually(async () => expect((await json(`http://127.0.0.1:${adminPort}/ready`)).status).toBe(200));
      const dump = JSON.parse((await json(`http://127.0.0.1:${adminPort}/config_dump`)).body);
      expect(dump.listeners.map((l: { name: string }) => l.name)).toEqual(['good']);
      expect(dump.clusters.map((c: { name: string }) => c.name)).toEqual(['c']);

      // A rejected update is counted, keeps the old listeners, and reaches the agent as a NACK.
      cache.setDefault(snapshot('2', 'unservable'));
      await eventually(async () => {
        const stats = JSON.parse((await json(`http://127.0.0.1:${adminPort}/stats`)).body);
        expect(stats.rejected).toBe(1);
        expect(stats.lastRejection.message).toBe('listener "unservable" cannot be served');
        // GC pauses by kind, for telling a latency tail from the heap.
        expect(stats.gc.scavenge).toEqual({ count: expect.any(Number), totalMs: expect.any(Number), maxMs: expect.any(Number) });
        expect(Object.keys(stats.gc)).toEqual(['scavenge', 'markCompact', 'incrementalMarking', 'weakCallbacks']);
      });
      expect(JSON.parse((await json(`http://127.0.0.1:${adminPort}/config_dump`)).body).listeners[0].name).toBe('good');
      await eventually(() => expect(server.status.list()[0].types[TypeUrl.Listener].lastNack?.message).toBe('listener "unservable" cannot be served'));
      expect(applied.at(-1)!.listeners.map((l) => l['name'])).toEqual(['good']);
    } finally {
      await proxy.stop();
      await server.close();
    }
  });

  it('hands the data plane the header-match secrets NPDS names and the NPHDS hosts; /config_dump redacts the secret', async () => {
    const cache = new SnapshotCache();
    const server = new AdsServer({ cache });
    const xdsPort = await server.listen('127.0.0.1:0');
    const applied: DataPlaneConfig[] = [];
    const adminPort = await freePort();
    const proxy = new NodeProxy({
      target: `127.0.0.1:${xdsPort}`,
      node: { id: 'np-2' },
      protocol: 'delta',
      decodeAny: (a) => unpackAny(a),
      logger: silentLogger,
      adminAddress: `127.0.0.1:${adminPort}`,
      dataPlane: { apply: async (config) => void applied.push(config), close: async () => undefined },
    });
    try {
      await proxy.start();
      cache.setDefault(
        Snapshot.fromResources('1', [
          { typeUrl: TypeUrl.NetworkPolicy, resource: { name: '10.244.0.5', ingress_per_port_policies: [{ port: 80, rules: [{ http_rules: { http_rules: [{ header_matches: [{ name: 'x-token', value_sds_secret: 'policy-secret/shop/token' }] }] } }] }] } },
          { typeUrl: TypeUrl.NetworkPolicyHosts, resource: { policy: 300, host_addresses: ['10.244.0.7/32'] } },
          { typeUrl: TypeUrl.Secret, resource: { name: 'policy-secret/shop/token', generic_secret: { secret: { inline_string: 's3cr3t' } } } },
        ]),
      );
      await eventually(() => expect(applied.at(-1)?.secrets).toHaveLength(1));
      expect(applied.at(-1)!.secrets[0]).toMatchObject({ name: 'policy-secret/shop/token', generic_secret: { secret: { inline_string: 's3cr3t' } } });
      expect(applied.at(-1)!.networkPolicyHosts).toMatchObject([{ policy: 300, host_addresses: ['10.244.0.7/32'] }]);
      const dump = (await json(`http://127.0.0.1:${adminPort}/config_dump`)).body;
      expect(JSON.parse(dump).secrets).toMatchObject([{ name: 'policy-secret/shop/token', generic_secret: { secret: { inline_string: '[redacted]' } } }]);
      expect(dump).not.toContain('s3cr3t');
    } finally {
      await proxy.stop();
      await server.close();
    }
  });
});
