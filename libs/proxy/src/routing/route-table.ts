import { durationToMilliseconds, type envoy } from '@tendril/api-envoy';
import { compileCorsPolicy, CORS_FILTER_NAME, type CorsPolicy } from './cors-policy';
import { compileHeaderMutation, type HeaderMutation } from './header-mutation';
import { compileFullMatchRegex, compileGlobalRegex, parseSubstitution, type Substitution } from './regex';
import type { RequestView } from './request-view';
import { compileRetryPolicy, type RetryPolicy } from './retry-policy';
import { compileStringMatcher, type StringPredicate } from './string-matcher';

type RouteConfiguration = envoy.config.route.v3.RouteConfiguration;
type VirtualHost = envoy.config.route.v3.VirtualHost;
type Route = envoy.config.route.v3.Route;
type RouteMatch = envoy.config.route.v3.RouteMatch;
type RouteAction = envoy.config.route.v3.RouteAction;
type RedirectAction = envoy.config.route.v3.RedirectAction;
type HeaderMatcher = envoy.config.route.v3.HeaderMatcher;
type QueryParameterMatcher = envoy.config.route.v3.QueryParameterMatcher;
type FractionalPercent = envoy.type.v3.FractionalPercent;
type RegexMatchAndSubstitute = envoy.type.matcher.v3.RegexMatchAndSubstitute;

/** Envoy's default route timeout. */
const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

export interface RegexRewrite {
  regex: RegExp;
  substitution: Substitution;
}

export interface WeightedTarget {
  cluster: string;
  /** Upper bound (exclusive) of this entry's slice of [0, total weight). */
  cumulativeWeight: number;
  requestMutation: HeaderMutation | undefined;
  responseMutation: HeaderMutation | undefined;
  hostRewrite: string | undefined;
}

export interface MirrorTarget {
  cluster: string;
  /** Probability in [0, 1] that a request is mirrored. */
  fraction: number;
  appendShadowSuffix: boolean;
}

export interface ForwardAction {
  kind: 'forward';
  /** Set for a single-cluster route; otherwise `weighted` is. */
  cluster: string | undefined;
  weighted: { targets: readonly WeightedTarget[]; totalWeight: number } | undefined;
  clusterNotFoundStatus: number;
  /** Whole-request timeout; 0 disables it. */
  timeoutMs: number;
  /** Per upstream attempt; 0 when unset. */
  perTryTimeoutMs: number;
  /** x-envoy-expected-rq-timeout-ms for upstream requests (per-try timeout, else route timeout); undefined when neither is set. */
  expectedTimeoutHeader: string | undefined;
  prefixRewrite: string | undefined;
  regexRewrite: RegexRewrite | undefined;
  hostRewrite: string | undefined;
  mirrors: readonly MirrorTarget[];
  /** Route-level upgrade_configs: lower-case upgrade type → enabled; overrides the HCM's. */
  upgrades: ReadonlyMap<string, boolean>;
  /** The route's retry_policy, else its virtual host's; undefined: one attempt only. */
  retry: RetryPolicy | undefined;
  /** Virtual host include_request_attempt_count: x-envoy-attempt-count on upstream requests. */
  attemptCountInRequest: boolean;
  /** Virtual host include_attempt_count_in_response: x-envoy-attempt-count on the downstream response. */
  attemptCountInResponse: boolean;
}

/** What a route's forwarding takes from its virtual host. */
interface VirtualHostDefaults {
  retryPolicy: envoy.config.route.v3.RetryPolicy | undefined;
  bufferLimitBytes: number | undefined;
  attemptCountInRequest: boolean;
  attemptCountInResponse: boolean;
}

export interface RedirectRouteAction {
  kind: 'redirect';
  scheme: string | undefined;
  host: string | undefined;
  /** ":<port>" or "" as Envoy keeps it. */
  port: string;
  path: string | undefined;
  pathHasQuery: boolean;
  prefixRewrite: string | undefined;
  regexRewrite: RegexRewrite | undefined;
  status: number;
  stripQuery: boolean;
}

export interface DirectResponseAction {
  kind: 'direct';
  status: number;
  body: Buffer | undefined;
}

export type CompiledAction = ForwardAction | RedirectRouteAction | DirectResponseAction;

export interface CompiledRoute {
  name: string;
  /** Tests the path without query. */
  matchesPath: (pathOnly: string) => boolean;
  /** How much of :path prefix_rewrite replaces, given the path without query. */
  rewrittenLength: (pathOnly: string) => number;
  requestMatchers: readonly ((req: RequestView) => boolean)[];
  action: CompiledAction;
  /** Route, virtual host and route configuration levels, in the order Envoy evaluates them. */
  requestMutations: readonly HeaderMutation[];
  responseMutations: readonly HeaderMutation[];
  /** The route's CorsPolicy for the cors HTTP filter (it acts only where the connection manager has that filter). */
  cors: CorsPolicy | undefined;
}

export class CompiledVirtualHost {
  constructor(
    readonly name: string,
    readonly routes: readonly CompiledRoute[],
  ) {}

  /** Routes in order, first match wins. */
  match(req: RequestView): CompiledRoute | undefined {
    const path = req.pathOnly;
    for (const route of this.routes) {
      if (!route.matchesPath(path)) continue;
      let matched = true;
      for (const matcher of route.requestMatchers) {
        if (!matcher(req)) {
          matched = false;
          break;
        }
      }
      if (matched) return route;
    }
    return undefined;
  }
}

/** Host selection caches per authority; bounded so hostile Host headers cannot grow it. */
const HOST_CACHE_LIMIT = 1024;

export class CompiledRouteTable {
  private readonly hostCache = new Map<string, CompiledVirtualHost | null>();

  constructor(
    readonly name: string,
    private readonly exact: { get(domain: string): CompiledVirtualHost | undefined },
    /** "*.example.com" → ".example.com", longest first. */
    private readonly suffixes: readonly (readonly [string, CompiledVirtualHost])[],
    /** "foo.*" → "foo.", longest first. */
    private readonly prefixes: readonly (readonly [string, CompiledVirtualHost])[],
    private readonly catchAll: CompiledVirtualHost | undefined,
  ) {}

  /** The same table with other exact domains (a patch of a few virtual hosts; see patchBuild). */
  withExactDomains(exact: { get(domain: string): CompiledVirtualHost | undefined }): CompiledRouteTable {
    return new CompiledRouteTable(this.name, exact, this.suffixes, this.prefixes, this.catchAll);
  }

  /** Envoy's domain search: exact, then longest suffix wildcard, then longest prefix wildcard, then "*"; case and port ignored. */
  selectVirtualHost(authority: string): CompiledVirtualHost | undefined {
    const cached = this.hostCache.get(authority);
    if (cached !== undefined) return cached ?? undefined;
    const selected = this.search(authority);
    if (this.hostCache.size >= HOST_CACHE_LIMIT) this.hostCache.clear();
    this.hostCache.set(authority, selected ?? null);
    return selected;
  }

  private search(authority: string): CompiledVirtualHost | undefined {
    const withPort = authority.toLowerCase();
    const exactWithPort = this.exact.get(withPort);
    if (exactWithPort) return exactWithPort;
    const host = stripPort(withPort);
    const exact = this.exact.get(host);
    if (exact) return exact;
    for (const [suffix, vhost] of this.suffixes) {
      if (host.length > suffix.length && host.endsWith(suffix)) return vhost;
    }
    for (const [prefix, vhost] of this.prefixes) {
      if (host.length > prefix.length && host.startsWith(prefix)) return vhost;
    }
    return this.catchAll;
  }
}

export function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** A route configuration that failed to compile: one entry per offending field. */
export class RouteCompileError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

function fraction(percent: FractionalPercent | undefined): number {
  if (percent === undefined) return 1;
  const numerator = percent.numerator ?? 0;
  const denominator = percent.denominator === 'MILLION' ? 1_000_000 : percent.denominator === 'TEN_THOUSAND' ? 10_000 : 100;
  return Math.min(1, Math.max(0, numerator / denominator));
}

function durationMs(value: string | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  try {
    return durationToMilliseconds(value);
  } catch (err) {
    throw new Error(`${field}: ${(err as Error).message}`);
  }
}

function compileRegexRewrite(rewrite: RegexMatchAndSubstitute | undefined): RegexRewrite | undefined {
  if (rewrite === undefined) return undefined;
  const regex = compileGlobalRegex(rewrite.pattern?.regex ?? '');
  return { regex, substitution: parseSubstitution(rewrite.substitution ?? '', regex) };
}

function compilePathMatch(match: RouteMatch): Pick<CompiledRoute, 'matchesPath' | 'rewrittenLength'> {
  const caseSensitive = match.case_sensitive !== false;
  const specifiers = [match.prefix, match.path, match.safe_regex, match.path_separated_prefix, match.connect_matcher, match.path_match_policy].filter(
    (s) => s !== undefined,
  );
  if (specifiers.length !== 1) throw new Error('match needs exactly one of prefix, path, safe_regex, path_separated_prefix');
  if (match.prefix !== undefined) {
    const prefix = caseSensitive ? match.prefix : match.prefix.toLowerCase();
    const length = prefix.length;
    return {
      matchesPath: caseSensitive ? (p) => p.startsWith(prefix) : (p) => p.toLowerCase().startsWith(prefix),
      rewrittenLength: () => length,
    };
  }
  if (match.path !== undefined) {
    const path = caseSensitive ? match.path : match.path.toLowerCase();
    const length = path.length;
    return {
      matchesPath: caseSensitive ? (p) => p === path : (p) => p.toLowerCase() === path,
      rewrittenLength: () => length,
    };
  }
  if (match.safe_regex !== undefined) {
    const regex = compileFullMatchRegex(match.safe_regex.regex ?? '');
    return { matchesPath: (p) => regex.test(p), rewrittenLength: (p) => p.length };
  }
  if (match.path_separated_prefix !== undefined) {
    const prefix = caseSensitive ? match.path_separated_prefix : match.path_separated_prefix.toLowerCase();
    if (!prefix.startsWith('/') || (prefix.length > 1 && prefix.endsWith('/'))) {
      throw new Error(`path_separated_prefix "${prefix}" must start with "/" and not end with "/"`);
    }
    if (/[?#]/.test(prefix)) throw new Error(`path_separated_prefix "${prefix}" may not contain "?" or "#"`);
    const length = prefix.length;
    const test = (p: string): boolean => p.startsWith(prefix) && (p.length === length || p.charCodeAt(length) === 47 /* / */);
    return {
      matchesPath: caseSensitive ? test : (p) => test(p.toLowerCase()),
      rewrittenLength: () => length,
    };
  }
  throw new Error(match.connect_matcher !== undefined ? 'connect_matcher is not supported' : 'path_match_policy is not supported');
}

function compileHeaderMatcher(matcher: HeaderMatcher): (req: RequestView) => boolean {
  const name = (matcher.name ?? '').toLowerCase();
  if (name === '') throw new Error('header matcher has no name');
  const invert = matcher.invert_match === true;
  const missingAsEmpty = matcher.treat_missing_header_as_empty === true;
  let valueMatches: StringPredicate | undefined;
  if (matcher.string_match !== undefined) valueMatches = compileStringMatcher(matcher.string_match);
  else if (matcher.exact_match !== undefined) valueMatches = compileStringMatcher({ exact: matcher.exact_match });
  else if (matcher.safe_regex_match !== undefined) valueMatches = compileStringMatcher({ safe_regex: matcher.safe_regex_match });
  else if (matcher.prefix_match !== undefined) valueMatches = compileStringMatcher({ prefix: matcher.prefix_match });
  else if (matcher.suffix_match !== undefined) valueMatches = compileStringMatcher({ suffix: matcher.suffix_match });
  else if (matcher.contains_match !== undefined) valueMatches = compileStringMatcher({ contains: matcher.contains_match });
  else if (matcher.range_match !== undefined) {
    const start = Number(matcher.range_match.start ?? 0);
    const end = Number(matcher.range_match.end ?? 0);
    valueMatches = (v) => /^-?\d+$/.test(v) && Number(v) >= start && Number(v) < end;
  }
  // With no value specifier Envoy checks presence (present_match defaults to true).
  const present = matcher.present_match ?? true;
  return (req) => {
    let value = req.header(name);
    if (value === undefined) {
      if (!missingAsEmpty) return valueMatches === undefined && present === invert;
      value = '';
    }
    const matched = valueMatches === undefined ? present : valueMatches(value);
    return matched !== invert;
  };
}

function compileQueryMatcher(matcher: QueryParameterMatcher): (req: RequestView) => boolean {
  const name = matcher.name ?? '';
  if (name === '') throw new Error('query parameter matcher has no name');
  const valueMatches = matcher.string_match !== undefined ? compileStringMatcher(matcher.string_match) : undefined;
  if (matcher.present_match === true || valueMatches === undefined) return (req) => req.queryParameter(name) !== undefined;
  return (req) => {
    const value = req.queryParameter(name);
    return value !== undefined && valueMatches(value);
  };
}

function compileRequestMatchers(match: RouteMatch): ((req: RequestView) => boolean)[] {
  const matchers: ((req: RequestView) => boolean)[] = [];
  if (match.tls_context !== undefined) throw new Error('tls_context match is not supported (no TLS listeners)');
  if (match.dynamic_metadata !== undefined && match.dynamic_metadata.length > 0) throw new Error('dynamic_metadata match is not supported');
  for (const header of match.headers ?? []) matchers.push(compileHeaderMatcher(header));
  for (const query of match.query_parameters ?? []) matchers.push(compileQueryMatcher(query));
  if (match.grpc !== undefined) matchers.push((req) => (req.header('content-type') ?? '').startsWith('application/grpc'));
  if (match.runtime_fraction !== undefined) {
    const share = fraction(match.runtime_fraction.default_value);
    matchers.push(() => Math.random() < share);
  }
  return matchers;
}

const CLUSTER_NOT_FOUND_STATUS: Record<string, number> = { SERVICE_UNAVAILABLE: 503, NOT_FOUND: 404, INTERNAL_SERVER_ERROR: 500 };

function compileForwardAction(action: RouteAction, vhost: VirtualHostDefaults, bufferLimitBytes: number | undefined): ForwardAction {
  const unsupported: (keyof RouteAction)[] = [
    'cluster_header',
    'cluster_specifier_plugin',
    'inline_cluster_specifier_plugin',
    'path_rewrite_policy',
    'host_rewrite_header',
    'host_rewrite_path_regex',
    'retry_policy_typed_config',
  ];
  for (const field of unsupported) {
    if (action[field] !== undefined) throw new Error(`route.${field} is not supported`);
  }
  const rewrites = [action.prefix_rewrite, action.regex_rewrite].filter((r) => r !== undefined);
  if (rewrites.length > 1) throw new Error('only one of prefix_rewrite and regex_rewrite may be set');
  let weighted: ForwardAction['weighted'];
  if (action.weighted_clusters !== undefined) {
    if (action.cluster !== undefined) throw new Error('route has both cluster and weighted_clusters');
    let total = 0;
    const targets: WeightedTarget[] = [];
    for (const entry of action.weighted_clusters.clusters ?? []) {
      if (entry.cluster_header !== undefined) throw new Error('weighted_clusters cluster_header is not supported');
      if (!entry.name) throw new Error('weighted_clusters entry has no name');
      const weight = entry.weight ?? 0;
      if (!Number.isInteger(weight) || weight < 0) throw new Error(`weighted_clusters entry "${entry.name}" has invalid weight ${weight}`);
      total += weight;
      targets.push({
        cluster: entry.name,
        cumulativeWeight: total,
        requestMutation: compileHeaderMutation(entry.request_headers_to_add, entry.request_headers_to_remove),
        responseMutation: compileHeaderMutation(entry.response_headers_to_add, entry.response_headers_to_remove),
        hostRewrite: entry.host_rewrite_literal,
      });
    }
    if (total === 0) throw new Error('weighted_clusters total weight must be greater than 0');
    weighted = { targets, totalWeight: total };
  } else if (!action.cluster) {
    throw new Error('route action names no cluster');
  }
  const mirrors: MirrorTarget[] = (action.request_mirror_policies ?? []).map((policy) => {
    if (!policy.cluster) throw new Error('request_mirror_policies entry needs a cluster (cluster_header is not supported)');
    return {
      cluster: policy.cluster,
      fraction: fraction(policy.runtime_fraction?.default_value),
      appendShadowSuffix: policy.disable_shadow_host_suffix_append !== true,
    };
  });
  const upgrades = new Map<string, boolean>();
  for (const upgrade of action.upgrade_configs ?? []) {
    const type = (upgrade.upgrade_type ?? '').toLowerCase();
    if (type === '') throw new Error('upgrade_configs entry has no upgrade_type');
    if (type === 'connect' || upgrade.connect_config !== undefined) throw new Error('CONNECT upgrades are not supported');
    upgrades.set(type, upgrade.enabled !== false);
  }
  let clusterNotFoundStatus = 503;
  if (action.cluster_not_found_response_code !== undefined) {
    const status = CLUSTER_NOT_FOUND_STATUS[action.cluster_not_found_response_code];
    if (status === undefined) throw new Error(`unknown cluster_not_found_response_code "${action.cluster_not_found_response_code}"`);
    clusterNotFoundStatus = status;
  }
  // Envoy: a route's retry policy replaces the virtual host's, it is not merged with it.
  const retryPolicy = action.retry_policy ?? vhost.retryPolicy;
  const timeoutMs = durationMs(action.timeout, 'timeout', DEFAULT_ROUTE_TIMEOUT_MS);
  const perTryTimeoutMs = durationMs(retryPolicy?.per_try_timeout, 'retry_policy.per_try_timeout', 0);
  const expectedTimeoutMs = perTryTimeoutMs || timeoutMs;
  return {
    kind: 'forward',
    cluster: weighted ? undefined : action.cluster,
    weighted,
    clusterNotFoundStatus,
    timeoutMs,
    perTryTimeoutMs,
    expectedTimeoutHeader: expectedTimeoutMs > 0 ? String(Math.round(expectedTimeoutMs)) : undefined,
    prefixRewrite: action.prefix_rewrite,
    regexRewrite: compileRegexRewrite(action.regex_rewrite),
    hostRewrite: action.host_rewrite_literal,
    mirrors,
    upgrades,
    retry: retryPolicy === undefined ? undefined : compileRetryPolicy(retryPolicy, bufferLimitBytes ?? vhost.bufferLimitBytes),
    attemptCountInRequest: vhost.attemptCountInRequest,
    attemptCountInResponse: vhost.attemptCountInResponse,
  };
}

const REDIRECT_STATUS: Record<string, number> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

function compileRedirectAction(redirect: RedirectAction): RedirectRouteAction {
  const status = REDIRECT_STATUS[redirect.response_code ?? 'MOVED_PERMANENTLY'];
  if (status === undefined) throw new Error(`unknown redirect response_code "${redirect.response_code}"`);
  const pathOptions = [redirect.path_redirect, redirect.prefix_rewrite, redirect.regex_rewrite].filter((o) => o !== undefined);
  if (pathOptions.length > 1) throw new Error('only one of path_redirect, prefix_rewrite and regex_rewrite may be set');
  if (redirect.https_redirect === true && redirect.scheme_redirect !== undefined) throw new Error('only one of https_redirect and scheme_redirect may be set');
  const port = redirect.port_redirect;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Error(`invalid port_redirect ${port}`);
  return {
    kind: 'redirect',
    scheme: redirect.https_redirect === true ? 'https' : redirect.scheme_redirect?.toLowerCase(),
    host: redirect.host_redirect,
    port: port ? `:${port}` : '',
    path: redirect.path_redirect,
    pathHasQuery: redirect.path_redirect?.includes('?') ?? false,
    prefixRewrite: redirect.prefix_rewrite,
    regexRewrite: compileRegexRewrite(redirect.regex_rewrite),
    status,
    stripQuery: redirect.strip_query === true,
  };
}

function compileAction(route: Route, vhost: VirtualHostDefaults): CompiledAction {
  const actions = [route.route, route.redirect, route.direct_response, route.filter_action, route.non_forwarding_action].filter((a) => a !== undefined);
  if (actions.length !== 1) throw new Error('route needs exactly one of route, redirect, direct_response');
  if (route.route !== undefined) return compileForwardAction(route.route, vhost, route.per_request_buffer_limit_bytes);
  if (route.redirect !== undefined) return compileRedirectAction(route.redirect);
  if (route.direct_response !== undefined) {
    const status = route.direct_response.status ?? 0;
    if (!Number.isInteger(status) || status < 200 || status > 599) throw new Error(`direct_response status ${status} is not in [200, 600)`);
    const source = route.direct_response.body;
    let body: Buffer | undefined;
    if (source?.inline_string !== undefined) body = Buffer.from(source.inline_string, 'utf8');
    else if (source?.inline_bytes !== undefined) body = Buffer.from(source.inline_bytes, 'base64');
    else if (source !== undefined) throw new Error('direct_response body must be inline_string or inline_bytes');
    return { kind: 'direct', status, body };
  }
  throw new Error('filter_action and non_forwarding_action routes are not supported');
}

function compileRoute(route: Route, vhost: VirtualHostDefaults, vhostMutations: Levels, configMutations: Levels, mostSpecificWins: boolean): CompiledRoute {
  const match = route.match ?? {};
  const { matchesPath, rewrittenLength } = compilePathMatch(match);
  const routeMutations: Levels = {
    request: compileHeaderMutation(route.request_headers_to_add, route.request_headers_to_remove),
    response: compileHeaderMutation(route.response_headers_to_add, route.response_headers_to_remove),
  };
  // Envoy evaluates route, then virtual host, then route configuration, so the least specific level
  // wins a conflict; most_specific_header_mutations_wins reverses that.
  const order = mostSpecificWins ? [configMutations, vhostMutations, routeMutations] : [routeMutations, vhostMutations, configMutations];
  return {
    name: route.name ?? '',
    matchesPath,
    rewrittenLength,
    requestMatchers: compileRequestMatchers(match),
    action: compileAction(route, vhost),
    requestMutations: order.map((level) => level.request).filter((m): m is HeaderMutation => m !== undefined),
    responseMutations: order.map((level) => level.response).filter((m): m is HeaderMutation => m !== undefined),
    cors: compileRouteFilterConfigs(route.typed_per_filter_config),
  };
}

/** typed_per_filter_config of a route: the cors filter's policy is the only per-route filter config the proxy serves. */
function compileRouteFilterConfigs(configs: Route['typed_per_filter_config']): CorsPolicy | undefined {
  let cors: CorsPolicy | undefined;
  for (const [name, config] of Object.entries(configs ?? {})) {
    if (name !== CORS_FILTER_NAME) throw new Error(`typed_per_filter_config for "${name}" is not supported`);
    cors = compileCorsPolicy(config as Parameters<typeof compileCorsPolicy>[0]);
  }
  return cors;
}

interface Levels {
  request: HeaderMutation | undefined;
  response: HeaderMutation | undefined;
}

/** Runs `fn`, recording its error under `where` instead of stopping, so one pass reports every problem. */
function collect<T>(problems: string[], where: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
    return undefined;
  }
}

function validateDomain(domain: string): void {
  if (domain === '') throw new Error('empty domain');
  if (domain === '*') return;
  const star = domain.indexOf('*');
  if (star !== -1 && ((star !== 0 && star !== domain.length - 1) || domain.indexOf('*', star + 1) !== -1)) {
    throw new Error(`domain "${domain}" may only have a wildcard at its start or end`);
  }
}

/**
 * Compiled virtual hosts of each RouteConfiguration, by content: an update re-sends the whole
 * RouteConfiguration, usually with one virtual host changed, and only that one is compiled again.
 * Compiled virtual hosts hold no per-table state, so tables share them. Kept across compiles and
 * pruned to the configuration's current hosts when it grows (see withinBound).
 */
const compiledVirtualHosts = new Map<string, { contextKey: string; byContent: Map<string, CompiledVirtualHost> }>();
/**
 * The same, by virtual host object: the xDS decoder hands back the very same object for a virtual
 * host whose bytes did not change, which saves serialising ten thousand of them to find the one
 * that changed.
 */
const compiledByObject = new WeakMap<object, { contextKey: string; key: string; compiled: CompiledVirtualHost; domains?: readonly string[] }>();
/** Route configurations remembered at most; beyond that the cache starts over. */
const CACHED_ROUTE_CONFIG_LIMIT = 256;

/** A key equal for equal content; undefined when the value cannot be serialized (then nothing is cached). */
function contentKey(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

function compileVirtualHost(vhost: VirtualHost, where: string, problems: string[], configMutations: Levels, mostSpecificWins: boolean): CompiledVirtualHost {
  const vhostMutations: Levels = {
    request: collect(problems, `${where} request_headers_to_add`, () => compileHeaderMutation(vhost.request_headers_to_add, vhost.request_headers_to_remove)),
    response: collect(problems, `${where} response_headers_to_add`, () => compileHeaderMutation(vhost.response_headers_to_add, vhost.response_headers_to_remove)),
  };
  if (vhost.matcher !== undefined) problems.push(`${where}: the generic matcher tree is not supported, use routes`);
  if (vhost.require_tls !== undefined && vhost.require_tls !== 'NONE') problems.push(`${where}: require_tls is not supported (no TLS listeners)`);
  if (vhost.retry_policy_typed_config !== undefined) problems.push(`${where}: retry_policy_typed_config is not supported`);
  if (Object.keys(vhost.typed_per_filter_config ?? {}).length > 0) problems.push(`${where}: typed_per_filter_config is supported on routes only`);
  const defaults: VirtualHostDefaults = {
    retryPolicy: vhost.retry_policy,
    bufferLimitBytes: vhost.per_request_buffer_limit_bytes,
    attemptCountInRequest: vhost.include_request_attempt_count === true,
    attemptCountInResponse: vhost.include_attempt_count_in_response === true,
  };
  const routes: CompiledRoute[] = [];
  (vhost.routes ?? []).forEach((route, ri) => {
    const compiled = collect(problems, `${where} routes[${ri}]${route.name ? ` (${route.name})` : ''}`, () =>
      compileRoute(route, defaults, vhostMutations, configMutations, mostSpecificWins),
    );
    if (compiled) routes.push(compiled);
  });
  return new CompiledVirtualHost(vhost.name ?? '', routes);
}

/** How problems name a virtual host; built only when there is a problem (ten thousand unchanged ones need no label). */
function virtualHostLabel(vhost: VirtualHost, index: number): string {
  return `virtual_hosts[${index}]${vhost.name ? ` (${vhost.name})` : ''}`;
}

/**
 * The content cache of a configuration, or, once it holds more than twice as many virtual hosts as
 * the configuration (edits leave old versions behind), a new one with just the configuration's.
 */
function withinBound(cached: Map<string, CompiledVirtualHost>, vhosts: readonly VirtualHost[]): Map<string, CompiledVirtualHost> {
  if (cached.size <= 2 * vhosts.length + 64) return cached;
  const current = new Map<string, CompiledVirtualHost>();
  for (const vhost of vhosts) {
    const entry = compiledByObject.get(vhost);
    const compiled = entry && cached.get(entry.key);
    if (entry && compiled) current.set(entry.key, compiled);
  }
  return current;
}

/** A virtual host's domains, lower-cased; an invalid one is reported and left out. */
function normalizedDomains(vhost: VirtualHost, index: number, problems: string[]): string[] {
  const domains: string[] = [];
  for (const rawDomain of vhost.domains ?? []) {
    const domain = rawDomain.toLowerCase();
    try {
      validateDomain(domain);
    } catch (err) {
      problems.push(`${virtualHostLabel(vhost, index)}: ${(err as Error).message}`);
      continue;
    }
    domains.push(domain);
  }
  return domains;
}

/** Compiles a RouteConfiguration once; throws RouteCompileError listing every problem. */
export function compileRouteConfiguration(config: RouteConfiguration): CompiledRouteTable {
  const problems: string[] = [];
  if (config.vhds !== undefined) problems.push('vhds is not supported');
  const configMutations: Levels = {
    request: collect(problems, 'request_headers_to_add', () => compileHeaderMutation(config.request_headers_to_add, config.request_headers_to_remove)),
    response: collect(problems, 'response_headers_to_add', () => compileHeaderMutation(config.response_headers_to_add, config.response_headers_to_remove)),
  };
  const mostSpecificWins = config.most_specific_header_mutations_wins === true;
  // What a virtual host's compiled form depends on besides its own content.
  const contextKey = contentKey([
    mostSpecificWins,
    config.request_headers_to_add,
    config.request_headers_to_remove,
    config.response_headers_to_add,
    config.response_headers_to_remove,
  ]);
  const configName = config.name ?? '';
  const remembered = compiledVirtualHosts.get(configName);
  // The content cache carries over while the context stays: a virtual host known by object adds
  // nothing to it, so an update with one changed host of ten thousand adds one entry.
  const cached = remembered !== undefined && remembered.contextKey === contextKey ? remembered.byContent : new Map<string, CompiledVirtualHost>();
  const vhosts = config.virtual_hosts ?? [];
  const host = (vhost: VirtualHost, vi: number): { compiled: CompiledVirtualHost; domains: readonly string[] } => {
    const found = contextKey === undefined ? undefined : compiledByObject.get(vhost);
    const known = found?.contextKey === contextKey ? found : undefined;
    const key = contextKey === undefined ? undefined : (known?.key ?? contentKey(vhost));
    let compiled = key === undefined ? undefined : (known?.compiled ?? cached.get(key));
    if (compiled === undefined) {
      const problemsBefore = problems.length;
      compiled = compileVirtualHost(vhost, virtualHostLabel(vhost, vi), problems, configMutations, mostSpecificWins);
      if (key !== undefined && problems.length === problemsBefore) cached.set(key, compiled);
    }
    let entry = known;
    if (!entry && key !== undefined && contextKey !== undefined && cached.get(key) === compiled) compiledByObject.set(vhost, (entry = { contextKey, key, compiled }));
    let domains = entry?.domains;
    if (!domains) {
      const problemsBefore = problems.length;
      domains = normalizedDomains(vhost, vi, problems);
      if (entry && problems.length === problemsBefore) entry.domains = domains;
    }
    return { compiled, domains };
  };
  const remember = (build: TableBuild): CompiledRouteTable => {
    if (!compiledVirtualHosts.has(configName) && compiledVirtualHosts.size >= CACHED_ROUTE_CONFIG_LIMIT) compiledVirtualHosts.clear();
    if (contextKey !== undefined) compiledVirtualHosts.set(configName, { contextKey, byContent: withinBound(cached, vhosts) });
    if (!lastBuilds.has(configName) && lastBuilds.size >= CACHED_ROUTE_CONFIG_LIMIT) lastBuilds.clear();
    if (contextKey !== undefined) lastBuilds.set(configName, build);
    else lastBuilds.delete(configName);
    return build.table;
  };

  const last = lastBuilds.get(configName);
  if (problems.length === 0 && contextKey !== undefined && last?.contextKey === contextKey && last.vhosts.length === vhosts.length) {
    const patched = patchBuild(last, vhosts, host, problems);
    if (patched) return remember(patched);
    problems.length = 0;
  }

  const exact = new Map<string, CompiledVirtualHost>();
  const suffixes: [string, CompiledVirtualHost][] = [];
  const prefixes: [string, CompiledVirtualHost][] = [];
  let catchAll: CompiledVirtualHost | undefined;
  /** Wildcard domains seen; exact ones are the keys of `exact`. */
  const seenWildcards = new Set<string>();
  const compiledHosts: CompiledVirtualHost[] = [];
  const hostDomains: (readonly string[])[] = [];
  vhosts.forEach((vhost: VirtualHost, vi) => {
    const { compiled, domains } = host(vhost, vi);
    compiledHosts.push(compiled);
    hostDomains.push(domains);
    for (const domain of domains) {
      const wildcard = domain.includes('*');
      if (wildcard ? seenWildcards.has(domain) : exact.has(domain)) {
        problems.push(`${virtualHostLabel(vhost, vi)}: domain "${domain}" is used by more than one virtual host`);
        continue;
      }
      if (wildcard) seenWildcards.add(domain);
      if (domain === '*') catchAll = compiled;
      else if (domain.startsWith('*')) suffixes.push([domain.slice(1), compiled]);
      else if (domain.endsWith('*')) prefixes.push([domain.slice(0, -1), compiled]);
      else exact.set(domain, compiled);
    }
  });
  if (problems.length > 0) throw new RouteCompileError(problems);
  // Stable sort: among equally long wildcards the first declared wins.
  suffixes.sort((a, b) => b[0].length - a[0].length);
  prefixes.sort((a, b) => b[0].length - a[0].length);
  const exactDomains = new ExactDomains(exact);
  return remember({
    contextKey: contextKey ?? '',
    vhosts,
    compiledHosts,
    hostDomains,
    exact: exactDomains,
    table: new CompiledRouteTable(config.name ?? '', exactDomains, suffixes, prefixes, catchAll),
  });
}

/** Most virtual hosts an update may change for the last table to be patched instead of built again. */
const MAX_PATCHED_HOSTS = 32;
/** Most exact domains a table may differ from the map it was built on by: beyond that it is built afresh. */
const MAX_DOMAIN_CHANGES = 1024;

/** One compile of a RouteConfiguration, kept to patch when the next update changes a few of its virtual hosts. */
interface TableBuild {
  contextKey: string;
  vhosts: readonly VirtualHost[];
  compiledHosts: readonly CompiledVirtualHost[];
  hostDomains: readonly (readonly string[])[];
  exact: ExactDomains;
  table: CompiledRouteTable;
}

/** The last build of each RouteConfiguration, by name. */
const lastBuilds = new Map<string, TableBuild>();

/**
 * The last table with the few virtual hosts that are new objects (the decoder hands back unchanged
 * ones as the same objects) compiled and their exact domains swapped: a one-route edit of ten
 * thousand virtual hosts costs what one host costs, where a build fills a map of ten thousand
 * domains. Undefined when a build is needed: too many changes, a wildcard domain among the old or
 * new domains of a changed host, a domain used twice, or a problem (the build reports it).
 */
function patchBuild(
  last: TableBuild,
  vhosts: readonly VirtualHost[],
  host: (vhost: VirtualHost, vi: number) => { compiled: CompiledVirtualHost; domains: readonly string[] },
  problems: string[],
): TableBuild | undefined {
  const changed: number[] = [];
  for (let i = 0; i < vhosts.length; i++) {
    if (vhosts[i] === last.vhosts[i]) continue;
    if (changed.push(i) > MAX_PATCHED_HOSTS) return undefined;
  }
  if (changed.length === 0) return { ...last, vhosts };
  const edits = new Map<string, CompiledVirtualHost | null>();
  for (const i of changed) {
    for (const domain of last.hostDomains[i]) {
      if (domain.includes('*')) return undefined;
      edits.set(domain, null);
    }
  }
  const compiledHosts = [...last.compiledHosts];
  const hostDomains = [...last.hostDomains];
  for (const i of changed) {
    const { compiled, domains } = host(vhosts[i], i);
    if (problems.length > 0) return undefined;
    for (const domain of domains) {
      if (domain.includes('*') || edits.get(domain) || (!edits.has(domain) && last.exact.get(domain))) return undefined;
      edits.set(domain, compiled);
    }
    compiledHosts[i] = compiled;
    hostDomains[i] = domains;
  }
  const exact = last.exact.with(edits);
  if (exact.changes > MAX_DOMAIN_CHANGES) return undefined;
  return { contextKey: last.contextKey, vhosts, compiledHosts, hostDomains, exact, table: last.table.withExactDomains(exact) };
}

/**
 * Exact domain → virtual host: a map built once and shared by the tables patched from it, plus the
 * domains the patches changed (null: no longer there). Immutable: a table in use never changes.
 */
class ExactDomains {
  constructor(
    private readonly base: ReadonlyMap<string, CompiledVirtualHost>,
    private readonly edits: ReadonlyMap<string, CompiledVirtualHost | null> = new Map(),
  ) {}

  get(domain: string): CompiledVirtualHost | undefined {
    const edited = this.edits.get(domain);
    return edited === undefined ? this.base.get(domain) : (edited ?? undefined);
  }

  /** How many domains differ from the base map. */
  get changes(): number {
    return this.edits.size;
  }

  with(edits: ReadonlyMap<string, CompiledVirtualHost | null>): ExactDomains {
    const merged = new Map(this.edits);
    for (const [domain, vhost] of edits) merged.set(domain, vhost);
    return new ExactDomains(this.base, merged);
  }
}
