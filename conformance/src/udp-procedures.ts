import type { KubeObject } from '@tendril/api-k8s';
import type { ProcedureContext, RuntimeProcedure } from './procedures';
import type { ExpectedCondition, ObjectRef, StatusAssertion } from './status-checks';
import { backendOfPod, UPSTREAM_CONSISTENCY, UPSTREAM_WEIGHTED_TRAFFIC, weightedDistribution, type GatewayTarget, type PodSampler } from './traffic';
import { dnsExchangeProblem, udpEchoPod, udpEchoProblem } from './udp-echo-traffic';

/**
 * The GATEWAY-UDP tests, written out from their Go sources (conformance/tests/udproute-*.go):
 * UDPRoute status on the test's Gateway, then datagrams through the listeners the routes attach to:
 * a DNS query to the coredns backend, or the echo image's UDP echo.
 */

const INFRA = 'gateway-conformance-infra';
const APP_BACKEND = 'gateway-conformance-app-backend';
const ACCEPTED: ExpectedCondition = { type: 'Accepted', status: 'True', reason: 'Accepted' };
const RESOLVED: ExpectedCondition = { type: 'ResolvedRefs', status: 'True' };
const RULES = UPSTREAM_CONSISTENCY;
/** Upstream DefaultTestTimeout: how long UDPRoute's DNS query and the attachment samples are retried. */
const DEFAULT_TEST_TIMEOUT_MS = 60_000;
/** Upstream udpEchoSendOnce's per-datagram deadline in the weighted and attachment tests. */
const SAMPLE_TIMEOUT_MS = 2_000;

/** Upstream UDPRouteMustHaveCondition: the route's parent status for `gateway` has the conditions. */
function udpRouteCondition(route: string, gateway: ObjectRef, conditions: ExpectedCondition[]): StatusAssertion {
  return {
    clause: `UDPRoute ${route} ${conditions.map((c) => `${c.type}=${c.status}${c.reason ? ` reason ${c.reason}` : ''}`).join(', ')} on ${gateway.name}`,
    route: { namespace: INFRA, name: route },
    routeKind: 'UDPRoute',
    parent: gateway,
    conditions,
  };
}

const failuresOf = (results: Array<string | undefined>): string[] => results.filter((r): r is string => r !== undefined);

/** Upstream NamespacesMustBeReady (the pods) and GatewayAndUDPRoutesMustBeAccepted: the Gateway Accepted and Programmed with an address, each route Accepted with its refs resolved. */
async function gatewayAndRoutesAccepted(ctx: ProcedureContext, gateway: ObjectRef, routes: string[], namespaces: string[] = [INFRA]): Promise<string[]> {
  return failuresOf([
    await ctx.podsReady(namespaces),
    await ctx.status({ clause: `Gateway ${gateway.name} Accepted and Programmed`, gateway, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }] }),
    await ctx.status({ clause: `Gateway ${gateway.name} has an address`, gatewayAddress: gateway }),
    ...(await Promise.all(routes.map((r) => ctx.status(udpRouteCondition(r, gateway, [ACCEPTED, RESOLVED]))))),
  ]);
}

/** Upstream WaitForGatewayAddress with a listener: the first typed status address and that listener's port (the first listener's without one). */
function listenerTarget(ctx: ProcedureContext, gateway: ObjectRef, listener?: string): GatewayTarget | string {
  const gw = ctx.get('Gateway', gateway.namespace, gateway.name) as
    | (KubeObject & { spec?: { listeners?: Array<{ name?: string; port?: number }> }; status?: { addresses?: Array<{ type?: string; value?: string }> } })
    | undefined;
  if (!gw) return `Gateway ${gateway.name} not found`;
  const address = gw.status?.addresses?.find((a) => a.type && a.value)?.value;
  const listeners = gw.spec?.listeners ?? [];
  const port = (listener === undefined ? listeners[0] : (listeners.find((l) => l.name === listener) ?? listeners[0]))?.port;
  if (!address) return `Gateway ${gateway.name} has no status address`;
  if (port === undefined) return `Gateway ${gateway.name} has no listener`;
  return { address, port };
}

/** Polls `tryOnce` every `intervalMs` until it holds (undefined) within `timeoutMs`; the last problem otherwise. */
async function pollUntil(what: string, timeoutMs: number, intervalMs: number, tryOnce: () => Promise<string | undefined>): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problem = await tryOnce();
    if (problem === undefined) return undefined;
    if (Date.now() + intervalMs > deadline) return `${what}: ${problem} (not within ${timeoutMs / 1000}s)`;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Upstream udp.ExpectEchoResponseFromBackend: the echo probe through `listener` of `gateway`, every
 * poll interval within the consistency window, until one is answered (by `expected`, when given).
 */
function udpEcho(ctx: ProcedureContext, gateway: ObjectRef, listener: string | undefined, expected: { service?: string; namespace?: string }): Promise<string | undefined> {
  return pollUntil(`UDP echo via ${listener ? `listener ${listener} of ` : ''}${gateway.name}`, RULES.maxTimeToConsistencyMs, RULES.pollIntervalMs, async () => {
    const target = listenerTarget(ctx, gateway, listener);
    return typeof target === 'string' ? target : udpEchoProblem(target.address, target.port, expected, RULES.requestTimeoutMs);
  });
}

/** Upstream udpEchoSendOnce through the listener, as a sampler: each call a new socket, resolving with the answering pod's name. */
function udpEchoSampler(ctx: ProcedureContext, gateway: ObjectRef, listener: string): PodSampler {
  return () => {
    const target = listenerTarget(ctx, gateway, listener);
    return typeof target === 'string' ? Promise.reject(new Error(target)) : udpEchoPod(target.address, target.port, SAMPLE_TIMEOUT_MS);
  };
}

/** UDPRoute: a DNS query for foo.bar.com through the Gateway is answered by the coredns backend (whoami), retried every second within the test timeout. */
async function udpRouteSimple(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'udp-gateway' };
  const status = await gatewayAndRoutesAccepted(ctx, gateway, ['udp-coredns']);
  if (status.length > 0) return status;
  return failuresOf([
    await pollUntil('DNS over UDP through udp-gateway', DEFAULT_TEST_TIMEOUT_MS, 1_000, async () => {
      const target = listenerTarget(ctx, gateway);
      return typeof target === 'string' ? target : dnsExchangeProblem(target.address, target.port, 'foo.bar.com', RULES.requestTimeoutMs);
    }),
  ]);
}

/** A route with a backend it cannot use: ResolvedRefs False with `reason` (and, with `accepted`, Accepted first, as upstream asks for the cross-namespace case). */
function udpRouteUnresolved(gatewayName: string, route: string, reason: string, accepted: boolean): RuntimeProcedure {
  return async (ctx) => {
    const gateway: ObjectRef = { namespace: INFRA, name: gatewayName };
    const ready = await ctx.podsReady([INFRA]);
    if (ready) return [ready];
    if (accepted) {
      const status = failuresOf([
        await ctx.status({ clause: `Gateway ${gateway.name} Accepted and Programmed`, gateway, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }] }),
        await ctx.status({ clause: `Gateway ${gateway.name} has an address`, gatewayAddress: gateway }),
        await ctx.status(udpRouteCondition(route, gateway, [ACCEPTED])),
      ]);
      if (status.length > 0) return status;
    }
    return failuresOf([await ctx.status(udpRouteCondition(route, gateway, [{ type: 'ResolvedRefs', status: 'False', reason }]))]);
  };
}

/** UDPRouteNotAllowedByListeners: a UDPRoute naming a TLS listener is NotAllowedByListeners, and the Gateway has no routes attached (run since tendril supports TLSRoute). */
async function udpRouteNotAllowedByListeners(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'udproute-tls-only-gateway' };
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  return failuresOf([
    await ctx.status(udpRouteCondition('udproute-not-allowed-by-listeners', gateway, [{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners' }])),
    await ctx.status({ clause: `Gateway ${gateway.name} has zero attached routes`, zeroAttachedRoutes: gateway }),
  ]);
}

/** UDPRouteParentRefAttachAllListeners: a route without sectionName or port is Accepted, each of the three UDP listeners counts it, and each reaches its backend. */
async function udpRouteParentRefAttachAllListeners(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'udp-attach-all-listeners-gateway' };
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const listeners = ['udp-1', 'udp-2', 'udp-3'];
  const status = failuresOf([
    await ctx.status(udpRouteCondition('udp-route-attach-all', gateway, [ACCEPTED])),
    ...(await Promise.all(
      listeners.map((listener) =>
        ctx.status({
          clause: `Gateway ${gateway.name} listener ${listener}: Accepted, ResolvedRefs, supportedKinds UDPRoute, attachedRoutes 1`,
          listener,
          of: gateway,
          conditions: [{ type: 'Accepted', status: 'True' }, RESOLVED],
          attachedRoutes: 1,
          supportedKinds: ['UDPRoute'],
        }),
      ),
    )),
  ]);
  if (status.length > 0) return status;
  const failures: string[] = [];
  for (const listener of listeners) {
    const failure = await udpEcho(ctx, gateway, listener, { service: 'udp-echo-attach-all', namespace: INFRA });
    if (failure) failures.push(failure);
  }
  return failures;
}

/** UDPRouteParentRefPortAndSectionName: routes attached by port, by sectionName and by both, each listener reaching its route's backend. */
async function udpRouteParentRefPortAndSectionName(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'udp-multi-listener-gateway' };
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const cases = [
    { route: 'udp-route-by-port', listener: 'by-port', backend: 'udp-echo-by-port' },
    { route: 'udp-route-by-section', listener: 'by-section', backend: 'udp-echo-by-section' },
    { route: 'udp-route-by-section-and-port', listener: 'by-section-and-port', backend: 'udp-echo-by-section-and-port' },
  ];
  const failures: string[] = [];
  for (const c of cases) {
    const status = await ctx.status(udpRouteCondition(c.route, gateway, [ACCEPTED]));
    const failure = status ?? (await udpEcho(ctx, gateway, c.listener, { service: c.backend, namespace: INFRA }));
    if (failure) failures.push(failure);
  }
  return failures;
}

/**
 * UDPRouteReferenceGrant: ResolvedRefs True and the cross-namespace backend answering while the
 * ReferenceGrant exists; once it is deleted, ResolvedRefs turns False with RefNotPermitted.
 */
async function udpRouteReferenceGrant(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'udp-gateway-reference-grant' };
  const route = 'udp-route-reference-grant';
  const status = await gatewayAndRoutesAccepted(ctx, gateway, [route], [INFRA, APP_BACKEND]);
  if (status.length > 0) return status;
  const resolved = await ctx.status(udpRouteCondition(route, gateway, [{ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' }]));
  if (resolved) return [resolved];
  const reached = await udpEcho(ctx, gateway, undefined, {});
  if (reached) return [reached];
  ctx.remove('ReferenceGrant', APP_BACKEND, 'udp-reference-grant');
  return failuresOf([await ctx.status(udpRouteCondition(route, gateway, [{ type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }]))]);
}

/** Upstream UDPRouteMultipleRoutesAttachment's sample of datagrams that must all reach the older route's backend. */
const ATTACHMENT_SAMPLES = 20;

/**
 * UDPRouteMultipleRoutesAttachment: with the older route served, a newer route for the same listener
 * is created a second later (creationTimestamp has second precision); both are Accepted, the
 * listener counts 2 routes, and rounds of 20 datagrams, each on its own socket, are retried every
 * second within the test timeout until one round is answered in full, every answer by the older
 * route's udp-attach-backend-1 (an answer from another backend fails at once, as upstream).
 */
async function udpRouteMultipleRoutesAttachment(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'udp-multi-route-attach-gateway' };
  const older = 'udproute-attach-older';
  const newer = 'udproute-attach-newer';
  const ready = await gatewayAndRoutesAccepted(ctx, gateway, [older]);
  if (ready.length > 0) return ready;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const newerRoute: KubeObject = {
    apiVersion: 'gateway.networking.k8s.io/v1alpha2',
    kind: 'UDPRoute',
    metadata: { name: newer, namespace: INFRA },
    spec: { parentRefs: [{ name: gateway.name, sectionName: 'udp' }], rules: [{ backendRefs: [{ name: 'udp-attach-backend-2', port: 8080 }] }] },
  };
  ctx.create(newerRoute);
  const status = failuresOf([
    await ctx.status(udpRouteCondition(older, gateway, [ACCEPTED])),
    await ctx.status(udpRouteCondition(newer, gateway, [ACCEPTED])),
    await ctx.status({
      clause: `Gateway ${gateway.name} listener udp: Accepted, supportedKinds UDPRoute, attachedRoutes 2`,
      listener: 'udp',
      of: gateway,
      conditions: [ACCEPTED],
      attachedRoutes: 2,
      supportedKinds: ['UDPRoute'],
    }),
  ]);
  if (status.length > 0) return status;
  const sample = udpEchoSampler(ctx, gateway, 'udp');
  let wrongBackend: string | undefined;
  const round = async (): Promise<string | undefined> => {
    for (let i = 1; i <= ATTACHMENT_SAMPLES; i++) {
      let pod: string;
      try {
        pod = await sample();
      } catch (err) {
        return `datagram ${i}/${ATTACHMENT_SAMPLES}: ${(err as Error).message}`;
      }
      if (backendOfPod(pod) !== 'udp-attach-backend-1') {
        wrongBackend = `datagram ${i}/${ATTACHMENT_SAMPLES} reached pod ${pod}; only the older route's udp-attach-backend-1 may answer`;
        return undefined;
      }
    }
    return undefined;
  };
  const failure = await pollUntil('UDP traffic to the older route', DEFAULT_TEST_TIMEOUT_MS, 1_000, round);
  return failuresOf([wrongBackend ?? failure]);
}

/** UDPRouteWeightedRouting: after one answered probe, sessions split 70/30 over udp-backend-v1/-v2 and none to the weight 0 udp-backend-v3, in upstream's rounds of 500 within 5 points. */
async function udpRouteWeightedRouting(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'udp-weighted-gateway' };
  const status = await gatewayAndRoutesAccepted(ctx, gateway, ['udp-weighted-route']);
  if (status.length > 0) return status;
  const reached = await udpEcho(ctx, gateway, 'udp', {});
  if (reached) return [reached];
  const failure = await weightedDistribution(udpEchoSampler(ctx, gateway, 'udp'), { 'udp-backend-v1': 0.7, 'udp-backend-v2': 0.3 }, UPSTREAM_WEIGHTED_TRAFFIC);
  return failure ? [failure] : [];
}

export const UDP_ROUTE_PROCEDURES: Readonly<Record<string, RuntimeProcedure>> = {
  UDPRoute: udpRouteSimple,
  UDPRouteInvalidBackendRefNonexistent: udpRouteUnresolved('udp-gateway-invalid-backend', 'udp-route-invalid-backend-ref-nonexistent', 'BackendNotFound', false),
  UDPRouteInvalidCrossNamespaceBackendRef: udpRouteUnresolved('udp-gateway-invalid-cross-namespace-backend-ref', 'udp-route-invalid-cross-namespace-backend-ref', 'RefNotPermitted', true),
  UDPRouteMultipleRoutesAttachment: udpRouteMultipleRoutesAttachment,
  UDPRouteNotAllowedByListeners: udpRouteNotAllowedByListeners,
  UDPRouteParentRefAttachAllListeners: udpRouteParentRefAttachAllListeners,
  UDPRouteParentRefPortAndSectionName: udpRouteParentRefPortAndSectionName,
  UDPRouteReferenceGrant: udpRouteReferenceGrant,
  UDPRouteWeightedRouting: udpRouteWeightedRouting,
};
