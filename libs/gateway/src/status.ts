import { cond, stampConditions, type ConditionDraft } from './conditions';
import type { GatewayClassState, GatewayState } from './gateways';
import type { BackendProblem } from './backends';
import type { IrRouteKind } from './ir';
import { GATEWAY_API_GROUP, type Condition, type GRPCRoute, type HTTPRoute, type RouteParentStatus, type TCPRoute, type TLSRoute, type UDPRoute } from './kube-types';
import type { ParentAttachment } from './route-attachment';
import { generationOf, nameOf, namespaceOf } from './resource-index';

export const GATEWAY_API_VERSION = `${GATEWAY_API_GROUP}/v1`;

/** The status subresource one object should get, ready to be written back. */
export interface StatusUpdate {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  status: Record<string, unknown>;
}

export function gatewayClassStatus(state: GatewayClassState, now: string, supportedFeatures: readonly string[] | undefined): StatusUpdate {
  const gc = state.gatewayClass;
  const previous = (gc.status as { conditions?: Condition[] } | undefined)?.conditions;
  const status: Record<string, unknown> = { conditions: stampConditions(state.conditions, previous, generationOf(gc), now) };
  if (supportedFeatures && state.accepted) {
    status.supportedFeatures = [...new Set(supportedFeatures)].sort().map((name) => ({ name }));
  }
  return { apiVersion: GATEWAY_API_VERSION, kind: 'GatewayClass', name: nameOf(gc), status };
}

interface PreviousGatewayStatus {
  conditions?: Condition[];
  listeners?: Array<{ name?: string; conditions?: Condition[] }>;
}

export function gatewayStatus(state: GatewayState, now: string): StatusUpdate {
  const gw = state.gateway;
  const generation = generationOf(gw);
  const previous = gw.status as PreviousGatewayStatus | undefined;
  const status: Record<string, unknown> = {};
  if (state.address) status.addresses = [{ type: 'IPAddress', value: state.address }];
  status.conditions = stampConditions(state.conditions, previous?.conditions, generation, now);
  if (state.listenerSets) status.attachedListenerSets = state.listenerSets.filter((s) => s.conditions[0].status === 'True').length;
  status.listeners = state.listeners.map((l) => ({
    name: l.name,
    supportedKinds: l.supportedKinds.map((kind) => ({ group: GATEWAY_API_GROUP, kind })),
    attachedRoutes: l.attachedRoutes,
    conditions: stampConditions(l.conditions, previous?.listeners?.find((p) => p.name === l.name)?.conditions, generation, now),
  }));
  return { apiVersion: GATEWAY_API_VERSION, kind: 'Gateway', namespace: state.namespace, name: state.name, status };
}

/** Whether the route carries a parent status written by this controller (which must then be kept up to date). */
export function hasStatusOf(route: HTTPRoute | GRPCRoute | TLSRoute | TCPRoute | UDPRoute, controllerName: string): boolean {
  return (route.status?.parents ?? []).some((p) => p.controllerName === controllerName);
}

/**
 * Route status: one parent entry per parentRef naming one of our Gateways, with Accepted and
 * ResolvedRefs. Entries written by other controllers are kept untouched, ahead of ours.
 */
export function routeStatus(
  kind: IrRouteKind,
  route: HTTPRoute | GRPCRoute | TLSRoute | TCPRoute | UDPRoute,
  controllerName: string,
  attachments: readonly ParentAttachment[],
  routeProblem: { accepted?: ConditionDraft; backend?: BackendProblem },
  now: string,
): StatusUpdate {
  const previous = route.status?.parents ?? [];
  const generation = generationOf(route);
  const resolvedRefs = routeProblem.backend
    ? cond('ResolvedRefs', false, routeProblem.backend.reason, routeProblem.backend.message)
    : cond('ResolvedRefs', true, 'ResolvedRefs', 'All references are resolved');
  const ours: RouteParentStatus[] = attachments.map((a) => {
    const before = previous.find((p) => p.controllerName === controllerName && sameParentRef(p.parentRef, a.parentRef, namespaceOf(route)));
    return {
      parentRef: { ...a.parentRef },
      controllerName,
      conditions: stampConditions([routeProblem.accepted ?? a.accepted, resolvedRefs], before?.conditions, generation, now),
    };
  });
  const foreign = previous.filter((p) => p.controllerName !== controllerName);
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind,
    namespace: namespaceOf(route),
    name: nameOf(route),
    status: { parents: [...foreign, ...ours] },
  };
}

function sameParentRef(a: RouteParentStatus['parentRef'] | undefined, b: ParentAttachment['parentRef'], routeNamespace: string): boolean {
  if (!a) return false;
  return (
    (a.group ?? GATEWAY_API_GROUP) === b.group &&
    (a.kind ?? 'Gateway') === b.kind &&
    (a.namespace ?? routeNamespace) === b.namespace &&
    a.name === b.name &&
    a.sectionName === b.sectionName &&
    a.port === b.port
  );
}
