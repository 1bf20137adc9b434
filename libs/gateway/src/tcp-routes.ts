import type { BackendProblem, BackendResolver } from './backends';
import { INVALID_BACKEND_CLUSTER } from './envoy-render';
import type { GatewayState, ListenerState } from './gateways';
import type { IrListener, IrTcpRoute } from './ir';
import type { TCPRoute } from './kube-types';
import { compareStrings, nameOf, namespaceOf, type ResourceIndex } from './resource-index';
import { attachRoute } from './route-attachment';
import { compareRoutesByAge } from './route-order';
import { hasStatusOf, routeStatus, type StatusUpdate } from './status';

export interface TcpRouteTranslation {
  /** One per TCP socket that has a route, sorted by name. */
  listeners: IrListener[];
  statuses: StatusUpdate[];
  /** Clusters the TCP routes send connections to. */
  clusters: Set<string>;
}

/**
 * TCPRoutes on TCP listeners. A TCP connection carries nothing to choose a route by, so one route
 * serves a listener: when several attach, the oldest (creationTimestamp, then namespace/name) does,
 * and the others stay Accepted and counted in attachedRoutes, as Gateway API's conflict rules ask
 * (upstream TCPRouteMultipleRoutesAttachment). Each connection goes to one backend of the route,
 * picked by weight.
 */
export function translateTcpRoutes(
  index: ResourceIndex,
  gatewaysByKey: ReadonlyMap<string, GatewayState>,
  backends: BackendResolver,
  controllerName: string,
  now: string,
): TcpRouteTranslation {
  const served = new Map<string, { gateway: GatewayState; port: number; route: IrTcpRoute }>();
  const statuses: StatusUpdate[] = [];
  const clusters = new Set<string>();
  const byAge = [...index.tcpRoutes].sort(compareRoutesByAge);
  for (const route of byAge) {
    const namespace = namespaceOf(route);
    const name = nameOf(route);
    const attachments = attachRoute(index, { kind: 'TCPRoute', namespace, name, hostnames: [], parentRefs: route.spec?.parentRefs ?? [] }, gatewaysByKey);
    if (attachments.length === 0 && !hasStatusOf(route, controllerName)) continue;
    const { backends: weighted, problem } = resolveBackends(route, backends);
    const counted = new Set<ListenerState>();
    for (const a of attachments) {
      if (a.accepted.status !== 'True') continue;
      for (const { listener } of a.listeners) {
        counted.add(listener);
        const socket = `${a.gateway.namespace}/${a.gateway.name}/${listener.port}`;
        if (!listener.programmed || served.has(socket)) continue;
        served.set(socket, { gateway: a.gateway, port: listener.port, route: { name: `TCPRoute/${namespace}/${name}`, backends: weighted } });
        for (const b of weighted) if (b.cluster !== INVALID_BACKEND_CLUSTER) clusters.add(b.cluster);
      }
    }
    for (const listener of counted) listener.attachedRoutes += 1;
    statuses.push(routeStatus('TCPRoute', route, controllerName, attachments, { backend: problem }, now));
  }

  const listeners = [...served.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([name, s]): IrListener => ({
      name,
      gateway: { namespace: s.gateway.namespace, name: s.gateway.name },
      address: s.gateway.address ?? '',
      port: s.port,
      virtualHosts: [],
      tcp: s.route,
    }));
  return { listeners, statuses, clusters };
}

/**
 * The route's backends with a weight above 0 (every rule's: TCPRoute rules have no matches, so they
 * all share the connections). The first unresolvable backendRef is the ResolvedRefs problem; its
 * weight stays with the invalid cluster, so that share of connections is refused, not moved to the
 * valid backends. A route without any weighted backend refuses every connection.
 */
function resolveBackends(route: TCPRoute, resolver: BackendResolver): { backends: IrTcpRoute['backends']; problem?: BackendProblem } {
  let problem: BackendProblem | undefined;
  const weighted: IrTcpRoute['backends'] = [];
  for (const ref of (route.spec?.rules ?? []).flatMap((rule) => rule.backendRefs ?? [])) {
    const resolution = resolver.resolve({ kind: 'TCPRoute', namespace: namespaceOf(route) }, ref, false, true);
    if ('problem' in resolution) problem ??= resolution.problem;
    const weight = ref.weight ?? 1;
    if (weight <= 0) continue;
    weighted.push({ cluster: 'problem' in resolution ? INVALID_BACKEND_CLUSTER : resolution.cluster, weight });
  }
  return { backends: weighted.length > 0 ? weighted : [{ cluster: INVALID_BACKEND_CLUSTER, weight: 1 }], problem };
}
