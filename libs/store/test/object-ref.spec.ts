import { resourceKey } from '@tendril/api-k8s';
import { describeRef, keyOf, keyOfObject, parseKey } from '../src';

describe('object references', () => {
  it('round-trips keys for namespaced, core-group and cluster-scoped objects', () => {
    const refs = [
      { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default', name: 'foo' },
      { group: '', kind: 'Service', namespace: 'default', name: 'web' },
      { group: 'cilium.io', kind: 'CiliumClusterwideNetworkPolicy', name: 'deny-all' },
    ];
    expect(refs.map(keyOf)).toEqual([
      'gateway.networking.k8s.io/HTTPRoute/default/foo',
      '/Service/default/web',
      'cilium.io/CiliumClusterwideNetworkPolicy//deny-all',
    ]);
    for (const ref of refs) expect(parseKey(keyOf(ref))).toEqual(ref);
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } };
    expect(keyOfObject(namespace)).toBe('/Namespace//prod');
    // The store's keys are the keys the rest of tendril computes with @tendril/api-k8s.
    expect(keyOfObject(namespace)).toBe(resourceKey(namespace));
    const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'foo', namespace: 'default' } };
    expect(keyOfObject(route)).toBe(resourceKey(route));
  });

  it('rejects strings that are not keys', () => {
    expect(() => parseKey('Service')).toThrow(/invalid resource key "Service"/);
    expect(() => parseKey('/Service/a/b/c')).toThrow(/invalid resource key/);
    expect(() => parseKey('/Service/default/')).toThrow(/invalid resource key/);
    expect(() => parseKey('///x')).toThrow(/invalid resource key/);
  });

  it('describes refs for messages', () => {
    expect(describeRef({ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default', name: 'foo' })).toBe('HTTPRoute default/foo');
    expect(describeRef({ group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'eg' })).toBe('GatewayClass eg');
  });
});
