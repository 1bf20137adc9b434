import type { HttpCheck, HttpExpectation } from './checks';
import type { ProcedureContext } from './procedures';
import type { ObjectRef, StatusAssertion } from './status-checks';

/**
 * HTTPRouteCORS, written out from its Go source (conformance/tests/httproute-cors.go): inventory.json
 * gives several of its cases as prose ("same header set as above"), so the cases are spelled out
 * here with the upstream comparisons: ValidHeaderValues (one of several values, whitespace ignored
 * where the test says so), absent headers, and for preflights an expected request with an empty
 * path, which only a Gateway's own answer (not the echo backend's JSON) meets.
 */

const INFRA = 'gateway-conformance-infra';
const GATEWAY: ObjectRef = { namespace: INFRA, name: 'same-namespace' };
const ROUTES = ['cors-multiple-origins-methods-headers', 'cors-wildcard-methods', 'cors-wildcard-origin', 'cors-wildcard-methods-headers'];
/** GatewayAndHTTPRoutesMustBeAccepted names the first two; ResolvedRefs is asserted on all four. */
const ACCEPTED_ROUTES = ROUTES.slice(0, 2);

interface CorsCase {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  status: number[];
  /** Forwarded requests (upstream Namespace set): answered by the infra echo backend. */
  forwarded: boolean;
  headerValues?: Record<string, string[]>;
  exactHeaders?: Record<string, string>;
  absentHeaders?: string[];
  ignoreWhitespace?: boolean;
}

const FULL_PREFLIGHT_HEADERS = (origin: string): Record<string, string[]> => ({
  'access-control-allow-origin': [origin],
  'access-control-allow-methods': ['GET, OPTIONS', 'OPTIONS, GET'],
  'access-control-allow-headers': ['x-header-1, x-header-2', 'x-header-2, x-header-1'],
  'access-control-expose-headers': ['x-header-3, x-header-4', 'x-header-4, x-header-3'],
  'access-control-max-age': ['3600'],
  'access-control-allow-credentials': ['true'],
});

const ASKING = (origin: string, method = 'GET'): Record<string, string> => ({
  Origin: origin,
  'access-control-request-method': method,
  'access-control-request-headers': 'x-header-1, x-header-2',
});

export const CORS_CASES: readonly CorsCase[] = [
  { name: 'preflight from an exact matching origin', method: 'OPTIONS', path: '/cors-1', headers: ASKING('https://www.foo.com'), status: [200, 204], forwarded: false, headerValues: FULL_PREFLIGHT_HEADERS('https://www.foo.com'), ignoreWhitespace: true },
  { name: 'preflight from a wildcard matching origin', method: 'OPTIONS', path: '/cors-1', headers: ASKING('https://www.bar.com'), status: [200], forwarded: false, headerValues: FULL_PREFLIGHT_HEADERS('https://www.bar.com'), ignoreWhitespace: true },
  { name: 'preflight from an origin with more labels left of the wildcard', method: 'OPTIONS', path: '/cors-1', headers: ASKING('https://xpto.www.bar.com'), status: [200], forwarded: false, headerValues: FULL_PREFLIGHT_HEADERS('https://xpto.www.bar.com'), ignoreWhitespace: true },
  { name: 'preflight from a non-matching origin', method: 'OPTIONS', path: '/cors-1', headers: { Origin: 'https://foobar.com', 'access-control-request-method': 'GET' }, status: [200, 204, 403], forwarded: false, absentHeaders: ['access-control-allow-origin'] },
  { name: 'simple request from an exact matching origin', method: 'GET', path: '/cors-1', headers: ASKING('https://www.foo.com'), status: [200, 204], forwarded: true, exactHeaders: { 'access-control-allow-origin': 'https://www.foo.com' } },
  { name: 'simple request from a wildcard matching origin', method: 'GET', path: '/cors-1', headers: ASKING('https://www.bar.com'), status: [200, 204], forwarded: true, exactHeaders: { 'access-control-allow-origin': 'https://www.bar.com' } },
  { name: 'simple request from a non-matching origin', method: 'GET', path: '/cors-1', headers: { Origin: 'https://foobar.com', 'access-control-request-method': 'GET' }, status: [200], forwarded: true, absentHeaders: ['access-control-allow-origin'] },
  { name: 'preflight POST allowed by allowMethods *', method: 'OPTIONS', path: '/cors-2', headers: { Origin: 'https://www.foo.com', 'access-control-request-method': 'POST' }, status: [200, 204], forwarded: false, headerValues: { 'access-control-allow-methods': ['POST', '*'] }, exactHeaders: { 'access-control-allow-origin': 'https://www.foo.com' }, absentHeaders: ['access-control-allow-credentials'] },
  { name: 'preflight without credentials gets no allow-credentials', method: 'OPTIONS', path: '/cors-2', headers: { Origin: 'https://www.foo.com', 'access-control-request-method': 'POST' }, status: [200], forwarded: false, absentHeaders: ['Access-Control-Allow-Credentials'] },
  { name: 'preflight from any origin allowed by *', method: 'OPTIONS', path: '/cors-wildcard-origin', headers: { Origin: 'https://foobar.com', 'access-control-request-method': 'PUT' }, status: [200, 204], forwarded: false, headerValues: { 'access-control-allow-origin': ['https://foobar.com', '*'], 'access-control-allow-methods': ['PUT'] }, absentHeaders: ['Access-Control-Allow-Credentials'] },
  { name: 'preflight from an origin with a port allowed by *', method: 'OPTIONS', path: '/cors-wildcard-origin', headers: { Origin: 'https://foobar.com:12345', 'access-control-request-method': 'PUT' }, status: [200, 204], forwarded: false, headerValues: { 'access-control-allow-origin': ['https://foobar.com:12345', '*'], 'access-control-allow-methods': ['PUT'] }, absentHeaders: ['Access-Control-Allow-Credentials'] },
  { name: 'request from an origin with a port allowed by *', method: 'PUT', path: '/cors-wildcard-origin', headers: { Origin: 'https://foobar.com:12345' }, status: [200], forwarded: true, headerValues: { 'access-control-allow-origin': ['https://foobar.com:12345', '*'] } },
  { name: 'simple request from any origin allowed by *', method: 'PUT', path: '/cors-wildcard-origin', headers: { Origin: 'https://foobar.com' }, status: [200, 204], forwarded: true, headerValues: { 'access-control-allow-origin': ['https://foobar.com', '*'] }, absentHeaders: ['Access-Control-Allow-Credentials'] },
  { name: 'preflight with credentials echoes origin, method and headers', method: 'OPTIONS', path: '/cors-wildcard-methods-headers', headers: ASKING('https://other.foo.com', 'PUT'), status: [200], forwarded: false, headerValues: { 'access-control-allow-origin': ['https://other.foo.com'], 'access-control-allow-methods': ['PUT'], 'access-control-allow-headers': ['x-header-1, x-header-2', 'x-header-2, x-header-1'], 'access-control-allow-credentials': ['true'] }, ignoreWhitespace: true },
  { name: 'preflight without credentials may answer *', method: 'OPTIONS', path: '/cors-wildcard-methods-headers-unauth', headers: ASKING('https://other.foo.com', 'PUT'), status: [200], forwarded: false, headerValues: { 'access-control-allow-origin': ['https://other.foo.com', '*'], 'access-control-allow-methods': ['PUT', '*'], 'access-control-allow-headers': ['x-header-1, x-header-2', 'x-header-2, x-header-1', '*'] }, absentHeaders: ['access-control-allow-credentials'], ignoreWhitespace: true },
  { name: 'request with credentials echoes the origin', method: 'GET', path: '/cors-wildcard-methods-headers', headers: { Origin: 'https://other.foo.com', Authorization: 'Bearer test' }, status: [200], forwarded: true, headerValues: { 'access-control-allow-origin': ['https://other.foo.com'], 'access-control-allow-credentials': ['true'] } },
  { name: 'request on the path without credentials gets no allow-credentials', method: 'GET', path: '/cors-wildcard-methods-headers-unauth', headers: { Origin: 'https://other.foo.com', Authorization: 'Bearer test' }, status: [200], forwarded: true, headerValues: { 'access-control-allow-origin': ['https://other.foo.com'] }, absentHeaders: ['access-control-allow-credentials'] },
];

/** One case as the runner's HTTP check. */
export function corsCheck(c: CorsCase): HttpCheck {
  const expect: HttpExpectation = {
    status: c.status,
    requestHeadersSeenByBackend: {},
    absentRequestHeaders: [],
    responseHeaders: c.exactHeaders ?? {},
    absentResponseHeaders: c.absentHeaders ?? [],
    ...(c.headerValues ? { responseHeaderAlternatives: c.headerValues } : {}),
    ...(c.ignoreWhitespace ? { ignoreWhitespace: true } : {}),
    ...(c.forwarded ? { namespace: INFRA } : { answeredByGateway: true }),
  };
  return { request: { path: c.path, method: c.method, headers: c.headers, backendSetsResponseHeaders: {} }, expect, label: `${c.name}: ${c.method} <gateway>${c.path}` };
}

export async function httpRouteCors(ctx: ProcedureContext): Promise<string[]> {
  const assertions: StatusAssertion[] = [
    { clause: `Gateway ${GATEWAY.name} has an address`, gatewayAddress: GATEWAY },
    ...ACCEPTED_ROUTES.map((name): StatusAssertion => ({ clause: `HTTPRoute ${name} Accepted`, route: { namespace: INFRA, name }, routeKind: 'HTTPRoute', parent: GATEWAY, conditions: [{ type: 'Accepted', status: 'True' }] })),
    ...ROUTES.map((name): StatusAssertion => ({ clause: `HTTPRoute ${name} ResolvedRefs`, route: { namespace: INFRA, name }, routeKind: 'HTTPRoute', parent: GATEWAY, conditions: [{ type: 'ResolvedRefs', status: 'True' }] })),
  ];
  const failures: string[] = [];
  for (const assertion of assertions) {
    const failure = await ctx.status(assertion);
    if (failure) failures.push(failure);
  }
  if (failures.length > 0) return failures;
  // Upstream runs the cases in parallel (t.Parallel per case).
  const results = await Promise.all(CORS_CASES.map((c) => ctx.traffic(corsCheck(c))));
  return results.filter((r): r is string => r !== undefined);
}
