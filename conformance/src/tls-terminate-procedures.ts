import { SUPPORTED_FEATURES } from '@tendril/gateway';
import { policyCondition } from './backend-tls-procedures';
import type { ProcedureContext, RuntimeProcedure } from './procedures';
import type { ExpectedCondition, ObjectRef } from './status-checks';

/**
 * The TLSRoute Terminate / Mixed mode tests, written out from their Go sources
 * (conformance/tests/tlsroute-*termin*.go, backendtlspolicy-tlsroute-terminate.go): the TCP echo
 * conversation over TLS to the Gateway (SNI the route's hostname, trusting the setup's CA), the
 * backend seeing plaintext (Terminate), the TLS session itself (Passthrough) or TLS again under a
 * BackendTLSPolicy; and the listener status.
 */

const INFRA = 'gateway-conformance-infra';
const CA = 'tls-checks-ca-certificate';
const TLS_ROUTE_ACCEPTED: ExpectedCondition[] = [{ type: 'Accepted', status: 'True' }];
const LISTENER_ACCEPTED: ExpectedCondition[] = [{ type: 'Accepted', status: 'True', reason: 'Accepted' }];

const failuresOf = (results: Array<string | undefined>): string[] => results.filter((r): r is string => r !== undefined);

/** Upstream GatewayAndTLSRoutesMustBeAccepted for one route. */
function routeAccepted(ctx: ProcedureContext, route: string, gateway: ObjectRef): Promise<string | undefined> {
  return ctx.status({ clause: `TLSRoute ${route} Accepted`, route: { namespace: INFRA, name: route }, routeKind: 'TLSRoute', parent: gateway, conditions: TLS_ROUTE_ACCEPTED });
}

/** TLSRouteTerminateSimpleSameNamespace: TLS ends at the Gateway; tcp-backend sees a plain TCP connection. */
async function terminateSimpleSameNamespace(ctx: ProcedureContext): Promise<string[]> {
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const gateway = { namespace: INFRA, name: 'gateway-tlsroute-terminate' };
  const accepted = await routeAccepted(ctx, 'tlsroute-terminated-test', gateway);
  if (accepted) return [accepted];
  return failuresOf([await ctx.tlsEcho(gateway, 'tls.example.com', CA, { backendIsTLS: false, backend: 'tcp-backend', namespace: INFRA })]);
}

/** TLSRouteMixedTerminationSameNamespace: a Terminate and a Passthrough listener on one port, each serving its route. */
async function mixedTerminationSameNamespace(ctx: ProcedureContext): Promise<string[]> {
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const gateway = { namespace: INFRA, name: 'gateway-tlsroute-mixed-termination' };
  const statuses = failuresOf([
    await routeAccepted(ctx, 'gateway-conformance-mixed-passthroughroute', gateway),
    await ctx.status({ clause: 'listeners exactly [tls-terminate, tls-passthrough]', listenersOf: gateway, conditions: [], count: 2 }),
    await ctx.status({ clause: 'listener tls-terminate Accepted, TLSRoute, 1 route', listener: 'tls-terminate', of: gateway, conditions: LISTENER_ACCEPTED, attachedRoutes: 1, supportedKinds: ['TLSRoute'] }),
    await ctx.status({ clause: 'listener tls-passthrough Accepted, TLSRoute, 1 route', listener: 'tls-passthrough', of: gateway, conditions: LISTENER_ACCEPTED, attachedRoutes: 1, supportedKinds: ['TLSRoute'] }),
    await routeAccepted(ctx, 'gateway-conformance-mixed-terminateroute', gateway),
  ]);
  if (statuses.length) return statuses;
  return failuresOf([
    await ctx.tlsEcho(gateway, 'abc.example.com', CA, { backendIsTLS: true, backend: 'tcp-backend', namespace: INFRA, hostname: 'abc.example.com' }),
    await ctx.tlsEcho(gateway, 'tls.example.com', CA, { backendIsTLS: false, backend: 'tcp-backend', namespace: INFRA }),
  ]);
}

/** TLSRouteListenerTerminateSupportedKinds: a TLS listener in Terminate mode is Accepted and carries TLSRoute. */
async function listenerTerminateSupportedKinds(ctx: ProcedureContext): Promise<string[]> {
  const gateway = { namespace: INFRA, name: 'gateway-tlsroute-terminate-supported' };
  return failuresOf([
    await ctx.status({ clause: 'listeners exactly [tls-terminate]', listenersOf: gateway, conditions: [], count: 1 }),
    await ctx.status({ clause: 'listener tls-terminate Accepted, TLSRoute, no routes', listener: 'tls-terminate', of: gateway, conditions: LISTENER_ACCEPTED, attachedRoutes: 0, supportedKinds: ['TLSRoute'] }),
  ]);
}

/**
 * TLSRouteListenerMixedTerminationNotSupported: upstream's body returns at once when the suite
 * claims TLSRouteModeMixed (what it checks is for implementations that cannot mix the modes on a
 * port); otherwise both listeners must be refused with ProtocolConflict.
 */
async function listenerMixedTerminationNotSupported(ctx: ProcedureContext): Promise<string[]> {
  if (SUPPORTED_FEATURES.includes('TLSRouteModeMixed')) return [];
  const gateway = { namespace: INFRA, name: 'gateway-tlsroute-mixed-termination-not-supported' };
  const conflict: ExpectedCondition[] = [{ type: 'Accepted', status: 'False', reason: 'ProtocolConflict' }];
  return failuresOf([
    await ctx.status({ clause: 'listeners exactly [tls-terminate, tls-passthrough]', listenersOf: gateway, conditions: [], count: 2 }),
    await ctx.status({ clause: 'listener tls-terminate ProtocolConflict', listener: 'tls-terminate', of: gateway, conditions: conflict }),
    await ctx.status({ clause: 'listener tls-passthrough ProtocolConflict', listener: 'tls-passthrough', of: gateway, conditions: conflict }),
  ]);
}

/** BackendTLSPolicyTLSRouteTerminate: the plaintext of a terminated TLSRoute is sent to its backend in TLS again, as the policy says. */
async function backendTlsPolicyTlsRouteTerminate(ctx: ProcedureContext): Promise<string[]> {
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const gateway = { namespace: INFRA, name: 'gateway-btls-tlsroute-terminate' };
  const accepted = await routeAccepted(ctx, 'backendtlspolicy-tlsroute-terminate', gateway);
  if (accepted) return [accepted];
  const statuses = failuresOf([
    await policyCondition(ctx, 'btls-tlsroute-terminate-test', gateway, { type: 'Accepted', status: 'True', reason: 'Accepted' }),
    await policyCondition(ctx, 'btls-tlsroute-terminate-test', gateway, { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' }),
  ]);
  if (statuses.length) return statuses;
  return failuresOf([await ctx.tlsEcho(gateway, 'tls.example.com', CA, { backendIsTLS: true, backend: 'tcp-backend', namespace: INFRA, hostname: 'abc.example.com' })]);
}

export const TLS_TERMINATE_PROCEDURES: Record<string, RuntimeProcedure> = {
  TLSRouteTerminateSimpleSameNamespace: terminateSimpleSameNamespace,
  TLSRouteMixedTerminationSameNamespace: mixedTerminationSameNamespace,
  TLSRouteListenerTerminateSupportedKinds: listenerTerminateSupportedKinds,
  TLSRouteListenerMixedTerminationNotSupported: listenerMixedTerminationNotSupported,
  BackendTLSPolicyTLSRouteTerminate: backendTlsPolicyTlsRouteTerminate,
};
