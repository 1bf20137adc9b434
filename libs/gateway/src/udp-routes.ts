import type { BackendProblem, BackendResolver } from './backends';
import type { GatewayState, ListenerState } from './gateways';
import type { IrListener, IrUdpRoute } from './ir';
import type { UDPRoute } from './kube-types';
import { compareStrings, nameOf, namespaceOf, type ResourceIndex } from './resource-index';
import { attachRoute } from './route-attachment';
import { compareRoutesByAge } from './route-order';
import { hasStatusOf, routeStatus, type StatusUpdate } from './status';

export interface UdpRouteTranslation {
  /** One per UDP socket that has a route, sorted by name. */
  listeners: IrListener[];
  statuses: StatusUpdate[];
  /** Clusters the UDP routes send datagrams to. */
  clusters: Set<string>;
}

/** The IR name of a Gateway's UDP socket: a TCP listener on the same port is another socket. */
export function udpListenerName(gateway: { namespace: string; name: string }, port: number): string {
  return `${gateway.namespace}/${gateway.name}/${port}/udp`;
}

/**
 * UDPRoutes on UDP listeners. A datagram carries nothing to choose a route by, so one route serves a
 * listener: when several attach, the oldest (creationTimestamp, then namespace/name) does, and the
 * others stay Accepted and counted in attachedRoutes (upstream UDPRouteMultipleRoutesAttachment).
 * Each client session goes to one backend of the route, picked by weight.
 */
export function translateUdpRoutes(
  index: ResourceIndex,
  gatewaysByKey: ReadonlyMap<string, GatewayState>,
  backends: BackendResolver,
  controllerName: string,
  now: string,
): UdpRouteTranslation {
  const served = new Map<string, { gateway: GatewayState; port: number; route: IrUdpRoute }>();
  const statuses: StatusUpdate[] = [];
  const clusters = new Set<string>();
  for (const route of [...index.udpRoutes].sort(compareRoutesByAge)) {
    const namespace = namespaceOf(route);
    const name = nameOf(route);
    const attachments = attachRoute(index, { kind: 'UDPRoute', namespace, name, hostnames: [], parentRefs: route.spec?.parentRefs ?? [] }, gatewaysByKey);
    if (attachments.length === 0 && !hasStatusOf(route, controllerName)) continue;
    const { backends: weighted, problem } = resolveBackends(route, backends);
    const counted = new Set<ListenerState>();
    for (const a of attachments) {
      if (a.accepted.status !== 'True') continue;
      for (const { listener } of a.listeners) {
        counted.add(listener);
        const socket = udpListenerName(a.gateway, listener.port);
        if (!listener.programmed || served.has(socket)) continue;
        served.set(socket, { gateway: a.gateway, port: listener.port, route: { name: `UDPRoute/${namespace}/${name}`, backends: weighted } });
        for (const b of weighted) clusters.add(b.cluster);
      }
    }
    for (const listener of counted) listener.attachedRoutes += 1;
    statuses.push(routeStatus('UDPRoute', route, controllerName, attachments, { backend: problem }, now));
  }

  const listeners = [...served.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([name, s]): IrListener => ({
      name,
      gateway: { namespace: s.gateway.namespace, name: s.gateway.name },
      address: s.gateway.address ?? '',
      port: s.port,
      virtualHosts: [],
      udp: s.route,
    }));
  return { listeners, statuses, clusters };
}

/**
 * The route's resolved backends with a weight above 0 (every rule's: UDPRoute rules have no matches,
 * so they all share the sessions). The first unresolvable backendRef is the ResolvedRefs problem.
 */
function resolveBackends(route: UDPRoute, resolver: BackendResolver): { backends: IrUdpRoute['backends']; problem?: BackendProblem } {
  let problem: BackendProblem | undefined;
  const weighted: IrUdpRoute['backends'] = [];
  for (const ref of (route.spec?.rules ?? []).flatMap((rule) => rule.backendRefs ?? [])) {
    const resolution = resolver.resolveUdp({ kind: 'UDPRoute', namespace: namespaceOf(route) }, ref);
    if ('problem' in resolution) {
      problem ??= resolution.problem;
      continue;
    }
    const weight = ref.weight ?? 1;
    if (weight > 0) weighted.push({ cluster: resolution.cluster, weight });
  }
  return { backends: weighted, problem };
}
