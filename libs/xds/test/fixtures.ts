import { TypeUrl } from '@tendril/api-envoy';
import { Snapshot } from '../src';

/** A small but complete gateway configuration: one listener, its routes, one EDS cluster and its endpoints. */
export function gatewayResources(opts: { routePath?: string; clusters?: string[]; port?: number } = {}): Array<{ typeUrl: string; resource: Record<string, unknown> }> {
  const clusters = opts.clusters ?? ['default/echo/8080'];
  return [
    ...clusters.map((name) => ({
      typeUrl: TypeUrl.Cluster,
      resource: { name, type: 'EDS', connect_timeout: '5s', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } } },
    })),
    ...clusters.map((name) => ({
      typeUrl: TypeUrl.ClusterLoadAssignment,
      resource: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 3000 } } } }] }] },
    })),
    {
      typeUrl: TypeUrl.Listener,
      resource: {
        name: 'default/gw/8080',
        address: { socket_address: { address: '127.0.0.1', port_value: opts.port ?? 8080 } },
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                  stat_prefix: 'gw',
                  rds: { route_config_name: 'default/gw/8080', config_source: { ads: {}, resource_api_version: 'V3' } },
                  http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
                },
              },
            ],
          },
        ],
      },
    },
    {
      typeUrl: TypeUrl.RouteConfiguration,
      resource: {
        name: 'default/gw/8080',
        virtual_hosts: [{ name: 'any', domains: ['*'], routes: [{ match: { prefix: opts.routePath ?? '/' }, route: { cluster: clusters[0] } }] }],
      },
    },
  ];
}

export function gatewaySnapshot(label: string, opts?: Parameters<typeof gatewayResources>[0]): Snapshot {
  return Snapshot.fromResources(label, gatewayResources(opts));
}
