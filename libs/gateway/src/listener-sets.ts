/**
 * ListenerSets: listeners that other teams attach to a Gateway that allows them
 * (spec.allowedListeners, None by default). Each ListenerSet names its parent Gateway; an allowed
 * one has its listeners evaluated as the Gateway's are (certificateRefs granted to the ListenerSet,
 * "Same" meaning the ListenerSet's namespace), then merged into the Gateway's sockets in precedence
 * order: the Gateway's own listeners first, then ListenerSets oldest first (then namespace/name). A
 * later listener on a port and hostname already taken, or on a port taken by another transport, is
 * conflicted. Routes attach to a ListenerSet's listeners only through a ListenerSet parentRef.
 */
import { cond, stampConditions, type ConditionDraft } from './conditions';
import { evaluateGateway, type GatewayState, type ListenerState } from './gateways';
import { GATEWAY_API_GROUP, type Condition, type Gateway, type ListenerSet } from './kube-types';
import { compareStrings, generationOf, nameOf, namespaceOf, type ResourceIndex } from './resource-index';
import { selectorMatches } from './route-attachment';
import { GATEWAY_API_VERSION, type StatusUpdate } from './status';

export interface ListenerSetState {
  listenerSet: ListenerSet;
  namespace: string;
  name: string;
  gateway: GatewayState;
  /** Empty when the Gateway does not take the ListenerSet. */
  listeners: ListenerState[];
  /** Accepted, Programmed. */
  conditions: ConditionDraft[];
}

function creationOrder(a: ListenerSet, b: ListenerSet): number {
  return (
    compareStrings(a.metadata?.creationTimestamp ?? '', b.metadata?.creationTimestamp ?? '') ||
    compareStrings(`${namespaceOf(a)}/${nameOf(a)}`, `${namespaceOf(b)}/${nameOf(b)}`)
  );
}

/** Whether the Gateway's allowedListeners admits ListenerSets from `namespace`. */
function allowedBy(index: ResourceIndex, gateway: GatewayState, namespace: string): boolean {
  const from = gateway.gateway.spec?.allowedListeners?.namespaces;
  switch (from?.from ?? 'None') {
    case 'All':
      return true;
    case 'Same':
      return namespace === gateway.namespace;
    case 'Selector':
      return selectorMatches(from?.selector, index.labelsOfNamespace(namespace));
    default:
      return false;
  }
}

/** Listeners on one port share a transport; HTTP, HTTPS, TLS and TCP all take the TCP port. */
function transportOf(protocol: string): string {
  return protocol === 'UDP' ? 'UDP' : protocol === 'HTTP' ? 'HTTP' : protocol === 'TCP' ? 'TCP' : 'TLS';
}

/**
 * Evaluates the ListenerSets of `gateways` (ours, already evaluated) and records them on their
 * parents: `GatewayState.listenerSets`, the accepted ones' listeners served with the Gateway's.
 */
export function mergeListenerSets(index: ResourceIndex, gateways: readonly GatewayState[]): void {
  const byKey = new Map(gateways.map((g) => [`${g.namespace}/${g.name}`, g]));
  for (const g of gateways) if (g.gateway.spec?.allowedListeners) g.listenerSets = [];
  const children = new Map<GatewayState, ListenerSet[]>();
  for (const set of index.listenerSets) {
    const ref = set.spec?.parentRef;
    if (!ref || (ref.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP || (ref.kind ?? 'Gateway') !== 'Gateway') continue;
    const gateway = byKey.get(`${ref.namespace ?? namespaceOf(set)}/${ref.name ?? ''}`);
    if (!gateway) continue; // not a Gateway of ours: not ours to judge
    children.set(gateway, [...(children.get(gateway) ?? []), set]);
  }
  for (const [gateway, sets] of children) {
    gateway.listenerSets = sets.sort(creationOrder).map((set) => evaluateListenerSet(index, gateway, set));
    resolveConflicts(gateway);
    for (const state of gateway.listenerSets) state.conditions = listenerSetConditions(state);
  }
}

function evaluateListenerSet(index: ResourceIndex, gateway: GatewayState, set: ListenerSet): ListenerSetState {
  const namespace = namespaceOf(set);
  const state: ListenerSetState = { listenerSet: set, namespace, name: nameOf(set), gateway, listeners: [], conditions: [] };
  if (!allowedBy(index, gateway, namespace)) {
    const message = `Gateway ${gateway.namespace}/${gateway.name} does not allow ListenerSets from namespace ${namespace}`;
    state.conditions = [cond('Accepted', false, 'NotAllowed', message), cond('Programmed', false, 'NotAllowed', message)];
    return state;
  }
  if (gateway.conditions[0]?.status !== 'True') {
    const message = `parent Gateway ${gateway.namespace}/${gateway.name} is not accepted`;
    state.conditions = [cond('Accepted', false, 'ParentNotAccepted', message), cond('Programmed', false, 'ParentNotAccepted', message)];
    return state;
  }
  // Each listener is evaluated on its own, as the only listener of a Gateway in the ListenerSet's
  // namespace bound to the parent's address; conflicts, even between two listeners of this set, are
  // settled afterwards in precedence order (resolveConflicts), so the first listener keeps its port.
  state.listeners = (set.spec?.listeners ?? []).map((listener) => {
    const standIn: Gateway = {
      apiVersion: `${GATEWAY_API_GROUP}/v1`,
      kind: 'Gateway',
      metadata: { name: gateway.name, namespace },
      spec: {
        gatewayClassName: gateway.gateway.spec?.gatewayClassName ?? '',
        listeners: [listener],
        ...(gateway.address ? { addresses: [{ type: 'IPAddress', value: gateway.address }] } : {}),
      },
    };
    const [evaluated] = evaluateGateway(index, standIn, {}, { kind: 'ListenerSet', namespace }).listeners;
    return Object.assign(evaluated, { gateway, listenerSet: { namespace, name: state.name } });
  });
  return state;
}

/** Later listeners yield to earlier ones: the Gateway's own, then each ListenerSet's in precedence order. */
function resolveConflicts(gateway: GatewayState): void {
  const taken = gateway.listeners.filter((l) => l.conditions[0]?.status === 'True');
  for (const set of gateway.listenerSets ?? []) {
    for (const l of set.listeners) {
      if (l.conditions[0]?.status !== 'True') continue;
      const samePort = taken.filter((t) => t.port === l.port);
      const conflict = samePort.some((t) => transportOf(t.protocol) !== transportOf(l.protocol))
        ? 'ProtocolConflict'
        : samePort.some((t) => t.protocol === l.protocol && (t.hostname ?? '') === (l.hostname ?? ''))
          ? 'HostnameConflict'
          : undefined;
      if (!conflict) {
        taken.push(l);
        continue;
      }
      const message =
        conflict === 'ProtocolConflict'
          ? `an earlier listener on port ${l.port} uses an incompatible protocol`
          : `an earlier listener on port ${l.port} uses the same protocol and hostname`;
      l.attachable = false;
      l.programmed = false;
      l.conditions = [cond('Accepted', false, conflict, message), cond('Programmed', false, conflict, message), l.conditions[2], cond('Conflicted', true, conflict, message)];
    }
  }
}

function listenerSetConditions(state: ListenerSetState): ConditionDraft[] {
  if (state.conditions.length > 0) return state.conditions; // not taken (not allowed, parent not accepted)
  const valid = state.listeners.filter((l) => l.conditions[0]?.status === 'True' && l.conditions[2]?.status === 'True');
  if (valid.length === 0) {
    const message = 'No listener is valid';
    return [cond('Accepted', false, 'ListenersNotValid', message), cond('Programmed', false, 'ListenersNotValid', message)];
  }
  const accepted = cond('Accepted', true, 'Accepted', valid.length < state.listeners.length ? 'Some listeners are not valid' : 'ListenerSet is accepted');
  return state.listeners.some((l) => l.programmed)
    ? [accepted, cond('Programmed', true, 'Programmed', 'ListenerSet is programmed')]
    : [accepted, cond('Programmed', false, 'Pending', 'Gateway has no address yet')];
}

/** Every ListenerSet of these Gateways by `<namespace>/<name>`, computed once per Gateway map (route attachment looks them up). */
const listenerSetMaps = new WeakMap<ReadonlyMap<string, GatewayState>, Map<string, ListenerSetState>>();

export function listenerSetsByKey(gatewaysByKey: ReadonlyMap<string, GatewayState>): Map<string, ListenerSetState> {
  let sets = listenerSetMaps.get(gatewaysByKey);
  if (!sets) {
    sets = new Map();
    for (const g of gatewaysByKey.values()) for (const s of g.listenerSets ?? []) sets.set(`${s.namespace}/${s.name}`, s);
    listenerSetMaps.set(gatewaysByKey, sets);
  }
  return sets;
}

/** A reused evaluation reads the current objects (a status write makes new ones) for the previous conditions. */
export function refreshListenerSetObjects(index: ResourceIndex, gateways: readonly GatewayState[]): void {
  const current = new Map(index.listenerSets.map((s) => [`${namespaceOf(s)}/${nameOf(s)}`, s]));
  for (const g of gateways) for (const s of g.listenerSets ?? []) s.listenerSet = current.get(`${s.namespace}/${s.name}`) ?? s.listenerSet;
}

interface PreviousListenerSetStatus {
  conditions?: Condition[];
  listeners?: Array<{ name?: string; conditions?: Condition[] }>;
}

export function listenerSetStatus(state: ListenerSetState, now: string): StatusUpdate {
  const generation = generationOf(state.listenerSet);
  const previous = state.listenerSet.status as PreviousListenerSetStatus | undefined;
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: 'ListenerSet',
    namespace: state.namespace,
    name: state.name,
    status: {
      conditions: stampConditions(state.conditions, previous?.conditions, generation, now),
      listeners: state.listeners.map((l) => ({
        name: l.name,
        supportedKinds: l.supportedKinds.map((kind) => ({ group: GATEWAY_API_GROUP, kind })),
        attachedRoutes: l.attachedRoutes,
        conditions: stampConditions(l.conditions, previous?.listeners?.find((p) => p.name === l.name)?.conditions, generation, now),
      })),
    },
  };
}
