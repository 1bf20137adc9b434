import { cond, type ConditionDraft } from './conditions';
import type { GatewayState, ListenerState } from './gateways';
import { listenerSetsByKey } from './listener-sets';
import { intersectHostnames } from './hostnames';
import type { IrRouteKind } from './ir';
import { GATEWAY_API_GROUP, type LabelSelector, type ParentReference } from './kube-types';
import type { ResourceIndex } from './resource-index';

/** A route (HTTPRoute or GRPCRoute) seen through what attachment needs. */
export interface RouteView {
  kind: IrRouteKind;
  namespace: string;
  name: string;
  hostnames: string[];
  parentRefs: ParentReference[];
}

/** The outcome of one parentRef that names one of our Gateways. */
export interface ParentAttachment {
  /** The parentRef with defaults filled in, as it is echoed in status. */
  parentRef: Required<Pick<ParentReference, 'group' | 'kind' | 'namespace' | 'name'>> & Pick<ParentReference, 'sectionName' | 'port'>;
  gateway: GatewayState;
  accepted: ConditionDraft;
  /** Listeners the route attached to, with the hostnames it serves on each. */
  listeners: Array<{ listener: ListenerState; hostnames: string[] }>;
}

/**
 * Attach a route to the listeners its parentRefs select, applying the spec's checks in order:
 * sectionName/port select candidate listeners (none → NoMatchingParent), allowedRoutes kinds and
 * namespaces filter them (none → NotAllowedByListeners), and the hostnames must intersect
 * (none → NoMatchingListenerHostname). parentRefs to Gateways that are not ours are skipped.
 */
export function attachRoute(
  index: ResourceIndex,
  route: RouteView,
  gatewaysByKey: ReadonlyMap<string, GatewayState>,
): ParentAttachment[] {
  const result: ParentAttachment[] = [];
  const seen = new Set<string>();
  for (const ref of route.parentRefs) {
    const group = ref.group ?? GATEWAY_API_GROUP;
    const kind = ref.kind ?? 'Gateway';
    if (group !== GATEWAY_API_GROUP || (kind !== 'Gateway' && kind !== 'ListenerSet')) continue;
    const namespace = ref.namespace ?? route.namespace;
    // A Gateway parent offers its own listeners only; a ListenerSet parent the listeners it brings.
    const listenerSet = kind === 'ListenerSet' ? listenerSetsByKey(gatewaysByKey).get(`${namespace}/${ref.name ?? ''}`) : undefined;
    const gateway = kind === 'Gateway' ? gatewaysByKey.get(`${namespace}/${ref.name ?? ''}`) : listenerSet?.gateway;
    if (!gateway) continue;
    const offered = listenerSet ? listenerSet.listeners : gateway.listeners;
    const parentRef: ParentAttachment['parentRef'] = { group, kind, namespace, name: ref.name ?? '' };
    if (ref.sectionName !== undefined) parentRef.sectionName = ref.sectionName;
    if (ref.port !== undefined) parentRef.port = ref.port;
    const dedupeKey = JSON.stringify(parentRef);
    if (seen.has(dedupeKey)) continue;
    seen.add(dedupeKey);

    const candidates = offered.filter(
      (l) => (ref.sectionName === undefined || l.name === ref.sectionName) && (ref.port === undefined || l.port === ref.port),
    );
    if (candidates.length === 0) {
      result.push({ parentRef, gateway, listeners: [], accepted: cond('Accepted', false, 'NoMatchingParent', describeNoMatchingParent(ref)) });
      continue;
    }
    const allowed = candidates.filter(
      (l) => l.attachable && l.supportedKinds.includes(route.kind) && namespaceAllowed(index, l, gateway, route.namespace),
    );
    if (allowed.length === 0) {
      result.push({
        parentRef,
        gateway,
        listeners: [],
        accepted: cond('Accepted', false, 'NotAllowedByListeners', `no listener allows ${route.kind} from namespace ${route.namespace}`),
      });
      continue;
    }
    const listeners = allowed.flatMap((listener) => {
      const hostnames = intersectHostnames(listener.hostname, route.hostnames);
      return hostnames ? [{ listener, hostnames }] : [];
    });
    if (listeners.length === 0) {
      result.push({
        parentRef,
        gateway,
        listeners: [],
        accepted: cond('Accepted', false, 'NoMatchingListenerHostname', 'no hostname of the route intersects a listener hostname'),
      });
      continue;
    }
    result.push({ parentRef, gateway, listeners, accepted: cond('Accepted', true, 'Accepted', 'Route is accepted') });
  }
  return result;
}

function describeNoMatchingParent(ref: ParentReference): string {
  const parts = [ref.sectionName !== undefined ? `sectionName ${JSON.stringify(ref.sectionName)}` : '', ref.port !== undefined ? `port ${ref.port}` : ''];
  return `no listener matches ${parts.filter(Boolean).join(' and ') || 'the parentRef'}`;
}

function namespaceAllowed(index: ResourceIndex, listener: ListenerState, gateway: GatewayState, routeNamespace: string): boolean {
  switch (listener.allowedNamespaces.from) {
    case 'All':
      return true;
    case 'Same':
      // A ListenerSet's listener is the ListenerSet's: "Same" is its namespace, not the Gateway's.
      return routeNamespace === (listener.listenerSet?.namespace ?? gateway.namespace);
    case 'Selector':
      return selectorMatches(listener.allowedNamespaces.selector, index.labelsOfNamespace(routeNamespace));
    default:
      return false;
  }
}

/** Kubernetes label selector semantics; an absent selector selects nothing, an empty one everything. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const req of selector.matchExpressions ?? []) {
    const k = req.key ?? '';
    const has = Object.prototype.hasOwnProperty.call(labels, k);
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (!has || !values.includes(labels[k])) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[k])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
