import type { Condition, KubeObject } from '@tendril/api-k8s';
import type { HttpCheck } from './checks';
import type { ProcedureContext, RuntimeProcedure } from './procedures';
import type { ExpectedCondition, ObjectRef } from './status-checks';

/**
 * The ListenerSet tests, written out from their Go sources (conformance/tests/listenerset-*.go):
 * inventory.json states their ListenerSet status checks in prose, and some traffic as a matrix. Each
 * upstream helper is one function here, polled as upstream polls it: GatewayMustHaveAttachedListeners
 * (status.attachedListenerSets, absent = 0), ListenerSetMustHaveCondition (conditions at the latest
 * generation, one matching), ListenerSetListenersMustHaveConditions, ListenerSetStatusMustHaveListeners
 * (exactly these listeners, each with HTTPRoute among its kinds, its attachedRoutes and the accepted
 * conditions), HTTPRouteMustHaveCondition (the parent of that name and namespace), RoutesAndParentMustBeAccepted
 * and HTTPRouteMustHaveParents.
 */

const INFRA = 'gateway-conformance-infra';
const GROUP = 'gateway.networking.k8s.io';
/** Upstream status waits for ListenerSets, listeners and routes (60 s), Gateways (180 s). */
const STATUS_TIMEOUT_MS = 60_000;
const GATEWAY_TIMEOUT_MS = 180_000;

interface ListenerStatusView {
  name?: string;
  attachedRoutes?: number;
  supportedKinds?: Array<{ group?: string; kind?: string }>;
  conditions?: Condition[];
}
interface StatusView {
  conditions?: Condition[];
  listeners?: ListenerStatusView[];
  attachedListenerSets?: number;
  parents?: Array<{ parentRef?: { group?: string; kind?: string; name?: string; namespace?: string; sectionName?: string }; controllerName?: string; conditions?: Condition[] }>;
}

const statusOf = (o: KubeObject | undefined): StatusView => (o?.status ?? {}) as StatusView;
const infra = (name: string): ObjectRef => ({ namespace: INFRA, name });
const describe = (c: ExpectedCondition): string => `${c.type}=${c.status ?? 'any'}${c.reason ? `/${c.reason}` : ''}`;

/** Upstream findConditionInList: type, status and (when given) reason. */
function hasCondition(conditions: readonly Condition[] | undefined, want: ExpectedCondition): boolean {
  return (conditions ?? []).some((c) => c.type === want.type && (want.status === undefined || c.status === want.status) && (!want.reason || c.reason === want.reason));
}

function missingConditions(what: string, conditions: readonly Condition[] | undefined, wanted: readonly ExpectedCondition[]): string | undefined {
  const missing = wanted.filter((w) => !hasCondition(conditions, w));
  return missing.length ? `${what} lacks ${missing.map(describe).join(', ')} (has ${(conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`).join(', ') || 'none'})` : undefined;
}

function staleConditions(what: string, o: KubeObject, conditions: readonly Condition[] | undefined): string | undefined {
  if (!conditions?.length) return `${what} has no conditions yet`;
  const stale = conditions.filter((c) => c.observedGeneration !== o.metadata.generation);
  return stale.length ? `${what}: ${stale.map((c) => c.type).join(', ')} not at generation ${o.metadata.generation}` : undefined;
}

export const ACCEPTED_LISTENER: ExpectedCondition[] = [
  { type: 'ResolvedRefs', status: 'True' },
  { type: 'Accepted', status: 'True' },
  { type: 'Programmed', status: 'True' },
];
const conflicted = (reason: string): ExpectedCondition[] => [
  { type: 'Accepted', status: 'False', reason },
  { type: 'Programmed', status: 'False', reason },
  { type: 'Conflicted', status: 'True', reason },
];

/** One upstream check: undefined when it held, else why not. */
type Step = (ctx: ProcedureContext) => Promise<string | undefined>;

const gatewayAccepted =
  (gateway: string): Step =>
  (ctx) =>
    ctx.status({ clause: `Gateway ${gateway} Accepted=True`, gateway: infra(gateway), conditions: [{ type: 'Accepted', status: 'True' }] });

const gatewayListeners =
  (gateway: string, listeners: string[]): Step =>
  async (ctx) => {
    for (const listener of listeners) {
      const failure = await ctx.status({ clause: `Gateway ${gateway} listener ${listener} accepted`, listener, of: infra(gateway), conditions: ACCEPTED_LISTENER });
      if (failure) return failure;
    }
    return undefined;
  };

const attachedListenerSets =
  (gateway: string, count: number): Step =>
  (ctx) =>
    ctx.eventually(`Gateway ${gateway} attachedListenerSets ${count}`, GATEWAY_TIMEOUT_MS, () => {
      const gw = ctx.get('Gateway', INFRA, gateway);
      if (!gw) return `Gateway ${gateway} not found`;
      const status = statusOf(gw);
      const stale = staleConditions(`Gateway ${gateway}`, gw, status.conditions);
      if (stale) return stale;
      const got = status.attachedListenerSets ?? 0;
      return got === count ? undefined : `attachedListenerSets ${got}, want ${count}`;
    });

const listenerSet =
  (ref: ObjectRef, conditions: ExpectedCondition[]): Step =>
  (ctx) =>
    ctx.eventually(`ListenerSet ${ref.namespace}/${ref.name} ${conditions.map(describe).join(', ')}`, STATUS_TIMEOUT_MS, () => {
      const ls = ctx.get('ListenerSet', ref.namespace, ref.name);
      if (!ls) return `ListenerSet ${ref.namespace}/${ref.name} not found`;
      const status = statusOf(ls);
      return staleConditions(`ListenerSet ${ref.name}`, ls, status.conditions) ?? missingConditions(`ListenerSet ${ref.name}`, status.conditions, conditions);
    });

const listenerSetListeners =
  (ref: ObjectRef, conditions: ExpectedCondition[], ...listeners: string[]): Step =>
  (ctx) =>
    ctx.eventually(`ListenerSet ${ref.name} listeners ${listeners.join(', ')}: ${conditions.map(describe).join(', ')}`, STATUS_TIMEOUT_MS, () => {
      const ls = ctx.get('ListenerSet', ref.namespace, ref.name);
      if (!ls) return `ListenerSet ${ref.namespace}/${ref.name} not found`;
      for (const name of listeners) {
        const listener = statusOf(ls).listeners?.find((l) => l.name === name);
        if (!listener) return `ListenerSet ${ref.name} has no listener ${name} in status`;
        const missing = missingConditions(`listener ${name}`, listener.conditions, conditions);
        if (missing) return missing;
      }
      return undefined;
    });

/** ListenerSetStatusMustHaveListeners with upstream's HTTP listener expectation: HTTPRoute among the kinds, accepted. */
const listenerSetListenersExactly =
  (ref: ObjectRef, attached: Record<string, number>): Step =>
  (ctx) =>
    ctx.eventually(`ListenerSet ${ref.name} listeners exactly ${JSON.stringify(attached)}`, STATUS_TIMEOUT_MS, () => {
      const ls = ctx.get('ListenerSet', ref.namespace, ref.name);
      if (!ls) return `ListenerSet ${ref.namespace}/${ref.name} not found`;
      const status = statusOf(ls);
      const stale = staleConditions(`ListenerSet ${ref.name}`, ls, status.conditions);
      if (stale) return stale;
      const listeners = status.listeners ?? [];
      if (listeners.length !== Object.keys(attached).length) return `${listeners.length} listeners in status (${listeners.map((l) => l.name).join(', ')}), want ${Object.keys(attached).length}`;
      for (const [name, count] of Object.entries(attached)) {
        const l = listeners.find((x) => x.name === name);
        if (!l) return `no listener ${name} in status`;
        if (!(l.supportedKinds ?? []).some((k) => (k.group ?? GROUP) === GROUP && k.kind === 'HTTPRoute')) return `listener ${name} does not list HTTPRoute among its kinds`;
        if (l.attachedRoutes !== count) return `listener ${name} attachedRoutes ${l.attachedRoutes}, want ${count}`;
        const missing = missingConditions(`listener ${name}`, l.conditions, ACCEPTED_LISTENER);
        if (missing) return missing;
      }
      return undefined;
    });

/** HTTPRouteMustHaveCondition: the parent status whose parentRef has the parent's name (and namespace, when set). */
const routeParent =
  (route: ObjectRef, parent: ObjectRef, condition: ExpectedCondition): Step =>
  (ctx) =>
    ctx.eventually(`HTTPRoute ${route.name} ${describe(condition)} for parent ${parent.name}`, STATUS_TIMEOUT_MS, () => {
      const r = ctx.get('HTTPRoute', route.namespace, route.name);
      if (!r) return `HTTPRoute ${route.namespace}/${route.name} not found`;
      const parents = statusOf(r).parents ?? [];
      for (const p of parents) {
        const stale = staleConditions(`HTTPRoute ${route.name} parent ${p.parentRef?.name}`, r, p.conditions);
        if (stale) return stale;
      }
      const entry = parents.find((p) => p.parentRef?.name === parent.name && (p.parentRef.namespace === undefined || p.parentRef.namespace === parent.namespace));
      if (!entry) return `HTTPRoute ${route.name} has no parent status for ${parent.name}`;
      return missingConditions(`HTTPRoute ${route.name} parent ${parent.name}`, entry.conditions, [condition]);
    });

/** RoutesAndParentMustBeAccepted with a ListenerSet parent: each route's parent of that kind and name Accepted=True. */
const routesAcceptedByListenerSet =
  (ls: ObjectRef, routes: ObjectRef[]): Step =>
  async (ctx) => {
    for (const route of routes) {
      const failure = await ctx.eventually(`HTTPRoute ${route.name} Accepted by ListenerSet ${ls.name}`, STATUS_TIMEOUT_MS, () => {
        const r = ctx.get('HTTPRoute', route.namespace, route.name);
        const entry = statusOf(r).parents?.find((p) => p.parentRef?.kind === 'ListenerSet' && p.parentRef.name === ls.name && (p.parentRef.namespace ?? route.namespace) === ls.namespace);
        if (!entry) return `HTTPRoute ${route.namespace}/${route.name} has no parent status for ListenerSet ${ls.name}`;
        return missingConditions(`HTTPRoute ${route.name} parent ${ls.name}`, entry.conditions, [{ type: 'Accepted', status: 'True' }]);
      });
      if (failure) return failure;
    }
    return undefined;
  };

/** HTTPRouteMustHaveParents (namespace required): exactly one parent, with this explicit parentRef and Accepted=True. */
const routeOnlyParent =
  (route: ObjectRef, kind: 'Gateway' | 'ListenerSet', parent: ObjectRef): Step =>
  (ctx) =>
    ctx.eventually(`HTTPRoute ${route.name} parents exactly [${kind} ${parent.name}]`, STATUS_TIMEOUT_MS, () => {
      const parents = statusOf(ctx.get('HTTPRoute', route.namespace, route.name)).parents ?? [];
      if (parents.length !== 1) return `HTTPRoute ${route.name} has ${parents.length} parents, want 1`;
      const [p] = parents;
      const ref = p.parentRef ?? {};
      if (ref.group !== GROUP || ref.kind !== kind || ref.name !== parent.name || ref.namespace !== parent.namespace) return `parentRef ${JSON.stringify(ref)}, want ${GROUP} ${kind} ${parent.namespace}/${parent.name}`;
      if (!p.controllerName) return 'parent status has no controllerName';
      return missingConditions(`HTTPRoute ${route.name}`, p.conditions, [{ type: 'Accepted', status: 'True' }]);
    });

function request(gateway: string, host: string, path: string, expect: string | number): HttpCheck {
  return {
    gateway,
    request: { host, path, method: 'GET', headers: {}, backendSetsResponseHeaders: {} },
    expect: {
      status: [typeof expect === 'number' ? expect : 200],
      ...(typeof expect === 'string' ? { backend: expect, namespace: INFRA } : {}),
      requestHeadersSeenByBackend: {},
      absentRequestHeaders: [],
      responseHeaders: {},
      absentResponseHeaders: [],
    },
    label: `GET ${host}${path}`,
  };
}

/** Runs the steps in order (upstream require: the first failure ends the test), then the traffic, in parallel as upstream. */
function procedure(steps: Step[], traffic: HttpCheck[] = []): RuntimeProcedure {
  return async (ctx) => {
    for (const step of steps) {
      const failure = await step(ctx);
      if (failure) return [failure];
    }
    const results = await Promise.all(traffic.map((check) => ctx.traffic(check)));
    return results.filter((r): r is string => r !== undefined);
  };
}

const NOT_ALLOWED: ExpectedCondition[] = [
  { type: 'Accepted', status: 'False', reason: 'NotAllowed' },
  { type: 'Programmed', status: 'False', reason: 'NotAllowed' },
];
const LISTENERS_NOT_VALID: ExpectedCondition[] = [
  { type: 'Accepted', status: 'False', reason: 'ListenersNotValid' },
  { type: 'Programmed', status: 'False', reason: 'ListenersNotValid' },
];
const TAKEN: ExpectedCondition[] = [{ type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True', reason: 'Programmed' }];
const TAKEN_ACCEPTED_REASON: ExpectedCondition[] = [{ type: 'Accepted', status: 'True', reason: 'Accepted' }, { type: 'Programmed', status: 'True', reason: 'Programmed' }];

/** ListenerSetHostnameConflict and ListenerSetProtocolConflict share their shape. */
function conflictTest(kind: 'hostname' | 'protocol', reason: string): RuntimeProcedure {
  const gateway = `gateway-with-listenerset-${kind}-conflict`;
  const ls = (suffix: string): ObjectRef => infra(`listenerset-with-${kind}-conflict-with-${suffix}`);
  const withGateway = `${kind}-conflict-with-gateway-listener`;
  const withListenerSet = `${kind}-conflict-with-listener-set-listener`;
  return procedure([
    gatewayAccepted(gateway),
    gatewayListeners(gateway, ['gateway-listener', withGateway]),
    attachedListenerSets(gateway, 2),
    listenerSet(ls('gateway-1'), TAKEN),
    listenerSetListeners(ls('gateway-1'), ACCEPTED_LISTENER, 'listener-set-1-listener'),
    listenerSetListeners(ls('gateway-1'), conflicted(reason), withGateway),
    listenerSetListeners(ls('gateway-1'), ACCEPTED_LISTENER, withListenerSet),
    listenerSet(ls('gateway-2'), LISTENERS_NOT_VALID),
    listenerSetListeners(ls('gateway-2'), conflicted(reason), withGateway),
    listenerSet(ls('listener-set-1'), TAKEN),
    listenerSetListeners(ls('listener-set-1'), ACCEPTED_LISTENER, 'listener-set-2-listener'),
    listenerSetListeners(ls('listener-set-1'), conflicted(reason), withListenerSet),
    listenerSet(ls('listener-set-2'), LISTENERS_NOT_VALID),
    listenerSetListeners(ls('listener-set-2'), conflicted(reason), withListenerSet),
  ]);
}

const ROUTING_GATEWAY = 'gateway-with-listener-sets-http-routing';
const ROUTING_HOSTS = [
  'gateway-listener-1.com',
  'gateway-listener-2.com',
  'listener-set-http-routing-1-listener-1.com',
  'listener-set-http-routing-1-listener-2.com',
  'listener-set-http-routing-2-listener-1.com',
  'listener-set-http-routing-2-listener-2.com',
];
/** ListenerSetHTTPRouting's matrix: each path's answer on each of the six hosts (404 where not listed). */
const ROUTING_MATRIX: Record<string, Record<string, string>> = {
  '/route': Object.fromEntries(ROUTING_HOSTS.map((h) => [h, 'infra-backend-v1'])),
  '/gateway-route': { 'gateway-listener-1.com': 'infra-backend-v2', 'gateway-listener-2.com': 'infra-backend-v2' },
  '/gateway-section-route': { 'gateway-listener-1.com': 'infra-backend-v3' },
  '/listener-set-http-routing-1-route': { 'listener-set-http-routing-1-listener-1.com': 'infra-backend-v2', 'listener-set-http-routing-1-listener-2.com': 'infra-backend-v2' },
  '/listener-set-http-routing-1-section-route': { 'listener-set-http-routing-1-listener-1.com': 'infra-backend-v3' },
  '/listener-set-http-routing-2-route': { 'listener-set-http-routing-2-listener-1.com': 'infra-backend-v2', 'listener-set-http-routing-2-listener-2.com': 'infra-backend-v2' },
};

const ALLOWED_ROUTES_GATEWAY = 'gateway-with-listener-sets-test-allowed-routes';
const ALLOWED_ROUTES_LS = infra('listenerset-test-allowed-routes-namespaces');
const CROSS_NS_LS: ObjectRef = { namespace: 'gateway-api-ls-cross-ns', name: 'listenerset-test-allowed-routes-cross-ns' };
const allowedRoutesCases: Array<[string, string, string | number]> = [
  ['listener-set-listener-allowed-routes-all.com', '/route-in-same-namespace', 'infra-backend-v1'],
  ['listener-set-listener-allowed-routes-all.com', '/route-in-selected-namespace', 'infra-backend-v2'],
  ['listener-set-listener-allowed-routes-all.com', '/route-not-in-selected-namespace', 'infra-backend-v3'],
  ['listener-set-listener-allowed-routes-same.com', '/route-in-same-namespace', 'infra-backend-v1'],
  ['listener-set-listener-allowed-routes-same.com', '/route-in-selected-namespace', 404],
  ['listener-set-listener-allowed-routes-same.com', '/route-not-in-selected-namespace', 404],
  ['listener-set-listener-allowed-routes-selector.com', '/route-in-same-namespace', 404],
  ['listener-set-listener-allowed-routes-selector.com', '/route-in-selected-namespace', 'infra-backend-v2'],
  ['listener-set-listener-allowed-routes-selector.com', '/route-not-in-selected-namespace', 404],
  ['listener-set-listener-allowed-routes-cross-ns-same.com', '/route-in-listenerset-namespace', 'infra-backend-v1'],
  ['listener-set-listener-allowed-routes-cross-ns-same.com', '/route-in-gateway-namespace', 404],
];

export const LISTENER_SET_PROCEDURES: Readonly<Record<string, RuntimeProcedure>> = {
  ListenerSetAllowedNamespaceNone: procedure([
    gatewayAccepted('gateway-does-not-allow-listenerset'),
    attachedListenerSets('gateway-does-not-allow-listenerset', 0),
    listenerSet(infra('listenerset-not-allowed'), NOT_ALLOWED),
  ]),
  ListenerSetDefaultNotAllowed: procedure([
    gatewayAccepted('gateway-default-does-not-allow-listenerset'),
    attachedListenerSets('gateway-default-does-not-allow-listenerset', 0),
    listenerSet(infra('listenerset-default-not-allowed'), NOT_ALLOWED),
  ]),
  ListenerSetAllowedNamespaceSame: procedure([
    gatewayAccepted('gateway-allows-listenerset-in-same-namespace'),
    attachedListenerSets('gateway-allows-listenerset-in-same-namespace', 1),
    listenerSet(infra('listenerset-in-same-namespace'), TAKEN_ACCEPTED_REASON),
    listenerSetListeners(infra('listenerset-in-same-namespace'), ACCEPTED_LISTENER, 'listenerset-in-same-namespace-listener'),
    listenerSet({ namespace: 'gateway-api-listenerset-not-allowed-ns', name: 'listenerset-in-different-namespace' }, NOT_ALLOWED),
  ]),
  ListenerSetAllowedNamespaceSelector: procedure([
    gatewayAccepted('gateway-allows-listenerset-in-selected-namespace'),
    attachedListenerSets('gateway-allows-listenerset-in-selected-namespace', 1),
    listenerSet({ namespace: 'gateway-api-listenerset-selector-allowed-ns', name: 'listenerset-in-selected-namespace' }, TAKEN_ACCEPTED_REASON),
    listenerSetListeners({ namespace: 'gateway-api-listenerset-selector-allowed-ns', name: 'listenerset-in-selected-namespace' }, ACCEPTED_LISTENER, 'listenerset-in-selected-namespace-listener'),
    listenerSet({ namespace: 'gateway-api-listenerset-selector-not-allowed-ns', name: 'listenerset-not-in-selected-namespace' }, NOT_ALLOWED),
  ]),
  ListenerSetHostnameConflict: conflictTest('hostname', 'HostnameConflict'),
  ListenerSetProtocolConflict: conflictTest('protocol', 'ProtocolConflict'),
  ListenerSetReferenceGrant: procedure([
    gatewayAccepted('gateway-with-listener-sets-test-reference-grant'),
    listenerSet(infra('listenerset-with-reference-grant'), [{ type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }]),
    listenerSetListeners(infra('listenerset-with-reference-grant'), [{ type: 'ResolvedRefs', status: 'True' }], 'listenerset-with-reference-grant-listener'),
    listenerSet({ namespace: 'gateway-api-listener-sets-test-reference-grant-ns', name: 'listenerset-without-reference-grant' }, LISTENERS_NOT_VALID),
    listenerSetListeners({ namespace: 'gateway-api-listener-sets-test-reference-grant-ns', name: 'listenerset-without-reference-grant' }, [{ type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }], 'listenerset-without-reference-grant-listener'),
  ]),
  ListenerSetAllowedRoutesSupportedKinds: procedure([
    gatewayAccepted('gateway-with-listener-sets-test-supported-route-kinds'),
    listenerSetListeners(infra('listenerset-test-allowed-routes-supported-kinds'), [{ type: 'ResolvedRefs', status: 'False', reason: 'InvalidRouteKinds' }], 'listener-set-listener-allowed-routes-tls-only'),
  ]),
  ListenerSetRouteStatusScopedToParentRef: procedure([
    gatewayAccepted('gateway-parentref'),
    attachedListenerSets('gateway-parentref', 1),
    listenerSetListenersExactly(infra('listenerset-parentref'), { 'listenerset-parentref-listener': 1 }),
    routeParent(infra('route-parentref-gwonly'), infra('gateway-parentref'), { type: 'Accepted', status: 'True' }),
    routeOnlyParent(infra('route-parentref-gwonly'), 'Gateway', infra('gateway-parentref')),
    routesAcceptedByListenerSet(infra('listenerset-parentref'), [infra('route-parentref-lsonly')]),
    routeOnlyParent(infra('route-parentref-lsonly'), 'ListenerSet', infra('listenerset-parentref')),
  ]),
  ListenerSetGatewayParentSectionNameNotFound: procedure(
    [
      gatewayAccepted('gateway-section-name'),
      attachedListenerSets('gateway-section-name', 1),
      routesAcceptedByListenerSet(infra('listenerset-section-name'), [infra('route-via-listenerset')]),
      routeParent(infra('route-via-gateway'), infra('gateway-section-name'), { type: 'Accepted', status: 'False', reason: 'NoMatchingParent' }),
    ],
    [request('gateway-section-name', 'ls-section-name.com', '/goodsection', 'infra-backend-v1'), request('gateway-section-name', 'gw-section.com', '/badsection', 404)],
  ),
  ListenerSetDualParentRefIndependence: procedure(
    [
      gatewayAccepted('gateway-dual-parentref'),
      attachedListenerSets('gateway-dual-parentref', 1),
      listenerSetListenersExactly(infra('ls-dual-parentref'), { 'ls-dual-parentref-listener': 2 }),
      routeParent(infra('route-dual-parentref-both'), infra('gateway-dual-parentref'), { type: 'Accepted', status: 'True' }),
      routeParent(infra('route-dual-parentref-both'), infra('ls-dual-parentref'), { type: 'Accepted', status: 'True' }),
      routeParent(infra('route-dual-parentref-one'), infra('gateway-dual-parentref'), { type: 'Accepted', status: 'False', reason: 'NoMatchingParent' }),
      routeParent(infra('route-dual-parentref-one'), infra('ls-dual-parentref'), { type: 'Accepted', status: 'True' }),
      routesAcceptedByListenerSet(infra('ls-dual-parentref'), [infra('route-dual-parentref-one')]),
    ],
    [
      request('gateway-dual-parentref', 'gw-dual.com', '/dualboth', 'infra-backend-v1'),
      request('gateway-dual-parentref', 'ls-dual.com', '/dualboth', 'infra-backend-v1'),
      request('gateway-dual-parentref', 'ls-dual.com', '/dualone', 'infra-backend-v2'),
      request('gateway-dual-parentref', 'gw-dual.com', '/dualone', 404),
    ],
  ),
  ListenerSetHTTPRouting: procedure(
    [
      ...['attaches-to-all-listeners', 'gateway-route', 'gateway-section-route'].map((route) => routeParent(infra(route), infra(ROUTING_GATEWAY), { type: 'Accepted', status: 'True' })),
      attachedListenerSets(ROUTING_GATEWAY, 2),
      routesAcceptedByListenerSet(infra('listener-set-http-routing-1'), ['attaches-to-all-listeners', 'listener-set-http-routing-1-route', 'listener-set-http-routing-1-section-route'].map(infra)),
      listenerSetListenersExactly(infra('listener-set-http-routing-1'), { 'listener-set-http-routing-1-listener-1': 3, 'listener-set-http-routing-1-listener-2': 2 }),
      routesAcceptedByListenerSet(infra('listener-set-http-routing-2'), ['attaches-to-all-listeners', 'listener-set-http-routing-2-route'].map(infra)),
      listenerSetListenersExactly(infra('listener-set-http-routing-2'), { 'listener-set-http-routing-2-listener-1': 2, 'listener-set-http-routing-2-listener-2': 2 }),
    ],
    Object.entries(ROUTING_MATRIX).flatMap(([path, answers]) => ROUTING_HOSTS.map((host) => request(ROUTING_GATEWAY, host, path, answers[host] ?? 404))),
  ),
  ListenerSetAllowedRoutesNamespaces: procedure(
    [
      gatewayAccepted(ALLOWED_ROUTES_GATEWAY),
      attachedListenerSets(ALLOWED_ROUTES_GATEWAY, 2),
      routesAcceptedByListenerSet(ALLOWED_ROUTES_LS, [
        infra('route-in-same-namespace'),
        { namespace: 'gateway-api-routes-allowed-ns', name: 'route-in-selected-namespace' },
        { namespace: 'gateway-api-routes-not-allowed-ns', name: 'route-not-in-selected-namespace' },
      ]),
      listenerSetListenersExactly(ALLOWED_ROUTES_LS, { 'listener-set-listener-allowed-routes-all': 3, 'listener-set-listener-allowed-routes-same': 1, 'listener-set-listener-allowed-routes-selector': 1 }),
      routesAcceptedByListenerSet(CROSS_NS_LS, [{ namespace: CROSS_NS_LS.namespace, name: 'route-in-listenerset-namespace' }]),
      routeParent(infra('route-in-gateway-namespace'), CROSS_NS_LS, { type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners' }),
      listenerSetListenersExactly(CROSS_NS_LS, { 'listener-set-listener-allowed-routes-cross-ns-same': 1 }),
    ],
    allowedRoutesCases.map(([host, path, expect]) => request(ALLOWED_ROUTES_GATEWAY, host, path, expect)),
  ),
};
