import { globalReplace } from './regex';
import type { RequestView } from './request-view';
import type { RedirectRouteAction, RegexRewrite } from './route-table';

/**
 * The :path sent upstream (or redirected to): prefix_rewrite swaps the matched prefix, keeping the
 * rest of :path including the query; regex_rewrite replaces every match in the path without query.
 */
export function rewritePath(req: RequestView, matchedLength: number, prefixRewrite: string | undefined, regexRewrite: RegexRewrite | undefined): string {
  if (prefixRewrite !== undefined) return prefixRewrite + req.path.slice(matchedLength);
  if (regexRewrite !== undefined) {
    return globalReplace(req.pathOnly, regexRewrite.regex, regexRewrite.substitution) + req.path.slice(req.pathOnly.length);
  }
  return req.path;
}

/** Envoy's processRequestHost: drops the request's port when a new port is set or the scheme change makes it the default one. */
function redirectHost(authority: string, newScheme: string, newPort: string, forwardedProto: string): string {
  if (authority === '') return '';
  let portStart: number;
  if (authority.startsWith('[')) {
    portStart = authority.lastIndexOf(']:');
    if (portStart !== -1) portStart += 1;
  } else {
    portStart = authority.lastIndexOf(':');
  }
  if (portStart === -1) return authority;
  const requestPort = authority.slice(portStart);
  let removePort = newPort !== '';
  if (newScheme !== forwardedProto) {
    removePort ||= forwardedProto === 'https' && requestPort === ':443';
    removePort ||= forwardedProto === 'http' && requestPort === ':80';
  }
  return removePort ? authority.slice(0, portStart) : authority;
}

/** Builds the Location header the way Envoy's RouteEntryImplBase::newUri does. */
export function redirectLocation(action: RedirectRouteAction, req: RequestView, matchedLength: number, forwardedProto: string): string {
  const scheme = action.scheme ?? req.scheme;
  const host = action.host ?? redirectHost(req.authority, scheme, action.port, forwardedProto);
  let path: string;
  if (action.path !== undefined) {
    // A path_redirect carrying its own query replaces the request's and ignores strip_query.
    path = action.pathHasQuery ? action.path : action.path + req.path.slice(req.pathOnly.length);
  } else {
    path = rewritePath(req, matchedLength, action.prefixRewrite, action.regexRewrite);
  }
  if (!action.pathHasQuery && action.stripQuery) {
    const query = path.indexOf('?');
    if (query !== -1) path = path.slice(0, query);
  }
  return `${scheme}://${host}${action.port}${path}`;
}
