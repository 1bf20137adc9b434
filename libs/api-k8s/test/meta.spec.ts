import { groupOf, resourceKey, versionOf, formatFieldError } from '../src';

describe('apiVersion helpers', () => {
  it.each([
    ['v1', '', 'v1'],
    ['apps/v1', 'apps', 'v1'],
    ['gateway.networking.k8s.io/v1beta1', 'gateway.networking.k8s.io', 'v1beta1'],
  ])('%s has group %j and version %j', (apiVersion, group, version) => {
    expect(groupOf(apiVersion)).toBe(group);
    expect(versionOf(apiVersion)).toBe(version);
  });
});

describe('resourceKey', () => {
  it('is group/Kind/namespace/name', () => {
    expect(resourceKey({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web', namespace: 'shop' } })).toBe(
      'gateway.networking.k8s.io/HTTPRoute/shop/web',
    );
  });

  it('leaves the core group and the namespace of cluster-scoped objects empty', () => {
    expect(resourceKey({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' } })).toBe('/Service/shop/web');
    expect(resourceKey({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } })).toBe('/Namespace//shop');
  });

  it('is the same for every version of an API, so versions of one object collide', () => {
    const v1 = resourceKey({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'a', namespace: 'n' } });
    const v1beta1 = resourceKey({ apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'HTTPRoute', metadata: { name: 'a', namespace: 'n' } });
    expect(v1beta1).toBe(v1);
  });
});

describe('formatFieldError', () => {
  it('prints path: message like kubectl', () => {
    expect(formatFieldError({ path: 'metadata.name', message: 'Required value' })).toBe('metadata.name: Required value');
    expect(formatFieldError({ path: '', message: 'Invalid value: null: must be an object' })).toBe('Invalid value: null: must be an object');
  });
});
