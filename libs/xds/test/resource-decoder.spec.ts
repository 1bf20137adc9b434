import { TypeUrl, packAny, unpackAny } from '@tendril/api-envoy';
import { ResourceDecoder } from '../src';

function virtualHost(i: number, prefix = `/p-${i}`): Record<string, unknown> {
  return { name: `vh-${i}`, domains: [`h-${i}.example`], routes: [{ match: { prefix }, route: { cluster: 'default/echo/8080' } }] };
}

function routeConfiguration(hosts: number, changedHost?: number, name = 'default/gw/80'): Record<string, unknown> {
  return { name, virtual_hosts: Array.from({ length: hosts }, (_, i) => virtualHost(i, i === changedHost ? '/changed' : undefined)) };
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

  it('reuses virtual hosts that moved because others were added or removed, with another configuration decoded in between', () => {
    const decoder = new ResourceDecoder();
    const hosts = Array.from({ length: 2000 }, (_, i) => virtualHost(i));
    const config = (name: string, list: Record<string, unknown>[]) => packAny({ name, virtual_hosts: list }, TypeUrl.RouteConfiguration);
    const first = decoder.decode(config('default/gw/80', hosts))['virtual_hosts'] as object[];
    const otherAny = config('default/gw/81', hosts.slice(0, 1500));
    expect(JSON.stringify(decoder.decode(otherAny))).toBe(JSON.stringify(unpackAny(otherAny)));

    // One host added in front, one removed in the middle, one changed near the end.
    const edited = [virtualHost(-1), ...hosts.slice(0, 700), ...hosts.slice(701, 1900), virtualHost(1900, '/changed'), ...hosts.slice(1901)];
    const any = config('default/gw/80', edited);
    const decoded = decoder.decode(any);
    expect(JSON.stringify(decoded)).toBe(JSON.stringify(unpackAny(any)));
    const after = decoded['virtual_hosts'] as object[];
    const byName = new Map(first.map((vh) => [(vh as { name: string }).name, vh]));
    const fresh = after.filter((vh) => byName.get((vh as { name: string }).name) !== vh).map((vh) => (vh as { name: string }).name);
    expect(fresh).toEqual(['vh--1', 'vh-1900']);

    // Everything moved (reversed): after a few misses found by content, so almost all are the same objects.
    const reversedAny = config('default/gw/80', [...edited].reverse());
    const reversed = decoder.decode(reversedAny);
    expect(JSON.stringify(reversed)).toBe(JSON.stringify(unpackAny(reversedAny)));
    const decodedAgain = (reversed['virtual_hosts'] as object[]).filter((vh, i, all) => vh !== after[all.length - 1 - i]).length;
    expect(decodedAgain).toBeLessThanOrEqual(20);
  });

  it('decodes other resources and small RouteConfigurations as unpackAny does', () => {
    const decoder = new ResourceDecoder();
    const small = packAny(routeConfiguration(3), TypeUrl.RouteConfiguration);
    expect(decoder.decode(small)).toEqual(unpackAny(small));
    const cluster = packAny({ name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }, TypeUrl.Cluster);
    expect(decoder.decode(cluster)).toEqual(unpackAny(cluster));
  });
});
