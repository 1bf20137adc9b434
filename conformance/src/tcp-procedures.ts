import type { KubeObject } from '@tendril/api-k8s';
import type { ProcedureContext, RuntimeProcedure } from './procedures';
import type { ExpectedCondition, ObjectRef, StatusAssertion } from './status-checks';
import { backendOfPod, weightedDistribution, UPSTREAM_WEIGHTED_TRAFFIC } from './traffic';

/**
 * The GATEWAY-TCP tests, written out from their Go sources (conformance/tests/tcproute-*.go):
 * TCPRoute status on the test's Gateway, then the TCP echo conversation (plain TCP, upstream
 * MakeTCPRequestAndExpectEventuallyValidResponse) through the listeners the routes attach to.
 */

const INFRA = 'gateway-conformance-infra';
const WEB_BACKEND = 'gateway-conformance-web-backend';
const ACCEPTED: ExpectedCondition = { type: 'Accepted', status: 'True', reason: 'Accepted' };
const RESOLVED: ExpectedCondition = { type: 'ResolvedRefs', status: 'True' };

/** Upstream TCPRouteMustHaveCondition: the route's parent status for `gateway` has the conditions. */
function tcpRouteCondition(route: string, gateway: ObjectRef, conditions: ExpectedCondition[]): StatusAssertion {
  return {
    clause: `TCPRoute ${route} ${conditions.map((c) => `${c.type}=${c.status}${c.reason ? ` reason ${c.reason}` : ''}`).join(', ')} on ${gateway.name}`,
    route: { namespace: INFRA, name: route },
    routeKind: 'TCPRoute',
    parent: gateway,
    conditions,
  };
}

/** Upstream NamespacesMustBeReady (the pods) and GatewayAndTCPRoutesMustBeAccepted: the Gateway Accepted and Programmed with an address, each route Accepted with its refs resolved. */
async function gatewayAndRoutesAccepted(ctx: ProcedureContext, gateway: ObjectRef, routes: string[], namespaces: string[] = [INFRA]): Promise<string[]> {
  return failuresOf([
    await ctx.podsReady(namespaces),
    await ctx.status({ clause: `Gateway ${gateway.name} Accepted and Programmed`, gateway, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }] }),
    await ctx.status({ clause: `Gateway ${gateway.name} has an address`, gatewayAddress: gateway }),
    ...(await Promise.all(routes.map((r) => ctx.status(tcpRouteCondition(r, gateway, [ACCEPTED, RESOLVED]))))),
  ]);
}

const failuresOf = (results: Array<string | undefined>): string[] => results.filter((r): r is string => r !== undefined);

/** A route with a backend it cannot use: Accepted, ResolvedRefs False with `reason` (TCPRouteInvalidBackendRefNonexistent, …CrossNamespaceBackendRef). */
function tcpRouteUnresolved(gatewayName: string, route: string, reason: string): RuntimeProcedure {
  return async (ctx) => {
    const gateway: ObjectRef = { namespace: INFRA, name: gatewayName };
    return failuresOf([
      await ctx.status(tcpRouteCondition(route, gateway, [{ type: 'Accepted', status: 'True' }])),
      await ctx.status(tcpRouteCondition(route, gateway, [{ type: 'ResolvedRefs', status: 'False', reason }])),
    ]);
  };
}

/** TCPRouteInvalidNonTCPListener: a TCPRoute naming an HTTP listener is NotAllowedByListeners, and the Gateway has no routes attached. */
async function tcpRouteInvalidNonTcpListener(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'tcp-mixed-protocol-gateway' };
  return failuresOf([
    await ctx.status(tcpRouteCondition('tcp-route', gateway, [{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners' }])),
    await ctx.status({ clause: `Gateway ${gateway.name} has zero attached routes`, zeroAttachedRoutes: gateway }),
  ]);
}

/** TCPRouteParentRefAttachAll: a route without sectionName or port is Accepted and every one of the four listeners reaches its backend. */
async function tcpRouteParentRefAttachAll(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'tcp-attach-all-gateway' };
  const status = failuresOf([await ctx.podsReady([INFRA]), await ctx.status(tcpRouteCondition('tcp-route-attach-all', gateway, [ACCEPTED]))]);
  if (status.length > 0) return status;
  const failures: string[] = [];
  for (const listener of ['one', 'two', 'three', 'four']) {
    const failure = await ctx.tcpEcho(gateway, listener, { backendIsTLS: false, backend: 'tcp-echo-attach-all', namespace: INFRA });
    if (failure) failures.push(failure);
  }
  return failures;
}

/** TCPRouteParentRefPortAndSectionName: routes attached by port (one), by sectionName (two) and by both (three), each listener reaching its route's backend. */
async function tcpRouteParentRefPortAndSectionName(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'tcp-multi-listener-gateway' };
  const cases = [
    { route: 'tcp-route-by-port', listener: 'one', backend: 'tcp-echo-one' },
    { route: 'tcp-route-by-section', listener: 'two', backend: 'tcp-echo-two' },
    { route: 'tcp-route-by-section-and-port', listener: 'three', backend: 'tcp-echo-three' },
  ];
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const failures: string[] = [];
  for (const c of cases) {
    const status = await ctx.status(tcpRouteCondition(c.route, gateway, [ACCEPTED]));
    const failure = status ?? (await ctx.tcpEcho(gateway, c.listener, { backendIsTLS: false, backend: c.backend, namespace: INFRA }));
    if (failure) failures.push(failure);
  }
  return failures;
}

/**
 * TCPRouteReferenceGrant: the cross-namespace backend is reached while the ReferenceGrant exists;
 * once it is deleted the route's ResolvedRefs turns False with RefNotPermitted.
 */
async function tcpRouteReferenceGrant(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'tcp-reference-grant-gateway' };
  const route = 'tcp-reference-grant';
  const status = await gatewayAndRoutesAccepted(ctx, gateway, [route], [INFRA, WEB_BACKEND]);
  if (status.length > 0) return status;
  const reached = await ctx.tcpEcho(gateway, 'tcp', { backendIsTLS: false, backend: 'tcp-reference-grant-backend', namespace: WEB_BACKEND });
  if (reached) return [reached];
  ctx.remove('ReferenceGrant', WEB_BACKEND, 'tcp-reference-grant');
  return failuresOf([await ctx.status(tcpRouteCondition(route, gateway, [{ type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }]))]);
}

/** Upstream TCPRouteMultipleRoutesAttachment's sample of connections that must all reach the older route's backend. */
const ATTACHMENT_SAMPLES = 100;

/**
 * TCPRouteMultipleRoutesAttachment: with the older route served, a newer route for the same listener
 * is created (a second later: creationTimestamp has second precision); both are Accepted, the
 * listener counts 2 routes, and every one of 100 connections reaches the older route's backend.
 */
async function tcpRouteMultipleRoutesAttachment(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'tcp-multi-route-attach-gateway' };
  const older = 'tcproute-attach-older';
  const newer = 'tcproute-attach-newer';
  const ready = await gatewayAndRoutesAccepted(ctx, gateway, [older]);
  if (ready.length > 0) return ready;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const newerRoute: KubeObject = {
    apiVersion: 'gateway.networking.k8s.io/v1alpha2',
    kind: 'TCPRoute',
    metadata: { name: newer, namespace: INFRA },
    spec: { parentRefs: [{ name: gateway.name, sectionName: 'tcp' }], rules: [{ backendRefs: [{ name: 'tcp-attach-backend-2', port: 3000 }] }] },
  };
  ctx.create(newerRoute);
  const status = failuresOf([
    await ctx.status(tcpRouteCondition(older, gateway, [ACCEPTED])),
    await ctx.status(tcpRouteCondition(newer, gateway, [ACCEPTED])),
    await ctx.status({
      clause: `Gateway ${gateway.name} listener tcp: Accepted, supportedKinds TCPRoute, attachedRoutes 2`,
      listener: 'tcp',
      of: gateway,
      conditions: [ACCEPTED],
      attachedRoutes: 2,
      supportedKinds: ['TCPRoute'],
    }),
  ]);
  if (status.length > 0) return status;
  const converged = await ctx.tcpEcho(gateway, 'tcp', { backendIsTLS: false, backend: 'tcp-attach-backend-1', namespace: INFRA });
  if (converged) return [converged];
  const sample = await ctx.tcpEchoSampler(gateway, 'tcp');
  for (let i = 1; i <= ATTACHMENT_SAMPLES; i++) {
    const pod = await sample();
    if (backendOfPod(pod) !== 'tcp-attach-backend-1') return [`connection ${i}/${ATTACHMENT_SAMPLES} reached pod ${pod}; only the older route's tcp-attach-backend-1 may answer`];
  }
  return [];
}

/** Upstream TCPRouteWeightedRouting's band: each backend within 3 points of its share (HTTP's is 5). */
export const UPSTREAM_TCP_WEIGHTED_TRAFFIC = { ...UPSTREAM_WEIGHTED_TRAFFIC, tolerance: 0.03 };

/** TCPRouteWeightedRouting: connections split 70/30 over tcp-backend-v1/-v2, none to the weight 0 tcp-backend-v3, in rounds of 500. */
async function tcpRouteWeightedRouting(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'tcp-weighted-gateway' };
  const status = await gatewayAndRoutesAccepted(ctx, gateway, ['tcp-weighted-route']);
  if (status.length > 0) return status;
  const failure = await weightedDistribution(await ctx.tcpEchoSampler(gateway, 'tcp'), { 'tcp-backend-v1': 0.7, 'tcp-backend-v2': 0.3 }, UPSTREAM_TCP_WEIGHTED_TRAFFIC);
  return failure ? [failure] : [];
}

export const TCP_ROUTE_PROCEDURES: Readonly<Record<string, RuntimeProcedure>> = {
  TCPRouteInvalidBackendRefNonexistent: tcpRouteUnresolved('tcp-gateway-invalid-backend', 'tcp-route-invalid-backend-ref-nonexistent', 'BackendNotFound'),
  TCPRouteInvalidCrossNamespaceBackendRef: tcpRouteUnresolved('tcp-invalid-cross-namespace-backend-ref-gateway', 'tcp-invalid-cross-namespace-backend-ref', 'RefNotPermitted'),
  TCPRouteInvalidNonTCPListener: tcpRouteInvalidNonTcpListener,
  TCPRouteMultipleRoutesAttachment: tcpRouteMultipleRoutesAttachment,
  TCPRouteParentRefAttachAll: tcpRouteParentRefAttachAll,
  TCPRouteParentRefPortAndSectionName: tcpRouteParentRefPortAndSectionName,
  TCPRouteReferenceGrant: tcpRouteReferenceGrant,
  TCPRouteWeightedRouting: tcpRouteWeightedRouting,
};
