import { TypeUrl, unpackAny } from '@tendril/api-envoy';
import { AdsClient, AdsServer, Snapshot, SnapshotCache, type ResourceState } from '../src';
import { eventually } from '@tendril/testing';
import { gatewayResources, gatewaySnapshot } from './fixtures';

type Protocol = 'sotw' | 'delta';

interface Harness {
  cache: SnapshotCache;
  server: AdsServer;
  client: AdsClient;
  applied: Array<{ type: string; state: ResourceState }>;
  port: number;
  rejectWhen: { predicate?: (state: ResourceState) => string | undefined };
  close(): Promise<void>;
}

async function start(protocol: Protocol, port = 0, onExplicitSubscription?: (cache: SnapshotCache, typeUrl: string, names: readonly string[]) => void): Promise<Harness> {
  const cache = new SnapshotCache();
  cache.setDefault(gatewaySnapshot('1'));
  const server = new AdsServer({ cache, onExplicitSubscription: onExplicitSubscription && ((typeUrl, names) => onExplicitSubscription(cache, typeUrl, names)) });
  const bound = await server.listen(`127.0.0.1:${port}`);
  const applied: Harness['applied'] = [];
  const rejectWhen: Harness['rejectWhen'] = {};
  const client = new AdsClient({
    target: `127.0.0.1:${bound}`,
    node: { id: 'node-a', cluster: 'test' },
    protocol,
    decodeAny: (any) => unpackAny(any),
    initialBackoffMs: 50,
    maxBackoffMs: 200,
    apply: async (state, type) => {
      const reason = rejectWhen.predicate?.(state);
      if (reason) throw new Error(reason);
      applied.push({ type, state });
    },
  });
  client.start();
  const harness: Harness = {
    cache,
    server,
    client,
    applied,
    port: bound,
    rejectWhen,
    // Closes whichever server the test left in place (the restart test swaps it).
    close: async () => {
      client.stop();
      await harness.server.close();
    },
  };
  return harness;
}

function routePrefix(state: ResourceState): unknown {
  const rc = state.get(TypeUrl.RouteConfiguration)?.get('default/gw/8080') as { virtual_hosts: Array<{ routes: Array<{ match: { prefix: string } }> }> } | undefined;
  return rc?.virtual_hosts[0].routes[0].match.prefix;
}

describe.each<Protocol>(['sotw', 'delta'])('ADS (%s)', (protocol) => {
  jest.setTimeout(20_000);
  let h: Harness;
  afterEach(() => h.close());

  it('announces explicit subscriptions before answering them, so resources can be built on demand', async () => {
    const calls: Array<[string, string[]]> = [];
    h = await start(protocol, 0, (cache, typeUrl, names) => {
      calls.push([typeUrl, [...names]]);
      // The route configuration the client asks for by name is (re)built right now.
      if (typeUrl === TypeUrl.RouteConfiguration) cache.setDefault(gatewaySnapshot('on-demand', { routePath: '/built-on-demand' }));
    });
    await eventually(() => expect(routePrefix(h.client.resources())).toBe('/built-on-demand'));
    // Wildcard subscriptions (LDS, CDS of the proxy) are never announced; RDS and EDS names are.
    const types = new Set(calls.map(([t]) => t));
    expect(types.has(TypeUrl.Listener)).toBe(false);
    expect(types.has(TypeUrl.Cluster)).toBe(false);
    expect(calls).toContainEqual([TypeUrl.RouteConfiguration, ['default/gw/8080']]);
  });

  it('delivers listeners, routes, clusters and endpoints, and records the ACKs per node', async () => {
    h = await start(protocol);
    await eventually(() => expect(routePrefix(h.client.resources())).toBe('/'));
    const state = h.client.resources();
    expect([...state.get(TypeUrl.Cluster)!.keys()]).toEqual(['default/echo/8080']);
    expect([...state.get(TypeUrl.ClusterLoadAssignment)!.keys()]).toEqual(['default/echo/8080']);
    expect([...state.get(TypeUrl.Listener)!.keys()]).toEqual(['default/gw/8080']);
    const snapshot = h.cache.get('node-a')!;
    await eventually(() => {
      const node = h.server.status.list().find((n) => n.nodeId === 'node-a')!;
      expect(node).toMatchObject({ connected: true, protocol });
      for (const t of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration]) {
        expect(node.types[t].ackedVersion).toBe(snapshot.typeVersion(t));
      }
    });
  });

  it('L7 policy: NPDS and NPHDS by wildcard, and the SDS secrets NPDS header matches name (a rotation arrives as a new secret only)', async () => {
    const policySnapshot = (label: string, token: string) =>
      Snapshot.fromResources(label, [
        ...gatewayResources(),
        { typeUrl: TypeUrl.NetworkPolicy, resource: { name: '10.244.0.5', ingress_per_port_policies: [{ port: 80, rules: [{ http_rules: { http_rules: [{ header_matches: [{ name: 'x-token', value_sds_secret: 'policy-secret/shop/token' }] }] } }] }] } },
        { typeUrl: TypeUrl.NetworkPolicyHosts, resource: { policy: 300, host_addresses: ['10.244.0.7/32'] } },
        { typeUrl: TypeUrl.Secret, resource: { name: 'policy-secret/shop/token', generic_secret: { secret: { inline_string: token } } } },
        { typeUrl: TypeUrl.Secret, resource: { name: 'policy-secret/shop/unreferenced', generic_secret: { secret: { inline_string: 'x' } } } },
      ]);
    h = await start(protocol);
    h.cache.setDefault(policySnapshot('p1', 'one'));
    const tokenOf = (state: ResourceState) => (state.get(TypeUrl.Secret)?.get('policy-secret/shop/token') as { generic_secret?: { secret?: { inline_string?: string } } } | undefined)?.generic_secret?.secret?.inline_string;
    await eventually(() => expect(tokenOf(h.client.resources())).toBe('one'));
    await eventually(() => expect(routePrefix(h.client.resources())).toBe('/'));
    const state = h.client.resources();
    expect([...state.get(TypeUrl.NetworkPolicy)!.keys()]).toEqual(['10.244.0.5']);
    expect([...state.get(TypeUrl.NetworkPolicyHosts)!.keys()]).toEqual(['300']);
    // Secrets are fetched by name: only the one a header match names.
    expect([...state.get(TypeUrl.Secret)!.keys()]).toEqual(['policy-secret/shop/token']);
    h.applied.length = 0;
    h.cache.setDefault(policySnapshot('p2', 'two'));
    await eventually(() => expect(tokenOf(h.client.resources())).toBe('two'));
    // The NetworkPolicy did not change, so it is not sent again: only the secret is.
    expect(h.applied.map((a) => a.type)).toContain(TypeUrl.Secret);
    expect(h.applied.map((a) => a.type)).not.toContain(TypeUrl.NetworkPolicy);
  });

  it('pushes a change make-before-break: clusters and endpoints before listeners and routes', async () => {
    h = await start(protocol);
    await eventually(() => expect(routePrefix(h.client.resources())).toBe('/'));
    h.applied.length = 0;
    h.cache.setDefault(gatewaySnapshot('2', { routePath: '/v2', clusters: ['default/echo-v2/8080'], port: 8081 }));
    await eventually(() => expect(routePrefix(h.client.resources())).toBe('/v2'));
    const order = h.applied.map((a) => a.type);
    expect(order.indexOf(TypeUrl.Cluster)).toBeLessThan(order.indexOf(TypeUrl.Listener));
    expect(order.indexOf(TypeUrl.ClusterLoadAssignment)).toBeLessThan(order.indexOf(TypeUrl.RouteConfiguration));
    // When the route arrives, the cluster it names is already there.
    const atRoute = h.applied.find((a) => a.type === TypeUrl.RouteConfiguration)!.state;
    expect(atRoute.get(TypeUrl.Cluster)!.has('default/echo-v2/8080')).toBe(true);
    expect(atRoute.get(TypeUrl.ClusterLoadAssignment)!.has('default/echo-v2/8080')).toBe(true);
    // ...and the cluster the old route named is still there too, so no request in between gets a 503.
    const routeIndex = h.applied.findIndex((a) => a.type === TypeUrl.RouteConfiguration);
    for (const a of h.applied.slice(0, routeIndex + 1)) expect(a.state.get(TypeUrl.Cluster)!.has('default/echo/8080')).toBe(true);
    // The old cluster is gone once nothing refers to it.
    await eventually(() => expect([...h.client.resources().get(TypeUrl.Cluster)!.keys()]).toEqual(['default/echo-v2/8080']));
  });

  it('a NACK keeps the proxy on its previous configuration and is reported with the error detail', async () => {
    h = await start(protocol);
    await eventually(() => expect(routePrefix(h.client.resources())).toBe('/'));
    h.rejectWhen.predicate = (state) => (routePrefix(state) === '/bad' ? 'route prefix /bad is not servable' : undefined);
    const before = h.cache.get('node-a')!.typeVersion(TypeUrl.RouteConfiguration);
    h.cache.setDefault(gatewaySnapshot('bad', { routePath: '/bad' }));
    await eventually(() => {
      const rds = h.server.status.list()[0].types[TypeUrl.RouteConfiguration];
      expect(rds.lastNack?.message).toBe('route prefix /bad is not servable');
      expect(rds.ackedVersion).toBe(before);
    });
    expect(routePrefix(h.client.resources())).toBe('/');
    // A good configuration afterwards is applied and ACKed.
    h.cache.setDefault(gatewaySnapshot('3', { routePath: '/good' }));
    await eventually(() => expect(routePrefix(h.client.resources())).toBe('/good'));
    await eventually(() => expect(h.server.status.list()[0].types[TypeUrl.RouteConfiguration].ackedVersion).toBe(h.cache.get('node-a')!.typeVersion(TypeUrl.RouteConfiguration)));
  });

  it('keeps the last good configuration while the agent is gone, reconnects and converges', async () => {
    h = await start(protocol);
    await eventually(() => expect(routePrefix(h.client.resources())).toBe('/'));
    await h.server.close();
    await eventually(() => expect(h.client.connected).toBe(false));
    expect(routePrefix(h.client.resources())).toBe('/');
    const cache = new SnapshotCache();
    cache.setDefault(gatewaySnapshot('after-restart', { routePath: '/restarted' }));
    const restarted = new AdsServer({ cache });
    await restarted.listen(`127.0.0.1:${h.port}`);
    h.server = restarted;
    h.cache = cache;
    await eventually(() => expect(routePrefix(h.client.resources())).toBe('/restarted'), 10_000);
    expect(h.client.connected).toBe(true);
  });
});

describe('ADS (delta) increments', () => {
  it('sends only what changed, and removals by name', async () => {
    const h = await start('delta');
    try {
      await eventually(() => expect(routePrefix(h.client.resources())).toBe('/'));
      const received: Array<{ type: string; names: string[] }> = [];
      const seen = new Map<string, Set<string>>();
      for (const [t, m] of h.client.resources()) seen.set(t, new Set(m.keys()));
      h.applied.length = 0;
      h.cache.setDefault(gatewaySnapshot('2', { clusters: ['default/echo/8080', 'default/extra/8080'] }));
      await eventually(() => expect(h.client.resources().get(TypeUrl.ClusterLoadAssignment)!.has('default/extra/8080')).toBe(true));
      for (const a of h.applied) received.push({ type: a.type, names: [...a.state.get(a.type)!.keys()] });
      // Listeners and routes did not change, so nothing was pushed for them.
      expect(h.applied.map((a) => a.type)).not.toContain(TypeUrl.Listener);
      expect(h.applied.map((a) => a.type)).not.toContain(TypeUrl.RouteConfiguration);
      h.cache.setDefault(gatewaySnapshot('3'));
      await eventually(() => expect([...h.client.resources().get(TypeUrl.Cluster)!.keys()]).toEqual(['default/echo/8080']));
      expect(received.length).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });
});
