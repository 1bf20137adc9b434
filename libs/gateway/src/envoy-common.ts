/** Envoy JSON pieces shared by the Gateway renderer and the proxyless gRPC renderer. */
import type { EnvoyConfigSource, EnvoyHttpConnectionManager, EnvoyStringMatcher } from './envoy-types';
import type { IrValueMatch } from './ir';

/** Every dynamic resource comes over the same ADS stream. */
export const ADS: EnvoyConfigSource = { ads: {}, resource_api_version: 'V3' };
export const CONNECT_TIMEOUT = '10s';

/**
 * HTTP connection manager taking its routes over ADS (RDS) and ending in the router filter. Gateway
 * sockets allow WebSocket upgrades (Envoy refuses them with 403 unless upgrade_configs names them),
 * as Envoy Gateway does: Gateway API has no per-route switch, and a backend speaking WebSocket
 * (appProtocol kubernetes.io/ws) is reached with a plain HTTP/1.1 Upgrade. Proxyless gRPC clients
 * have no use for it.
 */
export function httpConnectionManager(statPrefix: string, routeConfigName: string, options: { websocket?: boolean; cors?: boolean } = {}): EnvoyHttpConnectionManager {
  return {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: statPrefix.replace(/[^A-Za-z0-9_.-]/g, '_'),
    codec_type: 'AUTO',
    rds: { route_config_name: routeConfigName, config_source: ADS },
    ...(options.websocket ? { upgrade_configs: [{ upgrade_type: 'websocket' as const }] } : {}),
    http_filters: [
      // Only where a route has a CORS policy: the filter does nothing for routes without one.
      ...(options.cors ? [{ name: 'envoy.filters.http.cors' as const, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' as const } }] : []),
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
      },
    ],
  };
}

export function stringMatch(m: IrValueMatch): EnvoyStringMatcher {
  return m.type === 'RegularExpression' ? { safe_regex: { regex: m.value } } : { exact: m.value };
}
