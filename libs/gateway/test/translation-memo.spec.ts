import type { KubeObject } from '@tendril/api-k8s';
import { TranslationMemo, translate, type TranslateResult } from '../src';
import { CONTROLLER_NAME, DEFAULT_OPTIONS, NOW, goldenCases, readInput } from './golden';

/** Objects as the store hands them out: frozen, so a memo path that mutated its input would throw. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

const isRoute = (o: KubeObject): boolean => o.kind === 'HTTPRoute' || o.kind === 'GRPCRoute';

function run(resources: readonly KubeObject[], memo?: TranslationMemo, now = NOW): TranslateResult {
  return translate({ resources, controllerName: CONTROLLER_NAME, now, options: DEFAULT_OPTIONS }, memo);
}

/** What the agent does between translations: statuses written back, as new objects. */
function withStatuses(resources: readonly KubeObject[], result: TranslateResult): KubeObject[] {
  const byKey = new Map(result.statuses.map((s) => [`${s.kind}/${s.namespace ?? ''}/${s.name}`, s.status]));
  return resources.map((o) => {
    const status = byKey.get(`${o.kind}/${o.metadata?.namespace ?? (o.kind === 'GatewayClass' ? '' : 'default')}/${o.metadata?.name}`);
    return status ? frozen({ ...o, status: JSON.parse(JSON.stringify(status)) }) : o;
  });
}

const view = (r: TranslateResult): string => JSON.stringify(r);

describe('TranslationMemo: the same result as translating from scratch, whatever the sequence of changes', () => {
  it.each(goldenCases().map((c) => [c.name, c.dir]))('%s', (_name, dir) => {
    const input = frozen(readInput(dir));
    const memo = new TranslationMemo();
    const steps: Array<[string, KubeObject[]]> = [['initial', input]];
    const routes = input.filter(isRoute);
    for (const route of routes) steps.push([`without ${route.metadata?.name}`, input.filter((o) => o !== route)]);
    steps.push(['all again', input]);
    for (const route of routes) {
      const edited = frozen({ ...route, spec: { ...(route.spec as object), hostnames: ['edited.example.com'] } });
      steps.push([`${route.metadata?.name} edited`, input.map((o) => (o === route ? edited : o))]);
    }
    const services = input.filter((o) => o.kind === 'Service');
    if (services.length > 0) steps.push(['a Service deleted', input.filter((o) => o !== services[0])]);
    steps.push(['all again', input]);

    let current: KubeObject[] = input;
    for (const [label, resources] of steps) {
      current = resources;
      const memoized = run(current, memo);
      expect({ label, result: view(memoized) }).toEqual({ label, result: view(run(current)) });
      // Status written back, then the translation the agent does next.
      const after = withStatuses(current, memoized);
      expect({ label: `${label} + statuses`, result: view(run(after, memo)) }).toEqual({ label: `${label} + statuses`, result: view(run(after)) });
    }
  });
});

describe('TranslationMemo: unchanged routes keep their output objects', () => {
  const base: KubeObject[] = frozen([
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'tendril' }, spec: { controllerName: CONTROLLER_NAME } },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw', namespace: 'default' },
      spec: { gatewayClassName: 'tendril', listeners: [{ name: 'http', port: 8080, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Same' } } }] },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'default' }, spec: { ports: [{ port: 80 }] } },
  ] as KubeObject[]);
  const route = (i: number, path = `/r${i}`): KubeObject =>
    frozen({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: `r${i}`, namespace: 'default' },
      spec: {
        parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
        hostnames: [`h${i}.example.com`],
        rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ group: '', kind: 'Service', name: 'svc', port: 80, weight: 1 }] }],
      },
    } as KubeObject);
  const routes = Array.from({ length: 50 }, (_, i) => route(i));

  it('a one-route change re-renders only that route’s virtual host and proxyless resources', () => {
    const memo = new TranslationMemo();
    const first = run([...base, ...routes], memo);
    const changed = routes.map((r, i) => (i === 7 ? route(7, '/changed') : r));
    const second = run([...base, ...changed], memo);

    const hostsBefore = first.envoy.routes.find((r) => r.name === 'default/gw/8080')!.virtual_hosts ?? [];
    const hostsAfter = second.envoy.routes.find((r) => r.name === 'default/gw/8080')!.virtual_hosts ?? [];
    // 50 hostnames and the listener's catch-all.
    expect(hostsAfter).toHaveLength(51);
    const reused = hostsAfter.filter((vh, i) => vh === hostsBefore[i]).map((vh) => vh.name);
    expect(reused).toHaveLength(50);
    expect(reused).not.toContain('default/gw/8080/h7.example.com');
    expect(JSON.stringify(hostsAfter.find((vh) => vh.name === 'default/gw/8080/h7.example.com'))).toContain('/changed');

    const proxylessBefore = new Map(first.envoy.routes.map((r) => [r.name, r]));
    const changedProxyless = second.envoy.routes.filter((r) => r.name !== 'default/gw/8080' && proxylessBefore.get(r.name) !== r).map((r) => r.name);
    expect(changedProxyless).toEqual(['h7.example.com']);
    // Route statuses of unchanged routes are the same objects too: the agent skips re-writing them by identity.
    const statusesBefore = new Map(first.statuses.map((s) => [s.name, s]));
    expect(second.statuses.filter((s) => s.kind === 'HTTPRoute' && statusesBefore.get(s.name) !== s).map((s) => s.name)).toEqual(['r7']);
  });

  it('a stream of route edits, renames, moves and deletions gives what translating from scratch gives', () => {
    const memo = new TranslationMemo();
    const withHost = (r: KubeObject, hostname: string): KubeObject => frozen({ ...r, spec: { ...(r.spec as object), hostnames: [hostname] } } as KubeObject);
    const renamed = (r: KubeObject, name: string): KubeObject => frozen({ ...r, metadata: { ...r.metadata, name } } as KubeObject);
    const withParent = (r: KubeObject, gateway: string): KubeObject => frozen({ ...r, spec: { ...(r.spec as object), parentRefs: [{ name: gateway }] } } as KubeObject);
    const steps: Array<[string, KubeObject[]]> = [
      ['initial', routes],
      ['r7 edited', routes.map((r, i) => (i === 7 ? route(7, '/changed') : r))],
      ['r8 renamed in place', routes.map((r, i) => (i === 8 ? renamed(r, 'r8b') : r))],
      ['r3 and r4 swap hostnames', routes.map((r, i) => (i === 3 ? withHost(r, 'h4.example.com') : i === 4 ? withHost(r, 'h3.example.com') : r))],
      ['r5 joins r6 on its hostname', routes.map((r, i) => (i === 5 ? withHost(r, 'h6.example.com') : r))],
      ['r2 attached to a Gateway that does not exist', routes.map((r, i) => (i === 2 ? withParent(r, 'missing') : r))],
      ['r2 back, r4 moved to the missing Gateway', routes.map((r, i) => (i === 4 ? withParent(r, 'missing') : r))],
      ['r9 deleted', routes.filter((_, i) => i !== 9)],
      ['back to the start', routes],
    ];
    for (const [label, current] of steps) {
      expect({ label, result: view(run([...base, ...current], memo)) }).toEqual({ label, result: view(run([...base, ...current])) });
    }
  });

  it('a route edit looks at the edited route only, and the attachedRoutes count follows it', () => {
    const memo = new TranslationMemo();
    run([...base, ...routes], memo);
    const looked = jest.spyOn(memo, 'routeWork');
    const detached = frozen({ ...routes[7], spec: { ...(routes[7].spec as object), parentRefs: [{ name: 'missing' }] } } as KubeObject);
    const result = run([...base, ...routes.map((r, i) => (i === 7 ? detached : r))], memo);
    expect(looked.mock.calls.map(([r]) => r.metadata?.name)).toEqual(['r7']);
    const gateway = result.statuses.find((s) => s.kind === 'Gateway')!.status as { listeners: Array<{ attachedRoutes: number }> };
    expect(gateway.listeners[0].attachedRoutes).toBe(routes.length - 1);
    expect(JSON.stringify(result.envoy.routes)).not.toContain('h7.example.com');
  });

  it('writing the statuses back (new Gateway and route objects, same specs) re-translates nothing', () => {
    const memo = new TranslationMemo();
    const first = run([...base, ...routes], memo);
    const second = run(withStatuses([...base, ...routes], first), memo);
    const hosts = (r: TranslateResult) => r.envoy.routes.find((c) => c.name === 'default/gw/8080')?.virtual_hosts ?? [];
    expect(hosts(second).every((vh, i) => vh === hosts(first)[i])).toBe(true);
    expect(view(second)).toBe(view(run(withStatuses([...base, ...routes], first))));
    // From then on the same objects come back as the same status updates: the agent skips re-writing them by identity.
    // A route whose new status is the one computed for it keeps its status update, the very same object.
    expect(second.statuses.filter((s, i) => s.kind === 'HTTPRoute' && s !== first.statuses[i]).map((s) => s.name)).toEqual([]);
    const written = withStatuses([...base, ...routes], second);
    const third = run(written, memo);
    const fourth = run(written, memo);
    expect(fourth.statuses.filter((s, i) => s.kind === 'HTTPRoute' && s !== third.statuses[i]).map((s) => s.name)).toEqual([]);
  });

  it('routes the caller says carry the statuses it wrote back give what translating from scratch gives', () => {
    const memo = new TranslationMemo();
    const first = run([...base, ...routes], memo);
    const written = withStatuses([...base, ...routes], first);
    for (const o of written) {
      const update = first.statuses.find((s) => s.kind === o.kind && s.name === o.metadata?.name);
      if (o.kind === 'HTTPRoute' && update) memo.statusWritten(o, update, CONTROLLER_NAME);
    }
    const looked = jest.spyOn(JSON, 'stringify');
    const second = run(written, memo);
    const stringified = looked.mock.calls.length;
    looked.mockRestore();
    expect(view(second)).toBe(view(run(written)));
    // No status compared route by route (the result's own rendering stringifies a handful of objects).
    expect(stringified).toBeLessThan(routes.length);
    expect(second.statuses.filter((s, i) => s.kind === 'HTTPRoute' && s !== first.statuses[i]).map((s) => s.name)).toEqual([]);
  });

  it('renders proxyless gRPC resources only for the hostnames asked for, when a set is given', () => {
    const all = run([...base, ...routes]);
    expect(all.envoy.listeners.filter((l) => 'api_listener' in l)).toHaveLength(50);
    const some = translate(
      { resources: [...base, ...routes], controllerName: CONTROLLER_NAME, now: NOW, options: { ...DEFAULT_OPTIONS, proxylessHostnames: new Set(['h3.example.com', 'unknown.example.com']) } },
      new TranslationMemo(),
    );
    expect(some.envoy.listeners.map((l) => l.name)).toEqual(['default/gw/8080', 'h3.example.com']);
    expect(some.envoy.routes.map((r) => r.name)).toEqual(['default/gw/8080', 'h3.example.com']);
  });

  it('a Service change re-translates every route (routes depend on their backends)', () => {
    const memo = new TranslationMemo();
    run([...base, ...routes], memo);
    const service = frozen({ ...base[2], spec: { ports: [{ port: 80, appProtocol: 'kubernetes.io/h2c' }] } } as KubeObject);
    const after = run([base[0], base[1], service, ...routes], memo);
    expect(after.envoy.clusters.find((c) => c.name === 'default/svc/80')?.typed_extension_protocol_options).toBeDefined();
    expect(view(after)).toBe(view(run([base[0], base[1], service, ...routes])));
  });
});
