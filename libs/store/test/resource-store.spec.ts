import type { Service } from '@tendril/api-k8s';
import {
  deterministicUid,
  groupKind,
  InvalidObjectError,
  keyOf,
  matchesLabelSelector,
  ResourceStore,
  type KubeObject,
  type ResourceView,
  type StoreChange,
} from '../src';

const HTTPRoute = groupKind('gateway.networking.k8s.io', 'HTTPRoute');
const ServiceKind = groupKind('', 'Service');
const EndpointSlice = groupKind('discovery.k8s.io', 'EndpointSlice');

function route(name: string, path = '/', namespace = 'default', extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace },
    spec: { rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }] }] },
    ...extra,
  };
}

function service(name: string, namespace = 'default', labels?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec: { ports: [{ port: 80 }] } };
}

function slice(name: string, serviceName: string, namespace = 'default'): KubeObject {
  return <KubeObject>{
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.0.0.1'] }],
  };
}

function mustGet(view: ResourceView, key: string): KubeObject {
  const obj = view.get(key);
  if (!obj) throw new Error(`${key} is not in the store`);
  return obj;
}

function newStore(): { store: ResourceStore; events: StoreChange[] } {
  const store = new ResourceStore({ clock: () => new Date('2026-11-26T12:00:00.123Z') });
  const events: StoreChange[] = [];
  store.onChange((e) => events.push(e));
  return { store, events };
}

const fooKey = 'gateway.networking.k8s.io/HTTPRoute/default/foo';

describe('ResourceStore writes', () => {
  it('defaults uid, creationTimestamp, generation and resourceVersion on first insert', () => {
    const { store } = newStore();
    expect(store.upsert(route('foo'))).toBe('added');
    const stored = mustGet(store, fooKey);
    expect(stored.metadata).toEqual({
      name: 'foo',
      namespace: 'default',
      uid: deterministicUid(fooKey),
      generation: 1,
      resourceVersion: '1',
      creationTimestamp: '2026-11-26T12:00:00Z',
    });
    expect(stored.metadata.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Same key → same uid in a fresh store (stable across restarts); different key → different uid.
    const other = new ResourceStore();
    other.upsert(route('foo'));
    expect(mustGet(other, fooKey).metadata.uid).toBe(stored.metadata.uid);
    expect(deterministicUid('gateway.networking.k8s.io/HTTPRoute/default/bar')).not.toBe(stored.metadata.uid);
  });

  it('finds objects by ref and by key and hands out frozen objects', () => {
    const { store } = newStore();
    store.upsert(route('foo'));
    const byRef = store.get({ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default', name: 'foo' });
    expect(byRef).toBe(store.get(fooKey));
    expect(store.has(fooKey)).toBe(true);
    expect(store.get('gateway.networking.k8s.io/HTTPRoute/other/foo')).toBeUndefined();
    expect(() => {
      (mustGet(store, fooKey).spec as { rules: unknown[] }).rules.push({});
    }).toThrow(/not extensible/);
  });

  it('does not let later mutation of the caller\'s object leak into the store', () => {
    const { store } = newStore();
    const obj = route('foo', '/a');
    store.upsert(obj);
    (obj.spec as { rules: { matches: { path: { value: string } }[] }[] }).rules[0].matches[0].path.value = '/mutated';
    expect(JSON.stringify(mustGet(store, fooKey).spec)).toContain('"/a"');
  });

  it('bumps generation only when the spec changes', () => {
    const { store } = newStore();
    store.upsert(route('foo', '/a'));
    store.upsert(route('foo', '/a', 'default', { metadata: { name: 'foo', namespace: 'default', labels: { team: 'x' } } }));
    expect(mustGet(store, fooKey).metadata.generation).toBe(1);
    expect(mustGet(store, fooKey).metadata.labels).toEqual({ team: 'x' });
    store.upsert(route('foo', '/b'));
    expect(mustGet(store, fooKey).metadata.generation).toBe(2);
    // Top-level data fields count as spec too (ConfigMap.data, EndpointSlice.endpoints).
    store.upsert(slice('s1', 'web'));
    store.upsert(<KubeObject>{ ...slice('s1', 'web'), endpoints: [{ addresses: ['10.0.0.2'] }] });
    expect(mustGet(store, 'discovery.k8s.io/EndpointSlice/default/s1').metadata.generation).toBe(2);
  });

  it('treats metadata echoed back from get() as unset, so a read-modify-write bumps generation', () => {
    const { store } = newStore();
    store.upsert(route('foo', '/a'));
    const read = mustGet(store, fooKey);
    expect(store.upsert({ ...read })).toBe('unchanged');
    store.upsert({ ...read, spec: { rules: [] } });
    expect(mustGet(store, fooKey).metadata).toMatchObject({ generation: 2, resourceVersion: '2', uid: read.metadata.uid });
  });

  it('keeps uid, generation, resourceVersion and creationTimestamp supplied by the source', () => {
    const { store } = newStore();
    const fromApiServer = route('foo', '/a', 'default', {
      metadata: { name: 'foo', namespace: 'default', uid: 'abc', generation: 7, resourceVersion: '9001', creationTimestamp: '2020-01-01T00:00:00Z' },
    });
    store.upsert(fromApiServer);
    expect(mustGet(store, fooKey).metadata).toMatchObject({ uid: 'abc', generation: 7, resourceVersion: '9001', creationTimestamp: '2020-01-01T00:00:00Z' });
  });

  it('reports a no-op write as unchanged and emits nothing', () => {
    const { store, events } = newStore();
    store.upsert(route('foo'));
    expect(store.upsert(route('foo'))).toBe('unchanged');
    expect(events).toHaveLength(1);
    expect(store.revision).toBe(1);
  });

  it('rejects objects without apiVersion, kind or metadata.name with the field path', () => {
    const { store, events } = newStore();
    const cases: [unknown, string][] = [
      [{ kind: 'Service', metadata: { name: 'a' } }, 'apiVersion'],
      [{ apiVersion: 'v1', metadata: { name: 'a' } }, 'kind'],
      [{ apiVersion: 'v1', kind: 'Service' }, 'metadata'],
      [{ apiVersion: 'v1', kind: 'Service', metadata: {} }, 'metadata.name'],
      [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a/b' } }, 'metadata.name'],
      [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', labels: { version: 1 } } }, 'metadata.labels.version'],
    ];
    for (const [obj, path] of cases) {
      let caught: unknown;
      try {
        store.upsert(obj as KubeObject);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidObjectError);
      expect((caught as InvalidObjectError).path).toBe(path);
      expect((caught as Error).message).toMatch(new RegExp(`^${path.replace(/\./g, '\\.')}: `));
    }
    expect(store.size).toBe(0);
    expect(events).toHaveLength(0);
  });

  it('deletes objects and announces it', () => {
    const { store, events } = newStore();
    store.upsert(route('foo'));
    expect(store.delete(fooKey)).toBe(true);
    expect(store.delete(fooKey)).toBe(false);
    expect(store.get(fooKey)).toBeUndefined();
    expect(events.map((e) => e.deleted)).toEqual([[], [fooKey]]);
  });

  it('lets a source delete only objects it owns', () => {
    const { store } = newStore();
    store.upsert(route('foo'), 'files');
    store.upsert(route('foo', '/k8s'), 'kubernetes');
    expect(store.delete(fooKey, 'files')).toBe(false);
    expect(store.delete(fooKey, 'kubernetes')).toBe(true);
  });
});

describe('ResourceStore status', () => {
  it('keeps status apart from spec: a spec reload keeps it and does not bump generation through status', () => {
    const { store, events } = newStore();
    store.upsert(route('foo', '/a'));
    const accepted = { parents: [{ conditions: [{ type: 'Accepted', status: 'True' }] }] };
    expect(store.setStatus(fooKey, accepted)).toBe(true);
    expect(mustGet(store, fooKey).status).toEqual(accepted);
    expect(mustGet(store, fooKey).metadata.generation).toBe(1);
    expect(events[1]).toEqual({ revision: 2, added: [], updated: [fooKey], deleted: [], statusOnly: [fooKey] });

    store.upsert(route('foo', '/b'));
    expect(mustGet(store, fooKey).status).toEqual(accepted);
    expect(mustGet(store, fooKey).metadata.generation).toBe(2);
    expect(events[2].statusOnly).toEqual([]);
  });

  it('ignores a status write that changes nothing and refuses one for a missing object', () => {
    const { store, events } = newStore();
    store.upsert(route('foo'));
    store.setStatus(fooKey, { a: 1 });
    store.setStatus(fooKey, { a: 1 });
    expect(events).toHaveLength(2);
    expect(store.setStatus('gateway.networking.k8s.io/HTTPRoute/default/missing', { a: 1 })).toBe(false);
  });

  it('clears status with undefined, and takes status carried by a source object', () => {
    const { store } = newStore();
    store.upsert(route('foo', '/', 'default', { status: { fromSource: true } }));
    expect(mustGet(store, fooKey).status).toEqual({ fromSource: true });
    store.setStatus(fooKey, undefined);
    expect(mustGet(store, fooKey)).not.toHaveProperty('status');
  });
});

describe('ResourceStore batches and events', () => {
  it('replaceAllFromSource applies a whole batch as one event and leaves other sources alone', () => {
    const { store, events } = newStore();
    store.replaceAllFromSource('files', [route('a'), route('b'), service('web')]);
    store.upsert(route('k'), 'kubernetes');
    store.replaceAllFromSource('files', [route('a', '/changed'), route('c'), service('web')]);
    expect(events).toHaveLength(3);
    expect(events[2]).toEqual({
      revision: 3,
      added: ['gateway.networking.k8s.io/HTTPRoute/default/c'],
      updated: ['gateway.networking.k8s.io/HTTPRoute/default/a'],
      deleted: ['gateway.networking.k8s.io/HTTPRoute/default/b'],
      statusOnly: [],
    });
    expect(store.has('gateway.networking.k8s.io/HTTPRoute/default/k')).toBe(true);
    // Every object changed in one batch carries that batch's revision.
    expect(mustGet(store, 'gateway.networking.k8s.io/HTTPRoute/default/c').metadata.resourceVersion).toBe('3');
    store.replaceAllFromSource('files', []);
    expect(store.list(HTTPRoute).map((r) => r.metadata.name)).toEqual(['k']);
  });

  it('validates a replaceAll batch before applying any of it', () => {
    const { store, events } = newStore();
    store.replaceAllFromSource('files', [route('a')]);
    expect(() => store.replaceAllFromSource('files', [route('b'), { apiVersion: 'v1', kind: 'Service', metadata: {} } as KubeObject])).toThrow(
      /^\[1\]\.metadata\.name: /,
    );
    expect(() => store.replaceAllFromSource('files', [route('b'), route('b')])).toThrow(/appears more than once/);
    expect(store.list(HTTPRoute).map((r) => r.metadata.name)).toEqual(['a']);
    expect(events).toHaveLength(1);
  });

  it('groups writes in batch() into one event and drops changes that cancel out', () => {
    const { store, events } = newStore();
    store.batch(() => {
      store.upsert(route('a'));
      store.upsert(route('b'));
      store.batch(() => store.delete('gateway.networking.k8s.io/HTTPRoute/default/b'));
    });
    expect(events).toEqual([{ revision: 1, added: ['gateway.networking.k8s.io/HTTPRoute/default/a'], updated: [], deleted: [], statusOnly: [] }]);
  });

  it('delivers events in revision order even when a listener writes to the store', () => {
    const { store } = newStore();
    const seen: number[] = [];
    store.onChange((e) => {
      seen.push(e.revision);
      if (e.added.includes(fooKey)) store.setStatus(fooKey, { seen: true });
    });
    const second: number[] = [];
    store.onChange((e) => second.push(e.revision));
    store.upsert(route('foo'));
    expect(seen).toEqual([1, 2]);
    expect(second).toEqual([1, 2]);
    expect(mustGet(store, fooKey).status).toEqual({ seen: true });
  });

  it('still notifies every listener when one throws, then reports the error to the writer', () => {
    const { store, events } = newStore();
    store.onChange(() => {
      throw new Error('listener failed');
    });
    const unsubscribe = store.onChange(() => undefined);
    expect(() => store.upsert(route('foo'))).toThrow('listener failed');
    expect(events).toHaveLength(1);
    expect(store.has(fooKey)).toBe(true);
    unsubscribe();
  });

  it('stops notifying an unsubscribed listener', () => {
    const store = new ResourceStore();
    const events: StoreChange[] = [];
    const unsubscribe = store.onChange((e) => events.push(e));
    store.upsert(route('a'));
    unsubscribe();
    store.upsert(route('b'));
    expect(events).toHaveLength(1);
  });
});

describe('ResourceStore reads and indexes', () => {
  it('lists by kind (sorted by key), by namespace, and by kind across groups', () => {
    const { store } = newStore();
    store.upsert(route('b', '/', 'team-a'));
    store.upsert(route('a', '/', 'team-b'));
    store.upsert(route('c', '/', 'team-a'));
    store.upsert(service('web'));
    store.upsert({ apiVersion: 'example.com/v1', kind: 'HTTPRoute', metadata: { name: 'x', namespace: 'team-a' } });
    expect(store.list(HTTPRoute).map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual(['team-a/b', 'team-a/c', 'team-b/a']);
    expect(store.list(HTTPRoute, 'team-a').map((r) => r.metadata.name)).toEqual(['b', 'c']);
    expect(store.list(HTTPRoute, 'nope')).toEqual([]);
    expect(store.list({ kind: 'HTTPRoute' }, 'team-a').map((r) => r.apiVersion)).toEqual(['example.com/v1', 'gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1']);
    expect(store.list(ServiceKind).map((s) => s.metadata.name)).toEqual(['web']);
    expect(store.all()).toHaveLength(5);
  });

  it('returns the object type named by a typed GroupKind', () => {
    const { store } = newStore();
    store.upsert(service('web'));
    const TypedService = groupKind<Service>('', 'Service');
    const services: readonly Service[] = store.list(TypedService);
    expect(services[0].spec?.ports?.[0].port).toBe(80);
  });

  it('keeps cluster-scoped objects out of namespace lists', () => {
    const { store } = newStore();
    store.upsert({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'eg' }, spec: { controllerName: 'x' } });
    const GatewayClass = groupKind('gateway.networking.k8s.io', 'GatewayClass');
    expect(keyOf({ group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'eg' })).toBe('gateway.networking.k8s.io/GatewayClass//eg');
    expect(store.list(GatewayClass).map((g) => g.metadata.name)).toEqual(['eg']);
    expect(store.list(GatewayClass, 'default')).toEqual([]);
  });

  it('indexes by label and follows label changes and deletes', () => {
    const { store } = newStore();
    store.upsert(slice('web-1', 'web'));
    store.upsert(slice('web-2', 'web'));
    store.upsert(slice('api-1', 'api'));
    store.upsert(slice('web-3', 'web', 'other'));
    const names = (ns?: string) => store.listByLabel(EndpointSlice, 'kubernetes.io/service-name', 'web', ns).map((s) => s.metadata.name);
    expect(names()).toEqual(['web-1', 'web-2', 'web-3']);
    expect(names('default')).toEqual(['web-1', 'web-2']);
    store.upsert(slice('web-2', 'api'));
    store.delete('discovery.k8s.io/EndpointSlice/default/web-1');
    expect(names('default')).toEqual([]);
    expect(store.listByLabel(EndpointSlice, 'kubernetes.io/service-name', 'api').map((s) => s.metadata.name)).toEqual(['api-1', 'web-2']);
    // Labels are indexed per kind: a Service with the same label is not an EndpointSlice.
    store.upsert(service('web', 'default', { 'kubernetes.io/service-name': 'api' }));
    expect(store.listByLabel(EndpointSlice, 'kubernetes.io/service-name', 'api')).toHaveLength(2);
  });
});

describe('ResourceStore snapshots', () => {
  it('returns an immutable view that later writes do not change', () => {
    const { store } = newStore();
    store.upsert(route('a'));
    store.upsert(slice('web-1', 'web'));
    const before = store.snapshot();
    expect(store.snapshot()).toBe(before);
    store.upsert(route('b'));
    store.delete('discovery.k8s.io/EndpointSlice/default/web-1');
    store.setStatus('gateway.networking.k8s.io/HTTPRoute/default/a', { ok: true });

    expect(before.revision).toBe(2);
    expect(before.list(HTTPRoute).map((r) => r.metadata.name)).toEqual(['a']);
    expect(mustGet(before, 'gateway.networking.k8s.io/HTTPRoute/default/a').status).toBeUndefined();
    expect(before.listByLabel(EndpointSlice, 'kubernetes.io/service-name', 'web')).toHaveLength(1);

    const after = store.snapshot();
    expect(after).not.toBe(before);
    expect(after.revision).toBe(5);
    expect(after.list(HTTPRoute).map((r) => r.metadata.name)).toEqual(['a', 'b']);
    expect(after.listByLabel(EndpointSlice, 'kubernetes.io/service-name', 'web')).toHaveLength(0);
  });

  it('lists every object sorted by key through adds, updates and deletes, and a snapshot keeps its own list', () => {
    const { store } = newStore();
    const names = (view: ResourceView) => view.all().map((o) => `${o.kind}/${o.metadata.name}`);
    store.upsert(route('m'));
    store.upsert(service('web'));
    store.upsert(route('c'));
    expect(names(store)).toEqual(['Service/web', 'HTTPRoute/c', 'HTTPRoute/m']);
    const before = store.snapshot();
    store.upsert(route('c', '/changed'));
    expect(store.all().find((o) => o.metadata.name === 'c')?.spec).toEqual(route('c', '/changed').spec);
    store.upsert(route('a'));
    store.delete('gateway.networking.k8s.io/HTTPRoute/default/m');
    expect(names(store)).toEqual(['Service/web', 'HTTPRoute/a', 'HTTPRoute/c']);
    expect(names(before)).toEqual(['Service/web', 'HTTPRoute/c', 'HTTPRoute/m']);
    expect(before.all().find((o) => o.metadata.name === 'c')?.spec).toEqual(route('c').spec);
  });

  it('refuses to snapshot a half-applied batch', () => {
    const { store } = newStore();
    expect(() => store.batch(() => store.snapshot())).toThrow(/inside batch/);
  });
});

describe('label selectors', () => {
  const Pod = groupKind('', 'Pod');
  const pod = (name: string, labels: Record<string, string>, namespace = 'default'): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels } });

  it('selects objects by matchLabels and matchExpressions, like the API server', () => {
    const { store } = newStore();
    store.upsert(pod('web-v1', { app: 'web', version: 'v1' }));
    store.upsert(pod('web-v2', { app: 'web', version: 'v2', canary: 'true' }));
    store.upsert(pod('api', { app: 'api' }));
    store.upsert(pod('web-other', { app: 'web', version: 'v1' }, 'other'));
    const names = (selector: Parameters<typeof store.listBySelector>[1], ns?: string) => store.listBySelector(Pod, selector, ns).map((p) => p.metadata.name);

    expect(names({ matchLabels: { app: 'web' } }, 'default')).toEqual(['web-v1', 'web-v2']);
    // Sorted by key, so by namespace first.
    expect(names({ matchLabels: { app: 'web' } })).toEqual(['web-v1', 'web-v2', 'web-other']);
    expect(names({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'version', operator: 'NotIn', values: ['v2'] }] }, 'default')).toEqual(['web-v1']);
    expect(names({ matchExpressions: [{ key: 'app', operator: 'In', values: ['api', 'web'] }] }, 'default')).toEqual(['api', 'web-v1', 'web-v2']);
    expect(names({ matchExpressions: [{ key: 'canary', operator: 'Exists' }] })).toEqual(['web-v2']);
    expect(names({ matchExpressions: [{ key: 'version', operator: 'DoesNotExist' }] })).toEqual(['api']);
    expect(names({}, 'default')).toEqual(['api', 'web-v1', 'web-v2']);
    expect(names({ matchLabels: { app: 'db' } })).toEqual([]);
  });

  it('matches nothing for an operator the API server would reject', () => {
    expect(matchesLabelSelector({ a: 'b' }, { matchExpressions: [{ key: 'a', operator: 'Bogus' as 'In' }] })).toBe(false);
    expect(matchesLabelSelector(undefined, { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['x'] }] })).toBe(true);
  });
});
