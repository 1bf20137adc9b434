import type {
  EnvoyCluster,
  EnvoyClusterLoadAssignment,
  EnvoyClusterWeight,
  EnvoyFilterChain,
  EnvoyHeaderMutations,
  EnvoyHeaderValueOption,
  EnvoyListener,
  EnvoyRedirectResponseCode,
  EnvoyRetryPolicy,
  EnvoyResources,
  EnvoyRoute,
  EnvoyRouteAction,
  EnvoyRouteConfiguration,
  EnvoyRouteMatch,
  EnvoySecret,
  EnvoyVirtualHost,
} from './envoy-types';
import { CORS_FILTER_NAME, hasCorsRoutes, renderCorsPolicy } from './cors';
import { owningListenerHostname } from './hostnames';
import { ADS, CONNECT_TIMEOUT, httpConnectionManager, stringMatch } from './envoy-common';
import { renderMesh } from './mesh-render';
import { renderProxyless } from './proxyless';
import { renderUdp } from './udp-render';
import { compareStrings } from './resource-index';
import type { IrCluster, IrForwardAction, IrHeaderMutation, IrListener, IrPathModifier, IrRoute, IrSecret, IrTlsListener, IrVirtualHost, RouteIR } from './ir';

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
 * an API Listener + RouteConfiguration per route hostname (or per one of `proxylessHostnames`) for
 * proxyless gRPC clients. Pure; every
 * list is sorted by resource name.
 */
export function renderEnvoy(ir: RouteIR, proxylessHostnames?: ReadonlySet<string>): EnvoyResources {
  const proxyless = renderProxyless(ir.listeners, proxylessHostnames);
  const mesh = ir.mesh ? renderMesh(ir.mesh, renderVirtualHost) : { listeners: [], routes: [] };
  const udp = renderUdp(ir.listeners, ir.clusters);
  const streamListeners = ir.listeners.filter((l) => !l.udp);
  return {
    listeners: sortedBy('name', [...streamListeners.map(renderListener), ...udp.listeners, ...proxyless.listeners, ...mesh.listeners]),
    routes: sortedBy('name', [...streamListeners.flatMap(renderRouteConfigurations), ...proxyless.routes, ...mesh.routes]),
    clusters: sortedBy('name', [...ir.clusters.map((c) => renderedCluster(c).cluster), ...udp.clusters, ...proxyless.clusters]),
    endpoints: sortedBy('cluster_name', [...ir.clusters.map((c) => renderedCluster(c).loadAssignment), ...udp.endpoints, ...proxyless.endpoints]),
    secrets: sortedBy('name', ir.secrets.map(renderSecret)),
  };
}

function sortedBy<K extends string, T extends Record<K, string>>(key: K, resources: T[]): T[] {
  return resources.sort((a, b) => compareStrings(a[key], b[key]));
}

/** Gateway API asks HTTPS listeners to offer HTTP/2 where the client can use it, as Envoy Gateway does. */
const DOWNSTREAM_ALPN = ['h2', 'http/1.1'];
const MISDIRECTED_REQUEST = 421;

const TLS_INSPECTOR: NonNullable<EnvoyListener['listener_filters']>[number] = {
  name: 'envoy.filters.listener.tls_inspector',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' },
};

function renderListener(listener: IrListener): EnvoyListener {
  const address = { socket_address: { address: listener.address, port_value: listener.port } };
  if (listener.tcp) {
    const backends = listener.tcp.backends;
    return {
      name: listener.name,
      address,
      filter_chains: [
        {
          name: listener.tcp.name,
          filters: [
            {
              name: 'envoy.filters.network.tcp_proxy',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                stat_prefix: listener.name.replace(/[^A-Za-z0-9_.-]/g, '_'),
                ...(backends.length === 1
                  ? { cluster: backends[0].cluster }
                  : { weighted_clusters: { clusters: backends.map((b) => ({ name: b.cluster, weight: b.weight })) } }),
              },
            },
          ],
        },
      ],
    };
  }
  if (listener.passthrough) {
    return {
      name: listener.name,
      address,
      listener_filters: [TLS_INSPECTOR],
      filter_chains: listener.passthrough.map(
        (route): EnvoyFilterChain => ({
          name: `${listener.name}/${route.hostname}`,
          // The route for `*` takes the connections whose SNI (or lack of one) no other route names.
          ...(route.hostname === '*' ? {} : { filter_chain_match: { server_names: [route.hostname] } }),
          ...(route.terminate
            ? {
                transport_socket: {
                  name: 'envoy.transport_sockets.tls' as const,
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext' as const,
                    common_tls_context: { tls_certificate_sds_secret_configs: route.terminate.certificates.map((name) => ({ name, sds_config: ADS })), alpn_protocols: [] },
                  },
                },
              }
            : {}),
          filters: [
            {
              name: 'envoy.filters.network.tcp_proxy',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                stat_prefix: listener.name.replace(/[^A-Za-z0-9_.-]/g, '_'),
                cluster: route.cluster,
              },
            },
          ],
        }),
      ),
    };
  }
  const hcm = (routeConfigName: string): EnvoyFilterChain['filters'] => [
    { name: 'envoy.filters.network.http_connection_manager', typed_config: httpConnectionManager(listener.name, routeConfigName, { websocket: true, cors: hasCorsRoutes(listener.virtualHosts) }) },
  ];
  if (!listener.tls) return { name: listener.name, address, filter_chains: [{ filters: hcm(listener.name) }] };
  return {
    name: listener.name,
    address,
    listener_filters: [TLS_INSPECTOR],
    filter_chains: listener.tls.map(
      (chain): EnvoyFilterChain => ({
        name: tlsRouteConfigName(listener, chain),
        // The chain of a listener without hostname has no match: it takes whatever SNI (or none) no other chain names.
        ...(chain.hostname === '*' ? {} : { filter_chain_match: { server_names: [chain.hostname] } }),
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
            ...(chain.clientValidation?.mode === 'AllowValidOnly' ? { require_client_certificate: true } : {}),
            common_tls_context: {
              tls_certificate_sds_secret_configs: chain.certificates.map((name) => ({ name, sds_config: ADS })),
              alpn_protocols: DOWNSTREAM_ALPN,
              ...(chain.clientValidation
                ? {
                    validation_context: {
                      trusted_ca: { inline_string: chain.clientValidation.trustedCa },
                      // Insecure fallback: the certificate is still requested, but an invalid or missing one is let through.
                      ...(chain.clientValidation.mode === 'AllowInsecureFallback' ? { trust_chain_verification: 'ACCEPT_UNTRUSTED' as const } : {}),
                    },
                  }
                : {}),
            },
          },
        },
        filters: hcm(tlsRouteConfigName(listener, chain)),
      }),
    ),
  };
}

/** Each filter chain of a TLS socket routes with its own RouteConfiguration: only its own listener's hosts. */
function tlsRouteConfigName(listener: IrListener, chain: IrTlsListener): string {
  return `${listener.name}/${chain.hostname}`;
}

function renderRouteConfigurations(listener: IrListener): EnvoyRouteConfiguration[] {
  if (listener.passthrough || listener.tcp) return [];
  if (!listener.tls) return [{ name: listener.name, virtual_hosts: renderVirtualHosts(listener.name, listener.virtualHosts) }];
  const chainHostnames = listener.tls.map((c) => c.hostname);
  return listener.tls.map((chain) => {
    const own = listener.virtualHosts.filter((vh) => owningListenerHostname(chainHostnames, vh.hostname) === chain.hostname);
    // A request whose Host another chain (another listener, maybe another certificate) would serve
    // reached this one through a connection set up for a different name (HTTP/2 connection reuse, or
    // an SNI unlike the Host): 421 tells the client to retry on a connection of its own (RFC 9110 15.5.20).
    const elsewhere = chainHostnames.filter((h) => h !== chain.hostname && h !== '*');
    if (chain.hostname !== '*') elsewhere.push('*');
    const name = tlsRouteConfigName(listener, chain);
    return {
      name,
      virtual_hosts: [...own.map(renderVirtualHost), ...elsewhere.map((hostname) => misdirectedVirtualHost(name, hostname))],
    };
  });
}

/** The virtual hosts last rendered for each listener, by name: an update that changed a few of ten thousand renders those. */
const lastRenderedHosts = new Map<string, { hosts: readonly IrVirtualHost[]; rendered: readonly EnvoyVirtualHost[] }>();
/** Listeners remembered at most; beyond that the memory starts over. */
const RENDERED_LISTENER_LIMIT = 256;

/**
 * A listener's virtual hosts rendered: position by position, the host rendered last time when the
 * IR host is the same object (a TranslationMemo keeps unchanged ones), which spares ten thousand
 * lookups when one host changed. The result is shared with later calls: never mutate it.
 */
function renderVirtualHosts(listenerName: string, hosts: readonly IrVirtualHost[]): EnvoyVirtualHost[] {
  const last = lastRenderedHosts.get(listenerName);
  let rendered: EnvoyVirtualHost[];
  if (last?.hosts.length === hosts.length) {
    rendered = [...last.rendered];
    for (let i = 0; i < hosts.length; i++) if (hosts[i] !== last.hosts[i]) rendered[i] = renderVirtualHost(hosts[i]);
  } else {
    rendered = hosts.map(renderVirtualHost);
  }
  if (!last && lastRenderedHosts.size >= RENDERED_LISTENER_LIMIT) lastRenderedHosts.clear();
  lastRenderedHosts.set(listenerName, { hosts, rendered });
  return rendered;
}

function misdirectedVirtualHost(routeConfigName: string, hostname: string): EnvoyVirtualHost {
  return {
    name: `${routeConfigName}/misdirected/${hostname}`,
    domains: [hostname],
    routes: [{ name: `${routeConfigName}/misdirected/${hostname}`, match: { prefix: '/' }, direct_response: { status: MISDIRECTED_REQUEST } }],
  };
}

function renderSecret(secret: IrSecret): EnvoySecret {
  return {
    name: secret.name,
    tls_certificate: { certificate_chain: { inline_string: secret.certificateChain }, private_key: { inline_string: secret.privateKey } },
  };
}

/**
 * Rendered virtual hosts and clusters, by the IR object they came from. IR objects are never
 * mutated, so the same object renders the same way; with a TranslationMemo, unchanged routes keep
 * their IR objects, and their Envoy objects are then the same too (which the xDS encoder notices).
 */
const renderedVirtualHosts = new WeakMap<IrVirtualHost, EnvoyVirtualHost>();
const renderedClusters = new WeakMap<IrCluster, { cluster: EnvoyCluster; loadAssignment: EnvoyClusterLoadAssignment }>();

function renderVirtualHost(vh: IrVirtualHost): EnvoyVirtualHost {
  let rendered = renderedVirtualHosts.get(vh);
  if (!rendered) {
    rendered = { name: vh.name, domains: [vh.hostname], routes: vh.routes.flatMap(renderRoute) };
    renderedVirtualHosts.set(vh, rendered);
  }
  return rendered;
}

function renderedCluster(cluster: IrCluster): { cluster: EnvoyCluster; loadAssignment: EnvoyClusterLoadAssignment } {
  let rendered = renderedClusters.get(cluster);
  if (!rendered) {
    rendered = { cluster: renderCluster(cluster), loadAssignment: renderLoadAssignment(cluster) };
    renderedClusters.set(cluster, rendered);
  }
  return rendered;
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
    if (action.retry || action.perTryTimeout !== undefined) ra.retry_policy = retryPolicy(action);
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
  if (route.cors) out.typed_per_filter_config = { [CORS_FILTER_NAME]: renderCorsPolicy(route.cors) };
  return out;
}

/**
 * Gateway API retries as Envoy's retry_policy, as Envoy Gateway renders them: connection failures,
 * resets and per-try timeouts ("reset" covers a read timeout) are always retried, the listed status
 * codes too. A per-try timeout alone sets no retry condition, so it bounds the single attempt.
 */
function retryPolicy(action: IrForwardAction): EnvoyRetryPolicy {
  const policy: EnvoyRetryPolicy = {};
  const retry = action.retry;
  if (retry) {
    policy.retry_on = ['connect-failure', 'refused-stream', 'reset', ...(retry.codes.length > 0 ? ['retriable-status-codes'] : [])].join(',');
    if (retry.attempts !== undefined) policy.num_retries = retry.attempts;
    if (retry.codes.length > 0) policy.retriable_status_codes = [...retry.codes];
    if (retry.backoff !== undefined) policy.retry_back_off = { base_interval: retry.backoff };
  }
  if (action.perTryTimeout !== undefined) policy.per_try_timeout = action.perTryTimeout;
  return policy;
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
  if (cluster.tls) {
    const { sni, trustedCa, subjectAltNames, clientCertificate } = cluster.tls;
    out.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni,
        common_tls_context: {
          // HTTP/2 over TLS is negotiated with ALPN; HTTP/1.1 needs none.
          ...(cluster.protocol === 'HTTP2' ? { alpn_protocols: ['h2'] } : {}),
          ...(clientCertificate ? { tls_certificates: [{ certificate_chain: { inline_string: clientCertificate.certificateChain }, private_key: { inline_string: clientCertificate.privateKey } }] } : {}),
          validation_context: {
            ...(trustedCa === 'System' ? { system_root_certs: {} } : { trusted_ca: { inline_string: trustedCa } }),
            match_typed_subject_alt_names: subjectAltNames.map((san) => ({ san_type: san.type, matcher: { exact: san.value } })),
          },
        },
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
