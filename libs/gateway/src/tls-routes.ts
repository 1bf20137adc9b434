import type { BackendProblem, BackendResolver } from './backends';
import { cond } from './conditions';
import { INVALID_BACKEND_CLUSTER } from './envoy-render';
import { gatewaySocket, listenersOf, type GatewayState, type ListenerState } from './gateways';
import { owningListenerHostname } from './hostnames';
import type { IrListener, IrPassthroughRoute, IrSecret } from './ir';
import type { TLSRoute } from './kube-types';
import { compareStrings, nameOf, namespaceOf, type ResourceIndex } from './resource-index';
import { attachRoute } from './route-attachment';
import { compareRoutesByAge } from './route-order';
import { hasStatusOf, routeStatus, type StatusUpdate } from './status';

export interface TlsRouteTranslation {
  /** One per TLS passthrough socket that has routes, sorted by name. */
  listeners: IrListener[];
  statuses: StatusUpdate[];
  /** Clusters the passthrough routes send connections to. */
  clusters: Set<string>;
  /** Certificates of TLS listeners in Terminate mode that serve routes. */
  secrets: IrSecret[];
}

/**
 * TLSRoutes on TLS listeners, in Passthrough mode (the TLS session relayed as is) or Terminate mode
 * (TLS ended with the listener's certificates, the plaintext relayed): per socket, each served SNI hostname (the
 * intersection of listener and route hostnames, owned by the most specific listener hostname of
 * the socket) goes to the route's backend. When two routes claim one hostname the older route
 * (creationTimestamp, then namespace/name) keeps it, as Gateway API's conflict rules ask.
 */
export function translateTlsRoutes(
  index: ResourceIndex,
  gatewaysByKey: ReadonlyMap<string, GatewayState>,
  backends: BackendResolver,
  controllerName: string,
  now: string,
): TlsRouteTranslation {
  const sockets = new Map<string, { gateway: GatewayState; port: number; listenerHostnames: Set<string>; routes: Map<string, IrPassthroughRoute> }>();
  for (const gateway of gatewaysByKey.values()) {
    for (const l of listenersOf(gateway)) {
      if (!l.programmed || l.protocol !== 'TLS') continue;
      const name = `${gateway.namespace}/${gateway.name}/${l.port}`;
      const socket = sockets.get(name) ?? { gateway, port: l.port, listenerHostnames: new Set<string>(), routes: new Map() };
      socket.listenerHostnames.add(l.hostname ?? '*');
      sockets.set(name, socket);
    }
  }

  const statuses: StatusUpdate[] = [];
  const clusters = new Set<string>();
  const secrets = new Map<string, IrSecret>();
  const byAge = [...index.tlsRoutes].sort(compareRoutesByAge);
  for (const route of byAge) {
    const namespace = namespaceOf(route);
    const name = nameOf(route);
    const attachments = attachRoute(
      index,
      { kind: 'TLSRoute', namespace, name, hostnames: route.spec?.hostnames ?? [], parentRefs: route.spec?.parentRefs ?? [] },
      gatewaysByKey,
    );
    if (attachments.length === 0 && !hasStatusOf(route, controllerName)) continue;
    // Passthrough relays the TLS session as is; Terminate relays its plaintext, which a BackendTLSPolicy may wrap again.
    const passthroughBackend = resolveBackend(route, backends, true);
    let terminatedBackend: ReturnType<typeof resolveBackend> | undefined;
    const backend = passthroughBackend;
    const counted = new Set<ListenerState>();
    for (const a of attachments) {
      if (a.accepted.status !== 'True' || backend.unsupported) continue;
      for (const { listener, hostnames } of a.listeners) {
        counted.add(listener);
        const socket = sockets.get(`${a.gateway.namespace}/${a.gateway.name}/${listener.port}`);
        if (!listener.programmed || !socket) continue;
        const terminate = listener.spec.tls?.mode !== 'Passthrough';
        const chosen = terminate ? (terminatedBackend ??= resolveBackend(route, backends, false)) : passthroughBackend;
        for (const hostname of hostnames) {
          if (owningListenerHostname(socket.listenerHostnames, hostname) !== (listener.hostname ?? '*')) continue;
          if (socket.routes.has(hostname)) continue;
          const certificates = terminate ? (listener.certificates ?? []) : [];
          for (const c of certificates) secrets.set(c.secretName, { name: c.secretName, certificateChain: c.certificateChain, privateKey: c.privateKey });
          socket.routes.set(hostname, { name: `TLSRoute/${namespace}/${name}`, hostname, cluster: chosen.cluster, ...(terminate ? { terminate: { certificates: certificates.map((c) => c.secretName) } } : {}) });
          if (chosen.cluster !== INVALID_BACKEND_CLUSTER) clusters.add(chosen.cluster);
        }
      }
    }
    for (const listener of counted) listener.attachedRoutes += 1;
    statuses.push(
      routeStatus(
        'TLSRoute',
        route,
        controllerName,
        attachments,
        { accepted: backend.unsupported ? cond('Accepted', false, 'UnsupportedValue', backend.unsupported) : undefined, backend: backend.problem },
        now,
      ),
    );
  }

  const listeners = [...sockets.entries()]
    .filter(([, s]) => s.routes.size > 0)
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([name, s]): IrListener => ({
      ...gatewaySocket(name, s.gateway, s.port),
      virtualHosts: [],
      passthrough: [...s.routes.values()].sort((a, b) => compareStrings(a.hostname, b.hostname)),
    }));
  return { listeners, statuses, clusters, secrets: [...secrets.values()] };
}

/**
 * The one backend of a TLSRoute. Weighted passthrough backends (tcp_proxy weighted_clusters, as
 * TCPRoutes use) are not translated for TLSRoutes yet, so a route with several weighted backends is
 * not accepted rather than served differently.
 */
function resolveBackend(route: TLSRoute, backends: BackendResolver, plaintextOnly: boolean): { cluster: string; problem?: BackendProblem; unsupported?: string } {
  const refs = (route.spec?.rules ?? []).flatMap((rule) => rule.backendRefs ?? []);
  const weighted = refs.filter((ref) => (ref.weight ?? 1) > 0);
  if (weighted.length > 1) return { cluster: INVALID_BACKEND_CLUSTER, unsupported: 'a TLSRoute with more than one backendRef is not supported' };
  let problem: BackendProblem | undefined;
  for (const ref of refs) {
    const resolution = backends.resolve({ kind: 'TLSRoute', namespace: namespaceOf(route) }, ref, false, plaintextOnly);
    if ('problem' in resolution) problem ??= resolution.problem;
  }
  if (weighted.length === 0) return { cluster: INVALID_BACKEND_CLUSTER, problem };
  const resolution = backends.resolve({ kind: 'TLSRoute', namespace: namespaceOf(route) }, weighted[0], false, plaintextOnly);
  return 'problem' in resolution ? { cluster: INVALID_BACKEND_CLUSTER, problem: resolution.problem } : { cluster: resolution.cluster, problem };
}
