/**
 * Hostname matching as Gateway API defines it: a wildcard `*.example.com` matches one or more labels
 * in front of `example.com` but not `example.com` itself; comparison ignores case.
 */

const isWildcard = (host: string): boolean => host.startsWith('*.');

/** Whether `host` (exact or wildcard) is covered by `pattern` (exact or wildcard). */
function covers(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!isWildcard(pattern)) return false;
  const suffix = pattern.slice(1); // ".example.com"
  if (isWildcard(host)) return host.slice(1).endsWith(suffix) && host.length > pattern.length;
  return host.endsWith(suffix) && host.length > suffix.length;
}

/**
 * The hostnames a route serves on a listener: the intersection of the listener hostname and the
 * route hostnames. `undefined` for an empty result, which means the route does not attach; `['*']`
 * when neither side restricts hosts.
 */
export function intersectHostnames(listenerHostname: string | undefined, routeHostnames: readonly string[]): string[] | undefined {
  const listener = listenerHostname?.toLowerCase();
  const routes = [...new Set(routeHostnames.map((h) => h.toLowerCase()))];
  if (routes.length === 0) return [listener ?? '*'];
  if (!listener) return routes.sort();
  const result = new Set<string>();
  for (const route of routes) {
    if (covers(listener, route)) result.add(route);
    else if (covers(route, listener)) result.add(listener);
  }
  return result.size > 0 ? [...result].sort() : undefined;
}

/**
 * The listener hostname that owns requests for `host` (exact or wildcard): the most specific listener
 * hostname covering it, where `*` stands for a listener without hostname. Listener isolation: a
 * request is handled only by the routes of the most specific listener matching its host.
 */
export function owningListenerHostname(listenerHostnames: Iterable<string>, host: string): string | undefined {
  let best: string | undefined;
  for (const candidate of listenerHostnames) {
    if (candidate !== '*' && !covers(candidate, host)) continue;
    if (best === undefined || specificity(candidate) > specificity(best)) best = candidate;
  }
  return best;
}

/** Exact beats any wildcard, a longer wildcard suffix beats a shorter one, and `*` is last. */
function specificity(hostname: string): number {
  if (hostname === '*') return 0;
  return isWildcard(hostname) ? hostname.length : Number.MAX_SAFE_INTEGER;
}
