import type {
  EnvoyCluster,
  EnvoyClusterLoadAssignment,
  EnvoyClusterWeight,
  EnvoyHeaderMutations,
  EnvoyHeaderValueOption,
  EnvoyListener,
  EnvoyRedirectResponseCode,
  EnvoyResources,
  EnvoyRoute,
  EnvoyRouteAction,
  EnvoyRouteConfiguration,
  EnvoyRouteMatch,
} from './envoy-types';
import { ADS, CONNECT_TIMEOUT, httpConnectionManager, stringMatch } from './envoy-common';
import { renderProxyless } from './proxyless';
import { compareStrings } from './resource-index';
import type { IrCluster, IrHeaderMutation, IrListener, IrPathModifier, IrRoute, RouteIR } from './ir';

/**
 * The weighted_clusters entry standing for an unresolvable backend's share of traffic. No cluster has
 * this name, and the route sets cluster_not_found_response_code so that share gets a 500.
 */
/**
 * Envoy reads `%` in added header values as the start of a format command (%DOWNSTREAM_…%);
 * Gateway API values are literal, so `%` is escaped as `%%`, as Envoy Gateway does.
 */
export function literalHeaderValue(value: string): string {
  return value.replace(/%/g, '%%');
}

export const INVALID_BACKEND_CLUSTER = 'tendril.invalid-backend';

const REDIRECT_CODES: Record<number, EnvoyRedirectResponseCode> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

/**
 * IR → Envoy resources: a Listener + RouteConfiguration per Gateway socket for the node proxy, and
 * an API Listener + RouteConfiguration per route hostname for proxyless gRPC clients. Pure; every
 * list is sorted by resource name.
 */
export function renderEnvoy(ir: RouteIR): EnvoyResources {
  const proxyless = renderProxyless(ir.listeners);
  return {
    listeners: sortedBy('name', [...ir.listeners.map(renderListener), ...proxyless.listeners]),
    routes: sortedBy('name', [...ir.listeners.map(renderRouteConfiguration), ...proxyless.routes]),
    clusters: sortedBy('name', [...ir.clusters.map(renderCluster), ...proxyless.clusters]),
    endpoints: sortedBy('cluster_name', [...ir.clusters.map(renderLoadAssignment), ...proxyless.endpoints]),
    secrets: [],
  };
}

function sortedBy<K extends string, T extends Record<K, string>>(key: K, resources: T[]): T[] {
  return resources.sort((a, b) => compareStrings(a[key], b[key]));
}

function renderListener(listener: IrListener): EnvoyListener {
  return {
    name: listener.name,
    address: { socket_address: { address: listener.address, port_value: listener.port } },
    filter_chains: [
      {
        filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: httpConnectionManager(listener.name, listener.name) }],
      },
    ],
  };
}

function renderRouteConfiguration(listener: IrListener): EnvoyRouteConfiguration {
  return {
    name: listener.name,
    virtual_hosts: listener.virtualHosts.map((vh) => ({
      name: vh.name,
      domains: [vh.hostname],
      routes: vh.routes.flatMap(renderRoute),
    })),
  };
}

/**
 * One IR route becomes one Envoy route, except segment-wise prefix replacement, which Envoy's
 * prefix_rewrite cannot express in one route when either side is "/": "/strip" → "/" must turn
 * "/strip/x" into "/x" (not "//x") and "/strip" into "/". Splitting into an exact-path route and a
 * "<prefix>/" route gives each half a plain prefix_rewrite.
 */
function renderRoute(route: IrRoute): EnvoyRoute[] {
  const rewrite = prefixReplacement(route);
  if (!rewrite || !needsSplit(rewrite)) return [renderRouteWith(route, baseMatch(route), rewrite && simplePrefixRewrite(rewrite))];
  const { prefix, replacement } = rewrite;
  const subPathsPrefix = prefix === '/' ? '/' : `${prefix}/`;
  const subPathsReplacement = replacement === '/' ? '/' : `${replacement}/`;
  return [
    renderRouteWith(route, { ...baseMatch(route), prefix: undefined, path_separated_prefix: undefined, path: prefix }, replacement, '/exact-path'),
    renderRouteWith(route, { ...baseMatch(route), prefix: subPathsPrefix, path_separated_prefix: undefined }, subPathsReplacement, '/sub-paths'),
  ];
}

function prefixReplacement(route: IrRoute): Extract<IrPathModifier, { type: 'ReplacePrefixMatch' }> | undefined {
  const modifier = route.action.kind === 'forward' ? route.action.pathRewrite : route.action.kind === 'redirect' ? route.action.path : undefined;
  return modifier?.type === 'ReplacePrefixMatch' ? modifier : undefined;
}

function needsSplit(rewrite: { prefix: string; replacement: string }): boolean {
  return (rewrite.prefix === '/') !== (rewrite.replacement === '/');
}

/** When neither side is "/", replacing the matched prefix is exactly Envoy's prefix_rewrite. */
function simplePrefixRewrite(rewrite: { prefix: string; replacement: string }): string | undefined {
  return rewrite.prefix === '/' && rewrite.replacement === '/' ? undefined : rewrite.replacement;
}

function baseMatch(route: IrRoute): EnvoyRouteMatch {
  const match: EnvoyRouteMatch = {};
  const path = route.match.path;
  if (path.type === 'Exact') match.path = path.value;
  else if (path.type === 'RegularExpression') match.safe_regex = { regex: path.value };
  else if (path.value === '/') match.prefix = '/';
  else match.path_separated_prefix = path.value;
  const headers = route.match.headers.map((h) => ({ name: h.name, string_match: stringMatch(h) }));
  if (route.match.method) headers.push({ name: ':method', string_match: { exact: route.match.method } });
  if (headers.length > 0) match.headers = headers;
  if (route.match.queryParams.length > 0) {
    match.query_parameters = route.match.queryParams.map((q) => ({ name: q.name, string_match: stringMatch(q) }));
  }
  return match;
}


function renderRouteWith(route: IrRoute, match: EnvoyRouteMatch, prefixRewrite: string | undefined, nameSuffix = ''): EnvoyRoute {
  const out: EnvoyRoute = { name: route.name + nameSuffix, match: dropUndefined(match) };
  const action = route.action;
  if (action.kind === 'directResponse') {
    out.direct_response = { status: action.status, body: { inline_string: action.body } };
  } else if (action.kind === 'redirect') {
    out.redirect = {
      ...(action.scheme ? { scheme_redirect: action.scheme } : {}),
      ...(action.hostname ? { host_redirect: action.hostname } : {}),
      port_redirect: action.port,
      ...(action.path?.type === 'ReplaceFullPath' ? { path_redirect: action.path.replacement } : {}),
      ...(prefixRewrite !== undefined ? { prefix_rewrite: prefixRewrite } : {}),
      response_code: REDIRECT_CODES[action.statusCode] ?? 'FOUND',
    };
  } else {
    const ra: EnvoyRouteAction = {};
    const shares = action.backends;
    const single = shares.length === 1 ? shares[0] : undefined;
    if (single?.kind === 'cluster' && !single.requestHeaders && !single.responseHeaders) {
      ra.cluster = single.cluster;
    } else {
      ra.weighted_clusters = {
        clusters: shares.map((s): EnvoyClusterWeight =>
          s.kind === 'invalid'
            ? { name: INVALID_BACKEND_CLUSTER, weight: s.weight }
            : { name: s.cluster, weight: s.weight, ...headerMutations(s.requestHeaders, s.responseHeaders) },
        ),
      };
      if (shares.some((s) => s.kind === 'invalid')) ra.cluster_not_found_response_code = 'INTERNAL_SERVER_ERROR';
    }
    if (action.timeout !== undefined) ra.timeout = action.timeout;
    if (action.perTryTimeout !== undefined) ra.retry_policy = { per_try_timeout: action.perTryTimeout };
    if (action.pathRewrite?.type === 'ReplaceFullPath') {
      ra.regex_rewrite = { pattern: { regex: '^/.*$' }, substitution: action.pathRewrite.replacement };
    } else if (prefixRewrite !== undefined) {
      ra.prefix_rewrite = prefixRewrite;
    }
    if (action.hostRewrite) ra.host_rewrite_literal = action.hostRewrite;
    if (action.mirrors.length > 0) {
      ra.request_mirror_policies = action.mirrors.map((m) =>
        m.partsPerMillion >= 1_000_000
          ? { cluster: m.cluster }
          : { cluster: m.cluster, runtime_fraction: { default_value: fraction(m.partsPerMillion) } },
      );
    }
    out.route = ra;
  }
  Object.assign(out, headerMutations(route.requestHeaders, route.responseHeaders));
  return out;
}

/** The coarsest Envoy denominator that represents the fraction exactly. */
function fraction(partsPerMillion: number): { numerator: number; denominator: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION' } {
  if (partsPerMillion % 10_000 === 0) return { numerator: partsPerMillion / 10_000, denominator: 'HUNDRED' };
  if (partsPerMillion % 100 === 0) return { numerator: partsPerMillion / 100, denominator: 'TEN_THOUSAND' };
  return { numerator: partsPerMillion, denominator: 'MILLION' };
}

function headerMutations(request: IrHeaderMutation | undefined, response: IrHeaderMutation | undefined): EnvoyHeaderMutations {
  const out: EnvoyHeaderMutations = {};
  const toAdd = (m: IrHeaderMutation): EnvoyHeaderValueOption[] => [
    ...m.set.map((h): EnvoyHeaderValueOption => ({ header: { key: h.name, value: literalHeaderValue(h.value) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
    ...m.add.map((h): EnvoyHeaderValueOption => ({ header: { key: h.name, value: literalHeaderValue(h.value) }, append_action: 'APPEND_IF_EXISTS_OR_ADD' })),
  ];
  if (request) {
    const add = toAdd(request);
    if (add.length > 0) out.request_headers_to_add = add;
    if (request.remove.length > 0) out.request_headers_to_remove = [...request.remove];
  }
  if (response) {
    const add = toAdd(response);
    if (add.length > 0) out.response_headers_to_add = add;
    if (response.remove.length > 0) out.response_headers_to_remove = [...response.remove];
  }
  return out;
}

function renderCluster(cluster: IrCluster): EnvoyCluster {
  const out: EnvoyCluster = {
    name: cluster.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS, service_name: cluster.name },
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: 'ROUND_ROBIN',
  };
  if (cluster.protocol === 'HTTP2') {
    out.typed_extension_protocol_options = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return out;
}

function renderLoadAssignment(cluster: IrCluster): EnvoyClusterLoadAssignment {
  return {
    cluster_name: cluster.name,
    endpoints:
      cluster.endpoints.length === 0
        ? []
        : [
            {
              locality: {},
              load_balancing_weight: 1 as const,
              lb_endpoints: cluster.endpoints.map((e) => ({
                endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
                health_status: 'HEALTHY' as const,
              })),
            },
          ],
  };
}

function dropUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
