/**
 * The HTTPRoute CORS filter, translated as Envoy Gateway translates it: a per-route CorsPolicy for
 * Envoy's cors HTTP filter (typed_per_filter_config), and that filter placed before the router in
 * the connection manager of every socket with a CORS route.
 */
import type { EnvoyCorsPolicy, EnvoyStringMatcher } from './envoy-types';
import type { IrCorsPolicy, IrVirtualHost } from './ir';
import type { HTTPRouteFilter } from './kube-types';

export const CORS_FILTER_NAME = 'envoy.filters.http.cors';
export const CORS_POLICY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';

/** The CRD's default for `maxAge` (seconds), used when the stored object left it out. */
const DEFAULT_MAX_AGE_SECONDS = 5;

/** The CORS filter of a rule, in IR form; undefined when the rule has none. */
export function corsPolicyOf(filters: readonly HTTPRouteFilter[]): IrCorsPolicy | undefined {
  const cors = filters.find((f) => f.type === 'CORS')?.cors;
  if (!cors) return undefined;
  return {
    allowOrigins: [...(cors.allowOrigins ?? [])],
    allowMethods: [...(cors.allowMethods ?? [])],
    allowHeaders: [...(cors.allowHeaders ?? [])],
    exposeHeaders: [...(cors.exposeHeaders ?? [])],
    maxAgeSeconds: cors.maxAge ?? DEFAULT_MAX_AGE_SECONDS,
    allowCredentials: cors.allowCredentials === true,
  };
}

/**
 * A Gateway API origin as an Envoy string matcher. `*` alone allows any origin; a `*` inside an
 * origin (`https://*.example.com`) stands for one or more characters, so it covers any number of
 * leading labels; anything else is compared exactly.
 */
export function originMatcher(origin: string): EnvoyStringMatcher {
  if (origin === '*') return { safe_regex: { regex: '.*' } };
  if (!origin.includes('*')) return { exact: origin };
  const regex = origin
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.+');
  return { safe_regex: { regex } };
}

/**
 * The Envoy CorsPolicy of a rule. Preflights from an origin not allowed are answered by the
 * Gateway (without CORS headers) rather than forwarded: the backend is not a party to CORS here.
 */
export function renderCorsPolicy(policy: IrCorsPolicy): EnvoyCorsPolicy {
  const out: EnvoyCorsPolicy = {
    '@type': CORS_POLICY_TYPE_URL,
    allow_origin_string_match: policy.allowOrigins.map(originMatcher),
    allow_credentials: policy.allowCredentials,
    max_age: String(policy.maxAgeSeconds),
    forward_not_matching_preflights: false,
  };
  if (policy.allowMethods.length > 0) out.allow_methods = listValue(policy.allowMethods);
  if (policy.allowHeaders.length > 0) out.allow_headers = listValue(policy.allowHeaders);
  if (policy.exposeHeaders.length > 0) out.expose_headers = listValue(policy.exposeHeaders);
  return out;
}

/** A list with `*` in it means "any": Envoy's filter then echoes what the preflight asked for. */
function listValue(values: readonly string[]): string {
  return values.includes('*') ? '*' : values.join(', ');
}

/** Whether any route of these virtual hosts carries a CORS policy (the socket then needs the cors filter). */
export function hasCorsRoutes(virtualHosts: readonly IrVirtualHost[]): boolean {
  return virtualHosts.some((vh) => vh.routes.some((r) => r.cors !== undefined));
}
