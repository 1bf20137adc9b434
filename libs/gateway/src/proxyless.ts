/**
 * Resources for proxyless gRPC clients (gRPC's xDS resolver, e.g. @grpc/grpc-js-xds). A channel to
 * `xds:///<host>` asks LDS for a Listener named `<host>` whose `api_listener` is an
 * HttpConnectionManager, follows its rds to a RouteConfiguration, picks the virtual host matching
 * `<host>`, and balances over the EDS clusters its routes name.
 *
 * Each such hostname gets its own RouteConfiguration (named like the Listener) instead of pointing
 * at the Gateway socket's one: gRPC validates a RouteConfiguration as a whole and rejects it if any
 * route, in any virtual host, uses what gRPC cannot do (path_separated_prefix, redirect,
 * direct_response), so one HTTPRoute with a PathPrefix match on the same Gateway would break every
 * gRPC client. The routes here are the same IR routes, re-encoded to what gRPC supports:
 * - a segment-aware prefix `/p` becomes the exact path `/p` followed by the prefix `/p/`;
 * - a route that can never match a gRPC call (query parameter match, method other than POST) is left out;
 * - a route that does not forward (redirect, direct response) and an unresolvable backend's share
 *   of traffic go to PROXYLESS_UNAVAILABLE_CLUSTER, a cluster without endpoints, so those calls fail
 *   with UNAVAILABLE instead of falling through to a later route;
 * - the request timeout becomes max_stream_duration (gRPC ignores RouteAction.timeout);
 * - header modifiers, rewrites and mirrors are dropped (gRPC's resolver does not apply them).
 */
import { ADS, CONNECT_TIMEOUT, httpConnectionManager, stringMatch } from './envoy-common';
import type {
  EnvoyApiListener,
  EnvoyCluster,
  EnvoyClusterLoadAssignment,
  EnvoyRoute,
  EnvoyRouteAction,
  EnvoyRouteConfiguration,
  EnvoyRouteMatch,
  EnvoyVirtualHost,
} from './envoy-types';
import type { IrForwardAction, IrListener, IrRoute, IrVirtualHost } from './ir';
import { compareStrings } from './resource-index';

/**
 * The cluster proxyless routes name for calls that must fail: it exists (so gRPC does not wait for
 * it) and has no endpoints (so calls get UNAVAILABLE). Distinct from the node proxy's
 * `tendril.invalid-backend`, which must stay absent to give a 500.
 */
export const PROXYLESS_UNAVAILABLE_CLUSTER = 'tendril.proxyless-unavailable';

/** gRPC sends every call as an HTTP/2 POST, without a query string. */
const GRPC_METHOD = 'POST';

export interface ProxylessResources {
  listeners: EnvoyApiListener[];
  routes: EnvoyRouteConfiguration[];
  /** PROXYLESS_UNAVAILABLE_CLUSTER when a route needs it, else empty. */
  clusters: EnvoyCluster[];
  endpoints: EnvoyClusterLoadAssignment[];
}

/**
 * One API Listener + RouteConfiguration per exact hostname that has routes on some Gateway listener
 * (only those in `onlyHostnames` when given), sorted by hostname. Wildcard and catch-all virtual hosts have no `xds:///` target and are skipped.
 * When Gateway sockets serve the same hostname with different routes, a client could not tell which
 * applies, so that hostname gets nothing (identical copies, e.g. HTTP and HTTPS listeners with the
 * same routes, are served once). Hostnames contain no '/', so these names never collide with the
 * Gateway sockets' `<namespace>/<gateway>/<port>` Listeners and RouteConfigurations.
 */
export function renderProxyless(listeners: readonly IrListener[], onlyHostnames?: ReadonlySet<string>): ProxylessResources {
  const byHostname = new Map<string, { rendered: ProxylessHost; conflicting: boolean }>();
  for (const listener of listeners) {
    for (const vh of listener.virtualHosts) {
      if (vh.hostname.includes('*') || vh.routes.length === 0) continue;
      if (onlyHostnames && !onlyHostnames.has(vh.hostname)) continue;
      const rendered = proxylessHost(vh);
      const seen = byHostname.get(vh.hostname);
      if (!seen) byHostname.set(vh.hostname, { rendered, conflicting: false });
      else if (JSON.stringify(seen.rendered.routeConfiguration) !== JSON.stringify(rendered.routeConfiguration)) seen.conflicting = true;
    }
  }
  const out: ProxylessResources = { listeners: [], routes: [], clusters: [], endpoints: [] };
  let usesUnavailable = false;
  for (const [, { rendered, conflicting }] of [...byHostname.entries()].sort(([a], [b]) => compareStrings(a, b))) {
    if (conflicting) continue;
    out.listeners.push(rendered.listener);
    out.routes.push(rendered.routeConfiguration);
    usesUnavailable ||= rendered.usesUnavailable;
  }
  if (usesUnavailable) {
    out.clusters.push({
      name: PROXYLESS_UNAVAILABLE_CLUSTER,
      type: 'EDS',
      eds_cluster_config: { eds_config: ADS, service_name: PROXYLESS_UNAVAILABLE_CLUSTER },
      connect_timeout: CONNECT_TIMEOUT,
      lb_policy: 'ROUND_ROBIN',
    });
    out.endpoints.push({ cluster_name: PROXYLESS_UNAVAILABLE_CLUSTER, endpoints: [] });
  }
  return out;
}

interface ProxylessHost {
  listener: EnvoyApiListener;
  routeConfiguration: EnvoyRouteConfiguration;
  usesUnavailable: boolean;
}

/** By IR virtual host, which is never mutated: a TranslationMemo keeps unchanged ones, so their resources stay the same objects. */
const renderedHosts = new WeakMap<IrVirtualHost, ProxylessHost>();

function proxylessHost(vh: IrVirtualHost): ProxylessHost {
  let rendered = renderedHosts.get(vh);
  if (!rendered) {
    const virtualHost: EnvoyVirtualHost = { name: vh.hostname, domains: [vh.hostname], routes: vh.routes.flatMap(proxylessRoutes) };
    rendered = {
      listener: { name: vh.hostname, api_listener: { api_listener: httpConnectionManager(vh.hostname, vh.hostname) } },
      routeConfiguration: { name: vh.hostname, virtual_hosts: [virtualHost] },
      usesUnavailable: virtualHost.routes.some((r) => referencedClusters(r).includes(PROXYLESS_UNAVAILABLE_CLUSTER)),
    };
    renderedHosts.set(vh, rendered);
  }
  return rendered;
}

function referencedClusters(route: EnvoyRoute): string[] {
  return route.route?.cluster !== undefined ? [route.route.cluster] : (route.route?.weighted_clusters?.clusters ?? []).map((c) => c.name);
}

function proxylessRoutes(route: IrRoute): EnvoyRoute[] {
  const action = proxylessAction(route);
  return proxylessMatches(route).map(({ match, suffix }) => ({ name: route.name + suffix, match, route: action }));
}

/** The route's match as gRPC path specifiers (prefix, path, safe_regex); none if no gRPC call can match. */
function proxylessMatches(route: IrRoute): Array<{ match: EnvoyRouteMatch; suffix: string }> {
  const { path, headers, queryParams, method } = route.match;
  if (queryParams.length > 0) return [];
  if (method !== undefined && method !== GRPC_METHOD) return [];
  const headerMatches = headers.length > 0 ? { headers: headers.map((h) => ({ name: h.name, string_match: stringMatch(h) })) } : {};
  if (path.type === 'Exact') return [{ match: { path: path.value, ...headerMatches }, suffix: '' }];
  if (path.type === 'RegularExpression') return [{ match: { safe_regex: { regex: path.value }, ...headerMatches }, suffix: '' }];
  if (path.value === '/') return [{ match: { prefix: '/', ...headerMatches }, suffix: '' }];
  return [
    { match: { path: path.value, ...headerMatches }, suffix: '/exact-path' },
    { match: { prefix: `${path.value}/`, ...headerMatches }, suffix: '/sub-paths' },
  ];
}

function proxylessAction(route: IrRoute): EnvoyRouteAction {
  if (route.action.kind !== 'forward') return { cluster: PROXYLESS_UNAVAILABLE_CLUSTER };
  const action: IrForwardAction = route.action;
  const clusters = action.backends.map((s) => ({ name: s.kind === 'cluster' ? s.cluster : PROXYLESS_UNAVAILABLE_CLUSTER, weight: s.weight }));
  const out: EnvoyRouteAction = clusters.length === 1 ? { cluster: clusters[0].name } : { weighted_clusters: { clusters } };
  if (action.timeout !== undefined) out.max_stream_duration = { max_stream_duration: action.timeout };
  return out;
}
