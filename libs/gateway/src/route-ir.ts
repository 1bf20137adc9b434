import type { BackendClientCertificate } from './backend-client-certificate';
import type { BackendProblem, BackendResolver } from './backends';
import { parseGatewayDuration, envoyDuration } from './durations';
import type {
  IrBackendShare,
  IrForwardAction,
  IrHeaderMutation,
  IrMirror,
  IrPathMatch,
  IrPathModifier,
  IrRoute,
  IrRouteAction,
  IrRouteKind,
  IrRouteMatch,
  IrValueMatch,
} from './ir';
import type {
  GRPCRoute,
  GRPCRouteRule,
  HTTPHeaderFilter,
  HTTPHeaderMatch,
  HTTPQueryParamMatch,
  HTTPBackendRef,
  HTTPRoute,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteRule,
  HTTPRequestMirrorFilter,
} from './kube-types';
import { corsPolicyOf } from './cors';
import { nameOf, namespaceOf } from './resource-index';

/** What a rule's translation depends on besides the route itself: the listener it is served on. */
export interface ListenerContext {
  port: number;
  /** "http" or "https": the scheme clients used to reach the listener. */
  scheme: 'http' | 'https';
  /** The client certificate the listener's Gateway presents to TLS backends (spec.tls.backend). */
  backendClientCertificate?: BackendClientCertificate;
}

/** HTTPRoute filter types this translator implements, at rule and at backendRef level. */
const HTTP_RULE_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror', 'CORS']);
const GRPC_RULE_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror']);
const BACKEND_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier']);
/**
 * Filters on a backendRef that act on the whole request: with the rule's only backendRef they mean
 * the same as on the rule (Envoy's weighted clusters cannot redirect or rewrite per backend).
 */
const SINGLE_BACKEND_FILTERS = new Set(['RequestRedirect', 'URLRewrite']);

/** The rule's filters plus the request-wide filters of its only backendRef. */
function effectiveRuleFilters(rule: HTTPRouteRule): HTTPRouteFilter[] {
  const refs = rule.backendRefs ?? [];
  const fromBackend = refs.length === 1 ? (refs[0].filters ?? []).filter((f) => SINGLE_BACKEND_FILTERS.has(f.type ?? '')) : [];
  return fromBackend.length > 0 ? [...(rule.filters ?? []), ...(fromBackend as HTTPRouteFilter[])] : (rule.filters ?? []);
}

const REDIRECT_STATUS_DEFAULT = 302;
const WELL_KNOWN_PORTS: Record<string, number> = { http: 80, https: 443 };
const INVALID_BACKEND_BODY = 'no valid backend for this route';

export interface RouteTranslation {
  routes: IrRoute[];
  /** The first backend problem, which becomes ResolvedRefs=False on every parent. */
  backendProblem?: BackendProblem;
}

/**
 * A value in the route the translator cannot implement (unknown filter, ReplacePrefixMatch without
 * a PathPrefix match, malformed duration). The route is then not accepted (reason UnsupportedValue)
 * rather than served differently from what it says.
 */
export function unsupportedValue(kind: IrRouteKind, route: HTTPRoute | GRPCRoute): string | undefined {
  const ruleFilters = kind === 'HTTPRoute' ? HTTP_RULE_FILTERS : GRPC_RULE_FILTERS;
  const rules: Array<HTTPRouteRule | GRPCRouteRule> = route.spec?.rules ?? [];
  for (const [i, rule] of rules.entries()) {
    for (const f of rule.filters ?? []) {
      if (!ruleFilters.has(f.type ?? '')) return `rules[${i}]: filter type ${JSON.stringify(f.type)} is not supported`;
    }
    // Request-wide filters of a rule's only backendRef count as the rule's (effectiveRuleFilters).
    const routeLevelFilters = kind === 'HTTPRoute' ? effectiveRuleFilters(rule as HTTPRouteRule) : (rule.filters ?? []);
    for (const f of routeLevelFilters) {
      const path = f.type === 'RequestRedirect' ? f.requestRedirect?.path : f.type === 'URLRewrite' ? f.urlRewrite?.path : undefined;
      if (path?.type === 'ReplacePrefixMatch') {
        const matches = (rule as HTTPRouteRule).matches ?? [];
        if (matches.some((m) => (m.path?.type ?? 'PathPrefix') !== 'PathPrefix')) {
          return `rules[${i}]: ReplacePrefixMatch requires every match to be a PathPrefix match`;
        }
      }
    }
    for (const ref of rule.backendRefs ?? []) {
      for (const f of ref.filters ?? []) {
        if (BACKEND_FILTERS.has(f.type ?? '')) continue;
        if (kind === 'HTTPRoute' && SINGLE_BACKEND_FILTERS.has(f.type ?? '')) {
          if ((rule.backendRefs ?? []).length === 1) continue;
          return `rules[${i}]: a ${f.type} filter on a backendRef is supported only on the rule's only backendRef (it applies to the whole request)`;
        }
        return `rules[${i}]: backendRef filter type ${JSON.stringify(f.type)} is not supported`;
      }
    }
    const backoff = (rule as HTTPRouteRule).retry?.backoff;
    if (backoff !== undefined && parseGatewayDuration(String(backoff)) === undefined) {
      return `rules[${i}].retry.backoff: ${JSON.stringify(backoff)} is not a valid duration`;
    }
    const timeouts = (rule as HTTPRouteRule).timeouts;
    for (const [field, value] of Object.entries(timeouts ?? {})) {
      if (value !== undefined && parseGatewayDuration(String(value)) === undefined) {
        return `rules[${i}].timeouts.${field}: ${JSON.stringify(value)} is not a valid duration`;
      }
    }
  }
  return undefined;
}

export function translateHttpRoute(route: HTTPRoute, listener: ListenerContext, backends: BackendResolver): RouteTranslation {
  const ctx = new RuleContext('HTTPRoute', route, backends, false, listener.backendClientCertificate);
  const routes: IrRoute[] = [];
  for (const [ruleIndex, rule] of (route.spec?.rules ?? []).entries()) {
    const matches: HTTPRouteMatch[] = rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
    const filters = rule.filters ?? [];
    for (const [matchIndex, m] of matches.entries()) {
      const match = httpMatch(m);
      const action = httpRuleAction(ctx, rule, match.path, listener);
      routes.push(ctx.buildRoute(ruleIndex, matchIndex, match, filters, action));
    }
  }
  return { routes, backendProblem: ctx.backendProblem };
}

export function translateGrpcRoute(route: GRPCRoute, backends: BackendResolver, listener?: ListenerContext): RouteTranslation {
  const ctx = new RuleContext('GRPCRoute', route, backends, true, listener?.backendClientCertificate);
  const routes: IrRoute[] = [];
  for (const [ruleIndex, rule] of (route.spec?.rules ?? []).entries()) {
    const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
    const filters = rule.filters ?? [];
    for (const [matchIndex, m] of matches.entries()) {
      const match: IrRouteMatch = {
        path: grpcPath(m.method),
        headers: headerMatches(m.headers),
        queryParams: [],
        grpcMethod: { service: m.method?.service ?? '', method: m.method?.method ?? '' },
      };
      const action = forwardAction(ctx, rule.backendRefs ?? [], filters, undefined);
      routes.push(ctx.buildRoute(ruleIndex, matchIndex, match, filters, action));
    }
  }
  return { routes, backendProblem: ctx.backendProblem };
}

/** Per-route translation state: identity of the route and the first backend problem seen. */
class RuleContext {
  backendProblem?: BackendProblem;
  readonly namespace: string;
  readonly name: string;

  constructor(
    readonly kind: IrRouteKind,
    readonly source: HTTPRoute | GRPCRoute,
    private readonly backends: BackendResolver,
    private readonly forceHttp2: boolean,
    private readonly backendClientCertificate?: BackendClientCertificate,
  ) {
    this.namespace = namespaceOf(source);
    this.name = nameOf(source);
  }

  resolve(ref: HTTPBackendRef | HTTPRequestMirrorFilter['backendRef']): string | undefined {
    const r = this.backends.resolve({ kind: this.kind, namespace: this.namespace }, ref, this.forceHttp2, false, this.backendClientCertificate);
    if ('cluster' in r) return r.cluster;
    this.backendProblem ??= r.problem;
    return undefined;
  }

  buildRoute(ruleIndex: number, matchIndex: number, match: IrRouteMatch, filters: HTTPRouteFilter[], action: IrRouteAction): IrRoute {
    const route: IrRoute = {
      name: `${this.kind}/${this.namespace}/${this.name}/rule/${ruleIndex}/match/${matchIndex}`,
      source: { kind: this.kind, namespace: this.namespace, name: this.name, ruleIndex, matchIndex },
      creationTimestamp: this.source.metadata?.creationTimestamp ?? '',
      match,
      action,
    };
    const requestHeaders = headerMutation(filters.find((f) => f.type === 'RequestHeaderModifier')?.requestHeaderModifier);
    const responseHeaders = headerMutation(filters.find((f) => f.type === 'ResponseHeaderModifier')?.responseHeaderModifier);
    if (requestHeaders) route.requestHeaders = requestHeaders;
    if (responseHeaders) route.responseHeaders = responseHeaders;
    const cors = this.kind === 'HTTPRoute' ? corsPolicyOf(filters) : undefined;
    if (cors) route.cors = cors;
    return route;
  }
}

function httpRuleAction(ctx: RuleContext, rule: HTTPRouteRule, path: IrPathMatch, listener: ListenerContext): IrRouteAction {
  const filters = effectiveRuleFilters(rule);
  const redirect = filters.find((f) => f.type === 'RequestRedirect')?.requestRedirect;
  if (redirect) {
    // Still resolve backends so their problems show in ResolvedRefs, though a redirect never uses them.
    for (const ref of rule.backendRefs ?? []) ctx.resolve(ref);
    const scheme = redirect.scheme?.toLowerCase();
    // Port rules from the spec: explicit port; else the well-known port of a new scheme; else the listener's port.
    const port = redirect.port ?? (scheme ? (WELL_KNOWN_PORTS[scheme] ?? listener.port) : listener.port);
    return {
      kind: 'redirect',
      ...(scheme ? { scheme } : {}),
      ...(redirect.hostname ? { hostname: redirect.hostname } : {}),
      port,
      ...(redirect.path ? { path: pathModifier(redirect.path, path) } : {}),
      statusCode: redirect.statusCode ?? REDIRECT_STATUS_DEFAULT,
    };
  }
  return forwardAction(ctx, rule.backendRefs ?? [], filters, rule, path);
}

function forwardAction(
  ctx: RuleContext,
  backendRefs: HTTPBackendRef[],
  filters: HTTPRouteFilter[],
  rule: HTTPRouteRule | undefined,
  path?: IrPathMatch,
): IrRouteAction {
  const shares: IrBackendShare[] = [];
  for (const ref of backendRefs) {
    const weight = ref.weight ?? 1;
    const cluster = ctx.resolve(ref);
    if (weight <= 0) continue;
    if (cluster === undefined) {
      shares.push({ kind: 'invalid', weight });
      continue;
    }
    const share: IrBackendShare = { kind: 'cluster', cluster, weight };
    const requestHeaders = headerMutation(ref.filters?.find((f) => f.type === 'RequestHeaderModifier')?.requestHeaderModifier);
    const responseHeaders = headerMutation(ref.filters?.find((f) => f.type === 'ResponseHeaderModifier')?.responseHeaderModifier);
    if (requestHeaders) share.requestHeaders = requestHeaders;
    if (responseHeaders) share.responseHeaders = responseHeaders;
    shares.push(share);
  }
  const mirrors: IrMirror[] = [];
  for (const f of filters) {
    if (f.type !== 'RequestMirror' || !f.requestMirror?.backendRef) continue;
    const cluster = ctx.resolve(f.requestMirror.backendRef);
    if (cluster !== undefined) mirrors.push({ cluster, partsPerMillion: mirrorPartsPerMillion(f.requestMirror) });
  }
  // No backend that can take traffic: the spec requires a 500 rather than a 404 or 503.
  if (!shares.some((s) => s.kind === 'cluster')) {
    return { kind: 'directResponse', status: 500, body: INVALID_BACKEND_BODY };
  }
  const action: IrForwardAction = { kind: 'forward', backends: shares, mirrors };
  const request = rule?.timeouts?.request !== undefined ? parseGatewayDuration(rule.timeouts.request) : undefined;
  const backendRequest = rule?.timeouts?.backendRequest !== undefined ? parseGatewayDuration(rule.timeouts.backendRequest) : undefined;
  const retry = rule?.retry;
  if (retry) {
    action.retry = { codes: [...(retry.codes ?? [])].sort((a, b) => a - b) };
    if (retry.attempts !== undefined) action.retry.attempts = retry.attempts;
    const backoff = retry.backoff !== undefined ? parseGatewayDuration(retry.backoff) : undefined;
    if (backoff !== undefined) action.retry.backoff = envoyDuration(backoff);
  }
  // Without a request timeout, Envoy's 15s default would cap the per-try timeout: a single attempt
  // gets the per-try value as its whole budget, and retried attempts are not bounded as a whole
  // ("0s"), as the spec leaves the whole request unbounded unless `request` says otherwise.
  const total = request ?? (backendRequest !== undefined && retry ? 0 : backendRequest);
  if (total !== undefined) action.timeout = envoyDuration(total);
  if (backendRequest !== undefined) action.perTryTimeout = envoyDuration(backendRequest);
  const rewrite = filters.find((f) => f.type === 'URLRewrite')?.urlRewrite;
  if (rewrite?.hostname) action.hostRewrite = rewrite.hostname;
  if (rewrite?.path && path) action.pathRewrite = pathModifier(rewrite.path, path);
  return action;
}

function mirrorPartsPerMillion(mirror: HTTPRequestMirrorFilter): number {
  if (mirror.percent !== undefined) return Math.round(mirror.percent * 10_000);
  if (mirror.fraction) {
    const denominator = mirror.fraction.denominator ?? 100;
    if (denominator <= 0) return 0;
    return Math.round(((mirror.fraction.numerator ?? 0) * 1_000_000) / denominator);
  }
  return 1_000_000;
}

function pathModifier(modifier: NonNullable<HTTPRouteFilter['urlRewrite']>['path'], match: IrPathMatch): IrPathModifier {
  if (modifier?.type === 'ReplacePrefixMatch' && match.type === 'PathPrefix') {
    return { type: 'ReplacePrefixMatch', prefix: match.value, replacement: trimTrailingSlashes(modifier.replacePrefixMatch ?? '/') };
  }
  return { type: 'ReplaceFullPath', replacement: modifier?.replaceFullPath ?? '/' };
}

function headerMutation(modifier: HTTPHeaderFilter | undefined): IrHeaderMutation | undefined {
  if (!modifier) return undefined;
  const pairs = (list: HTTPHeaderFilter['set']): Array<{ name: string; value: string }> =>
    (list ?? []).filter((h) => h.name).map((h) => ({ name: h.name ?? '', value: h.value ?? '' }));
  const mutation = { set: pairs(modifier.set), add: pairs(modifier.add), remove: [...(modifier.remove ?? [])] };
  return mutation.set.length + mutation.add.length + mutation.remove.length > 0 ? mutation : undefined;
}

/** Prefixes match whole segments, and a trailing slash does not change what they match. */
function trimTrailingSlashes(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function httpMatch(m: HTTPRouteMatch): IrRouteMatch {
  const type = m.path?.type ?? 'PathPrefix';
  const value = m.path?.value ?? '/';
  let path: IrPathMatch;
  if (type === 'Exact') path = { type: 'Exact', value };
  else if (type === 'RegularExpression') path = { type: 'RegularExpression', value };
  else path = { type: 'PathPrefix', value: trimTrailingSlashes(value) };
  const match: IrRouteMatch = { path, headers: headerMatches(m.headers), queryParams: valueMatches(m.queryParams, false) };
  if (m.method) match.method = m.method;
  return match;
}

function headerMatches(list: Array<HTTPHeaderMatch | HTTPQueryParamMatch> | undefined): IrValueMatch[] {
  return valueMatches(list, true);
}

/** Only the first match for a given name counts, as the spec says; header names are case-insensitive. */
function valueMatches(list: Array<HTTPHeaderMatch | HTTPQueryParamMatch> | undefined, caseInsensitiveNames: boolean): IrValueMatch[] {
  const seen = new Set<string>();
  const result: IrValueMatch[] = [];
  for (const m of list ?? []) {
    if (!m.name) continue;
    const name = caseInsensitiveNames ? m.name.toLowerCase() : m.name;
    if (seen.has(name)) continue;
    seen.add(name);
    result.push({ name, type: m.type === 'RegularExpression' ? 'RegularExpression' : 'Exact', value: m.value ?? '' });
  }
  return result;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** gRPC calls are POSTs to `/<package.Service>/<Method>`. */
function grpcPath(method: { type?: string; service?: string; method?: string } | undefined): IrPathMatch {
  const service = method?.service;
  const name = method?.method;
  if (!service && !name) return { type: 'PathPrefix', value: '/' };
  if (method?.type === 'RegularExpression') {
    return { type: 'RegularExpression', value: `/${service ?? '[^/]+'}/${name ?? '[^/]+'}` };
  }
  if (service && name) return { type: 'Exact', value: `/${service}/${name}` };
  if (service) return { type: 'PathPrefix', value: `/${service}` };
  return { type: 'RegularExpression', value: `/[^/]+/${escapeRegex(name ?? '')}` };
}
