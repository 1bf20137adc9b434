import type { BackendProblem, BackendResolver } from './backends';
import type { GatewayState } from './gateways';
import type { IrUdpRoute } from './ir';
import type { UDPRoute } from './kube-types';
import { translateL4Routes, type L4RouteTranslation } from './l4-routes';
import { namespaceOf, type ResourceIndex } from './resource-index';

export type UdpRouteTranslation = L4RouteTranslation;

/** The IR name of a Gateway's UDP socket: a TCP listener on the same port is another socket. */
export function udpListenerName(gateway: { namespace: string; name: string }, port: number): string {
  return `${gateway.namespace}/${gateway.name}/${port}/udp`;
}

/**
 * UDPRoutes on UDP listeners (translateL4Routes): each client session goes to one backend of the
 * route, picked by weight; unresolvable backends are left out.
 */
export function translateUdpRoutes(
  index: ResourceIndex,
  gatewaysByKey: ReadonlyMap<string, GatewayState>,
  backends: BackendResolver,
  controllerName: string,
  now: string,
): UdpRouteTranslation {
  return translateL4Routes(index, gatewaysByKey, controllerName, now, {
    kind: 'UDPRoute',
    routes: index.udpRoutes,
    socketName: udpListenerName,
    resolveBackends: (route) => resolveBackends(route, backends),
    sendsTo: () => true,
    listenerRoute: (route) => ({ udp: route }),
  });
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
