import { TypeUrl, assertValidEnvoyResources } from '../src';
import { clusterLoadAssignment, edsCluster, listener, routeConfiguration, secret } from './fixtures';

describe('assertValidEnvoyResources', () => {
  it('passes resources Envoy would accept, typed by @type or by a given URL', () => {
    expect(() =>
      assertValidEnvoyResources([
        { '@type': TypeUrl.Listener, ...listener },
        { '@type': TypeUrl.RouteConfiguration, ...routeConfiguration },
        { '@type': TypeUrl.Cluster, ...edsCluster },
        { '@type': TypeUrl.Secret, ...secret },
      ]),
    ).not.toThrow();
    expect(() => assertValidEnvoyResources([clusterLoadAssignment], TypeUrl.ClusterLoadAssignment)).not.toThrow();
  });

  it('lists every problem, naming the resource and the field path', () => {
    let message = '';
    try {
      assertValidEnvoyResources([
        { '@type': TypeUrl.Cluster, ...edsCluster, connect_timeout: '0s' },
        { '@type': TypeUrl.RouteConfiguration, name: 'rc', virtual_hosts: [{ name: 'v', domains: [], routes: [{ match: {}, route: { cluster: 'c' } }] }] },
        { '@type': TypeUrl.Listener, name: 'l', adress: {} },
        { name: 'untyped' },
      ]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'invalid Envoy resources (5 problems):',
      '  Cluster "default/api-v1/8080": Cluster.connect_timeout: value must be greater than 0s [duration.gt]',
      '  RouteConfiguration "rc": RouteConfiguration.virtual_hosts[0].domains: value must contain at least 1 item(s) [repeated.min_items]',
      '  RouteConfiguration "rc": RouteConfiguration.virtual_hosts[0].routes[0].match.path_specifier: exactly one of prefix, path, safe_regex, connect_matcher, path_separated_prefix, path_match_policy must be set [oneof.required]',
      '  Listener "l": Listener.adress: unknown field: envoy.config.listener.v3.Listener has no field "adress"',
      '  resource "untyped": no \'@type\' and no type URL given',
    ]);
  });
});
