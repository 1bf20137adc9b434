import type { envoy } from '@tendril/api-envoy';
import type { L7Parser, TrafficDirection } from '@tendril/policy';
import type { EndpointRedirects } from './endpoint-manager';

type Listener = envoy.config.listener.v3.Listener;
type FilterChain = envoy.config.listener.v3.FilterChain;
type Cluster = envoy.config.cluster.v3.Cluster;
type Route = envoy.config.route.v3.Route;

/**
 * The node proxy's side of the datapath's L7 redirect, as Envoy resources (what Cilium's agent
 * gives its Envoy): per direction, one transparent listener on the proxy port the policy map
 * redirects to, with the original_dst and tendril.bpf_metadata listener filters, and one
 * ORIGINAL_DST cluster, so a request goes on to the address the pod dialled, marked with the
 * client's identity.
 *
 * Each (endpoint, port) whose L7 rules all allow every request gets a filter chain that forwards;
 * every other redirected connection lands on the default chain, which answers 403 "Access
 * denied" — L7 rules narrower than allow-all are not enforced per request yet, and a port with
 * such a rule must never be forwarded unchecked.
 */

export interface RedirectResourceOptions {
  /** The listener port per parser and direction (the policy map's proxy port). */
  readonly proxyPort: (parser: L7Parser, direction: TrafficDirection) => number;
  /** Pinned BPF maps directory the proxy reads identities from; empty for its default. */
  readonly bpfRoot?: string;
}

export interface RedirectResources {
  readonly listeners: Listener[];
  readonly clusters: Cluster[];
}

export const ACCESS_DENIED_BODY = 'Access denied\r\n';

const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

export function redirectListenerName(direction: TrafficDirection): string {
  return `tendril-http-${direction}`;
}

export function originalDestinationClusterName(direction: TrafficDirection): string {
  return `tendril-${direction}-original-dst`;
}

/** An HTTP connection manager whose one route answers every request with `route`. */
function httpChain(name: string, route: Route, match?: FilterChain['filter_chain_match']): FilterChain {
  return {
    name,
    ...(match ? { filter_chain_match: match } : {}),
    filters: [
      {
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM_TYPE_URL,
          stat_prefix: name,
          // The client's own request goes on unchanged: a transparent proxy adds no X-Forwarded-For.
          skip_xff_append: true,
          route_config: { name, virtual_hosts: [{ name, domains: ['*'], routes: [route] }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE_URL } }],
        },
      },
    ],
  } as FilterChain;
}

function forwardRoute(direction: TrafficDirection): Route {
  // No route timeout: the proxy enforces policy, it does not cut long requests (Cilium does the same).
  return { match: { prefix: '/' }, route: { cluster: originalDestinationClusterName(direction), timeout: '0s' } };
}

const DENY_ROUTE: Route = { match: { prefix: '/' }, direct_response: { status: 403, body: { inline_string: ACCESS_DENIED_BODY } } };

/** The transparent HTTP listeners and ORIGINAL_DST clusters for the node's L7 redirects; none when no endpoint has an HTTP redirect. */
export function redirectResources(endpoints: readonly EndpointRedirects[], options: RedirectResourceOptions): RedirectResources {
  const listeners: Listener[] = [];
  const clusters: Cluster[] = [];
  for (const direction of ['ingress', 'egress'] as const) {
    const redirects = endpoints.flatMap((e) => e.redirects.filter((r) => r.direction === direction && r.parser === 'http').map((r) => ({ endpoint: e, redirect: r })));
    if (redirects.length === 0) continue;
    const chains = redirects
      .filter(({ redirect }) => redirect.allowsAll)
      .map(({ endpoint, redirect }) => {
        const pod = { address_prefix: endpoint.ip, prefix_len: 32 };
        // Ingress: the pod is the destination; egress: the pod is the client, any destination.
        const match = direction === 'ingress' ? { destination_port: redirect.port, prefix_ranges: [pod] } : { destination_port: redirect.port, source_prefix_ranges: [pod] };
        return httpChain(`${endpoint.namespace}/${endpoint.name}/${redirect.port}`, forwardRoute(direction), match);
      });
    listeners.push({
      name: redirectListenerName(direction),
      address: { socket_address: { address: '127.0.0.1', port_value: options.proxyPort('http', direction) } },
      transparent: true,
      traffic_direction: direction === 'ingress' ? 'INBOUND' : 'OUTBOUND',
      listener_filters: [
        { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } },
        { name: 'tendril.bpf_metadata', typed_config: { '@type': 'type.googleapis.com/tendril.proxy.v1.BpfMetadata', is_ingress: direction === 'ingress', bpf_root: options.bpfRoot ?? '' } },
      ],
      filter_chains: chains,
      default_filter_chain: httpChain('access-denied', DENY_ROUTE),
    } as Listener);
    clusters.push({
      name: originalDestinationClusterName(direction),
      type: 'ORIGINAL_DST',
      lb_policy: 'CLUSTER_PROVIDED',
      connect_timeout: '5s',
      cleanup_interval: '10s',
    });
  }
  return { listeners, clusters };
}
