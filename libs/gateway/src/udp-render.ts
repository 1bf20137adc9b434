import type { envoy } from '@tendril/api-envoy';
import { ADS, CONNECT_TIMEOUT } from './envoy-common';
import { INVALID_BACKEND_CLUSTER } from './envoy-render';
import type { IrCluster, IrListener, IrUdpRoute } from './ir';

/** The generated Envoy types, with the name every rendered resource has (the renderer sorts by it). */
type Listener = envoy.config.listener.v3.Listener & { name: string };
type Cluster = envoy.config.cluster.v3.Cluster & { name: string };
type ClusterLoadAssignment = envoy.config.endpoint.v3.ClusterLoadAssignment & { cluster_name: string };

export const UDP_PROXY_FILTER_NAME = 'envoy.filters.udp_listener.udp_proxy';
export const UDP_PROXY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig';
export const UDP_ROUTE_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route';

export interface RenderedUdp {
  listeners: Listener[];
  /** The clusters of routes with several backends (single-backend routes use the Service's cluster). */
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
}

/**
 * UDP sockets as Envoy Gateway renders them: a Listener with protocol UDP whose udp_proxy listener
 * filter routes every datagram (the matcher's on_no_match) to one cluster. A route with one backend
 * uses that backend's cluster; with several, its own cluster holds one locality per backend,
 * weighted by the backendRef weight, and locality-weighted balancing picks one per session, since
 * udp_proxy has no weighted_clusters.
 */
export function renderUdp(listeners: readonly IrListener[], clusters: readonly IrCluster[]): RenderedUdp {
  const clustersByName = new Map(clusters.map((c) => [c.name, c]));
  const out: RenderedUdp = { listeners: [], clusters: [], endpoints: [] };
  const routeClusters = new Set<string>();
  for (const listener of listeners) {
    const route = listener.udp;
    if (!route) continue;
    out.listeners.push(renderUdpListener(listener, routeClusterName(route)));
    if (route.backends.length > 1 && !routeClusters.has(route.name)) {
      routeClusters.add(route.name);
      out.clusters.push(renderRouteCluster(route));
      out.endpoints.push(renderRouteLoadAssignment(route, clustersByName));
    }
  }
  return out;
}

/** The cluster a UDP route's datagrams go to; INVALID_BACKEND_CLUSTER (no such cluster: dropped) without a usable backend. */
function routeClusterName(route: IrUdpRoute): string {
  if (route.backends.length === 0) return INVALID_BACKEND_CLUSTER;
  return route.backends.length === 1 ? route.backends[0].cluster : route.name;
}

function renderUdpListener(listener: IrListener, cluster: string): Listener {
  return {
    name: listener.name,
    address: { socket_address: { protocol: 'UDP', address: listener.address, port_value: listener.port } },
    udp_listener_config: {},
    listener_filters: [
      {
        name: UDP_PROXY_FILTER_NAME,
        typed_config: {
          '@type': UDP_PROXY_TYPE_URL,
          stat_prefix: listener.name.replace(/[^A-Za-z0-9_.-]/g, '_'),
          matcher: { on_no_match: { action: { name: 'route', typed_config: { '@type': UDP_ROUTE_TYPE_URL, cluster } } } },
        },
      },
    ],
  };
}

function renderRouteCluster(route: IrUdpRoute): Cluster {
  return {
    name: route.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS, service_name: route.name },
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: 'ROUND_ROBIN',
    common_lb_config: { locality_weighted_lb_config: {} },
  };
}

/** One locality per backend, named after the backend's cluster, with the backendRef's weight. */
function renderRouteLoadAssignment(route: IrUdpRoute, clusters: ReadonlyMap<string, IrCluster>): ClusterLoadAssignment {
  return {
    cluster_name: route.name,
    endpoints: route.backends.map((backend) => ({
      locality: { region: backend.cluster },
      load_balancing_weight: backend.weight,
      lb_endpoints: (clusters.get(backend.cluster)?.endpoints ?? []).map((e) => ({
        endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
        health_status: 'HEALTHY' as const,
      })),
    })),
  };
}
