import { TypeUrl, packAny, unpackAny } from '@tendril/api-envoy';
import { ResourceEncoder, Snapshot, contentVersion } from '../src';
import { gatewayResources } from './fixtures';

/** A RouteConfiguration with enough virtual hosts to be encoded host by host. */
function bigRouteConfiguration(hosts: number, changedHost?: number): { typeUrl: string; resource: Record<string, unknown> } {
  return {
    typeUrl: TypeUrl.RouteConfiguration,
    resource: {
      name: 'default/gw/80',
      virtual_hosts: Array.from({ length: hosts }, (_, i) => ({
        name: `vh-${i}`,
        domains: [`h-${i}.example`],
        routes: [{ match: { prefix: i === changedHost ? '/changed' : `/p-${i}` }, route: { cluster: 'default/echo/8080' } }],
      })),
    },
  };
}

function expectSameAsUncached(encoded: ReturnType<ResourceEncoder['encodeAll']>, resources: Array<{ typeUrl: string; resource: Record<string, unknown> }>): void {
  expect(encoded.map((r) => r.typeUrl)).toEqual(resources.map((r) => r.typeUrl));
  encoded.forEach((r, i) => {
    const expected = packAny(resources[i].resource, resources[i].typeUrl).value;
    expect(Buffer.from(r.value).equals(Buffer.from(expected))).toBe(true);
    expect(r.version).toBe(contentVersion([expected]));
  });
}

describe('ResourceEncoder', () => {
  it('encodes exactly as packAny, with the content hash as version', () => {
    const resources = [...gatewayResources(), bigRouteConfiguration(40)];
    expectSameAsUncached(new ResourceEncoder().encodeAll(resources), resources);
  });

  it('reuses the encoding of an unchanged resource and re-encodes a changed one', () => {
    const encoder = new ResourceEncoder();
    const first = encoder.encodeAll(gatewayResources({ routePath: '/a' }));
    const changed = gatewayResources({ routePath: '/b' });
    const second = encoder.encodeAll(changed);
    expectSameAsUncached(second, changed);
    const byName = (list: typeof first, typeUrl: string) => {
      const found = list.find((r) => r.typeUrl === typeUrl);
      if (!found) throw new Error(`no ${typeUrl} encoded`);
      return found;
    };
    expect(byName(second, TypeUrl.Cluster).value).toBe(byName(first, TypeUrl.Cluster).value);
    expect(byName(second, TypeUrl.RouteConfiguration).version).not.toBe(byName(first, TypeUrl.RouteConfiguration).version);
    expect(unpackAny({ type_url: TypeUrl.RouteConfiguration, value: byName(second, TypeUrl.RouteConfiguration).value })).toMatchObject({
      virtual_hosts: [{ routes: [{ match: { prefix: '/b' } }] }],
    });
  });

  it('keeps a large RouteConfiguration byte-identical when one virtual host changes', () => {
    const encoder = new ResourceEncoder();
    encoder.encodeAll([bigRouteConfiguration(50)]);
    const changed = [bigRouteConfiguration(50, 17)];
    const encoded = encoder.encodeAll(changed);
    expectSameAsUncached(encoded, changed);
    expect(unpackAny({ type_url: TypeUrl.RouteConfiguration, value: encoded[0].value })).toMatchObject({ name: 'default/gw/80' });
  });

  it('names the resource that does not encode', () => {
    const bad = { typeUrl: TypeUrl.Cluster, resource: { name: 'broken', connect_timeout: 5 } };
    expect(() => new ResourceEncoder().encodeAll([bad])).toThrow(/^cannot encode Cluster "broken": Cluster\.connect_timeout: expected a duration string/);
    const badHost = bigRouteConfiguration(40);
    (badHost.resource.virtual_hosts as Array<Record<string, unknown>>)[33].domains = 'h-33.example';
    expect(() => new ResourceEncoder().encodeAll([badHost])).toThrow('cannot encode RouteConfiguration "default/gw/80": RouteConfiguration.virtual_hosts[33].domains: expected an array, got the string "h-33.example"');
  });

  it('gives snapshots the same versions with or without a shared encoder', () => {
    const encoder = new ResourceEncoder();
    Snapshot.fromResources('1', gatewayResources({ routePath: '/a' }), encoder);
    const shared = Snapshot.fromResources('2', [...gatewayResources({ routePath: '/b' }), bigRouteConfiguration(40, 3)], encoder);
    const fresh = Snapshot.fromResources('2', [...gatewayResources({ routePath: '/b' }), bigRouteConfiguration(40, 3)]);
    for (const typeUrl of fresh.types()) expect(shared.typeVersion(typeUrl)).toBe(fresh.typeVersion(typeUrl));
  });
});
