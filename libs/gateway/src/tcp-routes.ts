import type { BackendProblem, BackendResolver } from './backends';
import { INVALID_BACKEND_CLUSTER } from './envoy-render';
import type { GatewayState } from './gateways';
import type { IrTcpRoute } from './ir';
import type { TCPRoute } from './kube-types';
import { translateL4Routes, type L4RouteTranslation } from './l4-routes';
import { namespaceOf, type ResourceIndex } from './resource-index';

export type TcpRouteTranslation = L4RouteTranslation;

/** TCPRoutes on TCP listeners (translateL4Routes); an invalid backend's share of connections is refused. */
export function translateTcpRoutes(
  index: ResourceIndex,
  gatewaysByKey: ReadonlyMap<string, GatewayState>,
  backends: BackendResolver,
  controllerName: string,
  now: string,
): TcpRouteTranslation {
  return translateL4Routes(index, gatewaysByKey, controllerName, now, {
    kind: 'TCPRoute',
    routes: index.tcpRoutes,
    socketName: (gateway, port) => `${gateway.namespace}/${gateway.name}/${port}`,
    resolveBackends: (route) => resolveBackends(route, backends),
    sendsTo: (cluster) => cluster !== INVALID_BACKEND_CLUSTER,
    listenerRoute: (route) => ({ tcp: route }),
  });
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
