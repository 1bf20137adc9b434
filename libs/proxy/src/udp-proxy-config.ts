import { durationToMilliseconds, type envoy } from '@tendril/api-envoy';
import type { Listener } from './config';
import { DEFAULT_UDP_IDLE_TIMEOUT_MS, type UdpProxySpec } from './udp-proxy-listener';

type UdpProxyConfig = envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig;

export const UDP_PROXY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig';
export const UDP_ROUTE_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route';

/** UdpProxyConfig fields that change what a session does; the proxy does not implement them, so a config using them is rejected. */
const UNSUPPORTED_FIELDS: ReadonlyArray<keyof UdpProxyConfig> = [
  'use_original_src_ip',
  'hash_policies',
  'upstream_socket_config',
  'use_per_packet_load_balancing',
  'access_log',
  'proxy_access_log',
  'session_filters',
  'tunneling_config',
  'access_log_options',
];

/**
 * A UDP Listener: no filter chains, and exactly one listener filter, envoy.filters.udp_listener.udp_proxy,
 * whose route is the deprecated `cluster` or a matcher with only an on_no_match Route action (what
 * Envoy Gateway renders; matching on the downstream address is not supported).
 */
export function compileUdpProxy(listener: Listener): UdpProxySpec {
  if ((listener.filter_chains?.length ?? 0) > 0 || listener.default_filter_chain !== undefined) throw new Error('a UDP listener takes no filter chains (its udp_proxy listener filter relays the datagrams)');
  if (listener.transparent === true) throw new Error('transparent UDP listeners are not supported');
  const filters = listener.listener_filters ?? [];
  if (filters.length !== 1 || filters[0].typed_config?.['@type'] !== UDP_PROXY_TYPE_URL) {
    throw new Error(`a UDP listener needs exactly one listener filter, envoy.filters.udp_listener.udp_proxy (${UDP_PROXY_TYPE_URL})`);
  }
  const config = filters[0].typed_config as unknown as UdpProxyConfig;
  if (!config.stat_prefix) throw new Error('udp_proxy: stat_prefix is required');
  for (const field of UNSUPPORTED_FIELDS) {
    const value = config[field];
    if (value === undefined || value === false || (Array.isArray(value) && value.length === 0)) continue;
    throw new Error(`udp_proxy: ${field} is not supported`);
  }
  let idleTimeoutMs = DEFAULT_UDP_IDLE_TIMEOUT_MS;
  if (config.idle_timeout !== undefined) {
    idleTimeoutMs = durationToMilliseconds(config.idle_timeout);
    if (!(idleTimeoutMs > 0)) throw new Error(`udp_proxy: idle_timeout ${config.idle_timeout} must be positive`);
  }
  return { cluster: routeCluster(config), idleTimeoutMs };
}

function routeCluster(config: UdpProxyConfig): string {
  if (config.cluster !== undefined && config.matcher !== undefined) throw new Error('udp_proxy: set either cluster or matcher, not both');
  if (config.cluster !== undefined) {
    if (!config.cluster) throw new Error('udp_proxy: cluster is empty');
    return config.cluster;
  }
  const matcher = config.matcher;
  if (matcher === undefined) throw new Error('udp_proxy: a route is required (matcher or cluster)');
  if (matcher.matcher_list !== undefined || matcher.matcher_tree !== undefined) {
    throw new Error('udp_proxy: matcher_list and matcher_tree are not supported (only on_no_match with a Route action)');
  }
  const action = matcher.on_no_match?.action;
  if (matcher.on_no_match?.matcher !== undefined || action === undefined) throw new Error('udp_proxy: matcher.on_no_match needs an action');
  const type = action.typed_config?.['@type'];
  if (type !== UDP_ROUTE_TYPE_URL) throw new Error(`udp_proxy: on_no_match action ${JSON.stringify(action.name ?? '')} (${String(type)}) is not a ${UDP_ROUTE_TYPE_URL}`);
  const cluster = (action.typed_config as { cluster?: unknown }).cluster;
  if (typeof cluster !== 'string' || cluster === '') throw new Error('udp_proxy: the Route action needs a cluster');
  return cluster;
}
