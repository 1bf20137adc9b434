import { TypeUrl, packAny, unpackAny } from '@tendril/api-envoy';
import { ResourceDecoder } from '../src';

function routeConfiguration(hosts: number, changedHost?: number): Record<string, unknown> {
  return {
    name: 'default/gw/80',
    virtual_hosts: Array.from({ length: hosts }, (_, i) => ({
      name: `vh-${i}`,
      domains: [`h-${i}.example`],
      routes: [{ match: { prefix: i === changedHost ? '/changed' : `/p-${i}` }, route: { cluster: 'default/echo/8080' } }],
    })),
  };
}

describe('ResourceDecoder', () => {
  it('decodes large RouteConfigurations to what unpackAny gives, re-decoding only changed virtual hosts', () => {
    const decoder = new ResourceDecoder();
    const first = packAny(routeConfiguration(2000), TypeUrl.RouteConfiguration);
    const decodedFirst = decoder.decode(first);
    expect(JSON.stringify(decodedFirst)).toBe(JSON.stringify(unpackAny(first)));

    const second = packAny(routeConfiguration(2000, 1234), TypeUrl.RouteConfiguration);
    const decodedSecond = decoder.decode(second);
    expect(JSON.stringify(decodedSecond)).toBe(JSON.stringify(unpackAny(second)));
    const before = decodedFirst['virtual_hosts'] as object[];
    const after = decodedSecond['virtual_hosts'] as object[];
    const fresh = after.map((vh, i) => (vh === before[i] ? undefined : i)).filter((i) => i !== undefined);
    expect(fresh).toEqual([1234]);
  });

  it('decodes other resources and small RouteConfigurations as unpackAny does', () => {
    const decoder = new ResourceDecoder();
    const small = packAny(routeConfiguration(3), TypeUrl.RouteConfiguration);
    expect(decoder.decode(small)).toEqual(unpackAny(small));
    const cluster = packAny({ name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }, TypeUrl.Cluster);
    expect(decoder.decode(cluster)).toEqual(unpackAny(cluster));
  });
});
