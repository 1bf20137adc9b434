import type { BackendProblem } from './backends';
import { gatewaySocket, type GatewayState, type ListenerState } from './gateways';
import type { IrListener } from './ir';
import type { TCPRoute, UDPRoute } from './kube-types';
import { compareStrings, nameOf, namespaceOf, type ResourceIndex } from './resource-index';
import { attachRoute } from './route-attachment';
import { compareRoutesByAge } from './route-order';
import { hasStatusOf, routeStatus, type StatusUpdate } from './status';

/** A weighted backend of a TCPRoute or UDPRoute. */
export interface L4Backend {
  cluster: string;
  weight: number;
}

/** How one kind of L4 route (TCPRoute, UDPRoute) differs in translateL4Routes. */
export interface L4RouteKind<R extends TCPRoute | UDPRoute> {
  kind: 'TCPRoute' | 'UDPRoute';
  routes: readonly R[];
  /** The IR name of the Gateway socket a listener's port is. */
  socketName(gateway: GatewayState, port: number): string;
  /** The route's weighted backends and its first ResolvedRefs problem. */
  resolveBackends(route: R): { backends: L4Backend[]; problem?: BackendProblem };
  /** Whether traffic picked for this backend cluster is sent (not refused by a placeholder). */
  sendsTo(cluster: string): boolean;
  /** The IR listener's route field for the route that serves it. */
  listenerRoute(route: { name: string; backends: L4Backend[] }): Pick<IrListener, 'tcp' | 'udp'>;
}

export interface L4RouteTranslation {
  /** One per socket that has a route, sorted by name. */
  listeners: IrListener[];
  statuses: StatusUpdate[];
  /** Clusters the routes send traffic to. */
  clusters: Set<string>;
}

/**
 * TCPRoutes or UDPRoutes on their listeners. A connection or datagram carries nothing to choose a
 * route by, so one route serves a listener: when several attach, the oldest (creationTimestamp,
 * then namespace/name) does, and the others stay Accepted and counted in attachedRoutes, as
 * Gateway API's conflict rules ask (upstream TCPRouteMultipleRoutesAttachment,
 * UDPRouteMultipleRoutesAttachment). Each connection or session goes to one backend, picked by weight.
 */
export function translateL4Routes<R extends TCPRoute | UDPRoute>(
  index: ResourceIndex,
  gatewaysByKey: ReadonlyMap<string, GatewayState>,
  controllerName: string,
  now: string,
  l4: L4RouteKind<R>,
): L4RouteTranslation {
  const served = new Map<string, { gateway: GatewayState; port: number; route: { name: string; backends: L4Backend[] } }>();
  const statuses: StatusUpdate[] = [];
  const clusters = new Set<string>();
  for (const route of [...l4.routes].sort(compareRoutesByAge)) {
    const namespace = namespaceOf(route);
    const name = nameOf(route);
    const attachments = attachRoute(index, { kind: l4.kind, namespace, name, hostnames: [], parentRefs: route.spec?.parentRefs ?? [] }, gatewaysByKey);
    if (attachments.length === 0 && !hasStatusOf(route, controllerName)) continue;
    const { backends: weighted, problem } = l4.resolveBackends(route);
    const counted = new Set<ListenerState>();
    for (const a of attachments) {
      if (a.accepted.status !== 'True') continue;
      for (const { listener } of a.listeners) {
        counted.add(listener);
        const socket = l4.socketName(a.gateway, listener.port);
        if (!listener.programmed || served.has(socket)) continue;
        served.set(socket, { gateway: a.gateway, port: listener.port, route: { name: `${l4.kind}/${namespace}/${name}`, backends: weighted } });
        for (const b of weighted) if (l4.sendsTo(b.cluster)) clusters.add(b.cluster);
      }
    }
    for (const listener of counted) listener.attachedRoutes += 1;
    statuses.push(routeStatus(l4.kind, route, controllerName, attachments, { backend: problem }, now));
  }

  const listeners = [...served.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([name, s]): IrListener => ({
      ...gatewaySocket(name, s.gateway, s.port),
      virtualHosts: [],
      ...l4.listenerRoute(s.route),
    }));
  return { listeners, statuses, clusters };
}
