import type { envoy } from '@tendril/api-envoy';
import { compileStringMatcher, type StringPredicate } from './string-matcher';

type EnvoyCorsPolicy = envoy.extensions.filters.http.cors.v3.CorsPolicy;

export const CORS_FILTER_NAME = 'envoy.filters.http.cors';
export const CORS_FILTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
export const CORS_POLICY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';

/** A route's CorsPolicy (typed_per_filter_config of the cors filter), compiled once per config. */
export interface CorsPolicy {
  allowOrigins: readonly StringPredicate[];
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  maxAge: string;
  allowCredentials: boolean;
  forwardNotMatchingPreflights: boolean;
}

/** Throws with a readable reason for what the proxy cannot serve (runtime fractions, shadow mode). */
export function compileCorsPolicy(config: EnvoyCorsPolicy & { '@type'?: string }): CorsPolicy {
  if (config['@type'] !== undefined && config['@type'] !== CORS_POLICY_TYPE_URL) throw new Error(`${CORS_FILTER_NAME} per-route config must be a ${CORS_POLICY_TYPE_URL}, not ${config['@type']}`);
  if (config.filter_enabled !== undefined || config.shadow_enabled !== undefined) throw new Error('CorsPolicy filter_enabled and shadow_enabled are not supported');
  return {
    allowOrigins: (config.allow_origin_string_match ?? []).map((m, i) => {
      try {
        return compileStringMatcher(m);
      } catch (err) {
        throw new Error(`CorsPolicy allow_origin_string_match[${i}]: ${(err as Error).message}`);
      }
    }),
    allowMethods: config.allow_methods ?? '',
    allowHeaders: config.allow_headers ?? '',
    exposeHeaders: config.expose_headers ?? '',
    maxAge: config.max_age ?? '',
    allowCredentials: config.allow_credentials === true,
    // Envoy forwards preflights from origins it does not allow unless told otherwise.
    forwardNotMatchingPreflights: config.forward_not_matching_preflights !== false,
  };
}

type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** What Envoy's cors filter makes of one request. */
export interface CorsOutcome {
  /** Set for a preflight the proxy answers itself (200 with these headers, never forwarded). */
  preflightResponse?: Record<string, string>;
  /** Headers set on whatever response the request gets (upstream or local), when its origin is allowed. */
  responseHeaders?: Record<string, string>;
}

function single(value: string | string[] | undefined): string {
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

/**
 * Envoy's cors filter (source/extensions/filters/http/cors/cors_filter.cc): a request with an
 * Origin is a CORS request. An OPTIONS request with Access-Control-Request-Method is a preflight,
 * answered 200 by the proxy (unless the origin is not allowed and such preflights are forwarded),
 * with the allowed origin echoed, the methods and headers (a `*` echoes what was asked), max age
 * and credentials. Every response to an allowed origin, the preflight answer included, carries the
 * echoed origin, credentials and the exposed headers.
 */
export function evaluateCors(policy: CorsPolicy, method: string, headers: RequestHeaders): CorsOutcome {
  const origin = single(headers.origin);
  if (origin === '') return {};
  const allowed = policy.allowOrigins.some((matches) => matches('*') || matches(origin));
  const responseHeaders: Record<string, string> | undefined = allowed ? { 'access-control-allow-origin': origin } : undefined;
  if (responseHeaders) {
    if (policy.allowCredentials) responseHeaders['access-control-allow-credentials'] = 'true';
    if (policy.exposeHeaders !== '') responseHeaders['access-control-expose-headers'] = policy.exposeHeaders;
  }
  const requestMethod = single(headers['access-control-request-method']);
  const isPreflight = method === 'OPTIONS' && requestMethod !== '';
  if (!isPreflight || (!allowed && policy.forwardNotMatchingPreflights)) return responseHeaders ? { responseHeaders } : {};
  const preflight: Record<string, string> = {};
  if (allowed) preflight['access-control-allow-origin'] = origin;
  if (policy.allowCredentials) preflight['access-control-allow-credentials'] = 'true';
  if (policy.allowMethods !== '') preflight['access-control-allow-methods'] = policy.allowMethods === '*' ? requestMethod : policy.allowMethods;
  if (policy.allowHeaders !== '') {
    const asked = single(headers['access-control-request-headers']);
    if (policy.allowHeaders !== '*') preflight['access-control-allow-headers'] = policy.allowHeaders;
    else if (asked !== '') preflight['access-control-allow-headers'] = asked;
  }
  if (policy.maxAge !== '') preflight['access-control-max-age'] = policy.maxAge;
  return { preflightResponse: { ...preflight, ...responseHeaders } };
}
