import type { IrPathMatch, IrRoute } from './ir';
import type { KubeObject } from './kube-types';
import { compareStrings, nameOf, namespaceOf } from './resource-index';

/** Exact paths beat regular expressions, which beat prefixes (the spec leaves regex placement to us). */
const PATH_TYPE_RANK: Record<IrPathMatch['type'], number> = { Exact: 3, RegularExpression: 2, PathPrefix: 1 };

/**
 * Gateway API match precedence across all routes served for one host: exact path, then longest
 * path, then method, most header matches, most query parameter matches (GRPCRoute: longest service,
 * longest method, most header matches), then oldest route, route namespace/name alphabetically, and
 * finally rule and match order within the route.
 */
export function compareRoutePrecedence(a: IrRoute, b: IrRoute): number {
  return compareMatches(a, b) || compareTieBreakers(a, b);
}

function compareMatches(a: IrRoute, b: IrRoute): number {
  const ga = a.match.grpcMethod;
  const gb = b.match.grpcMethod;
  if (ga && gb) {
    // GRPCRoute: most characters in the matching service, then method, then most header matches.
    return (
      gb.service.length - ga.service.length ||
      gb.method.length - ga.method.length ||
      b.match.headers.length - a.match.headers.length
    );
  }
  return (
    PATH_TYPE_RANK[b.match.path.type] - PATH_TYPE_RANK[a.match.path.type] ||
    b.match.path.value.length - a.match.path.value.length ||
    Number(b.match.method !== undefined) - Number(a.match.method !== undefined) ||
    b.match.headers.length - a.match.headers.length ||
    b.match.queryParams.length - a.match.queryParams.length
  );
}

/** Between equally specific matches: oldest route, then namespace/name, then rule and match order. */
function compareTieBreakers(a: IrRoute, b: IrRoute): number {
  return (
    compareTimestamps(a.creationTimestamp, b.creationTimestamp) ||
    compareStrings(`${a.source.namespace}/${a.source.name}`, `${b.source.namespace}/${b.source.name}`) ||
    compareStrings(a.source.kind, b.source.kind) ||
    a.source.ruleIndex - b.source.ruleIndex ||
    a.source.matchIndex - b.source.matchIndex
  );
}

/** Older first; a missing timestamp sorts after every real one. */
function compareTimestamps(a: string, b: string): number {
  if (a === b) return 0;
  if (!a) return 1;
  if (!b) return -1;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isNaN(ta) || Number.isNaN(tb)) return compareStrings(a, b);
  return ta - tb;
}

/**
 * Oldest route first (creationTimestamp), then namespace/name: which of several routes competing for
 * one TCP or TLS listener (or SNI) keeps it, as Gateway API's conflict rules ask.
 */
export function compareRoutesByAge(a: KubeObject, b: KubeObject): number {
  return (
    compareStrings(a.metadata?.creationTimestamp ?? '', b.metadata?.creationTimestamp ?? '') ||
    compareStrings(`${namespaceOf(a)}/${nameOf(a)}`, `${namespaceOf(b)}/${nameOf(b)}`)
  );
}
