import { ResourceStore, cloneData } from '../src';

describe('cloneData', () => {
  it('copies JSON-shaped objects deeply, sharing nothing with the original', () => {
    const original = { kind: 'HTTPRoute', metadata: { name: 'a', labels: { app: 'web' } }, spec: { hostnames: ['a.example'], rules: [{ weight: 0, enabled: false, note: null }] } };
    const copy = cloneData(original);
    expect(copy).toEqual(original);
    expect(copy.metadata).not.toBe(original.metadata);
    expect(copy.spec.rules[0]).not.toBe(original.spec.rules[0]);
    copy.spec.hostnames.push('b.example');
    expect(original.spec.hostnames).toEqual(['a.example']);
  });

  it('copies what is not plain data the way structuredClone does', () => {
    const when = new Date('2026-01-02T03:04:05Z');
    const copy = cloneData({ at: when, tags: new Set(['x']) });
    // structuredClone builds its Date in Node's realm, not the test's, so instanceof cannot tell.
    expect(Object.prototype.toString.call(copy.at)).toBe('[object Date]');
    expect(copy.at).not.toBe(when);
    expect(copy.at.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect([...copy.tags]).toEqual(['x']);
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const cyclicCopy = cloneData(cyclic);
    expect(cyclicCopy.self).toBe(cyclicCopy);
    expect(() => cloneData({ run: () => undefined })).toThrow(/could not be cloned/);
  });

  it('keeps the store from sharing objects with its writers', () => {
    const store = new ResourceStore({ clock: () => new Date('2026-01-01T00:00:00Z') });
    const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { key: 'one' } };
    store.upsert(obj);
    obj.data.key = 'two';
    expect(store.get<typeof obj>({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'cfg' })?.data).toEqual({ key: 'one' });
  });
});
