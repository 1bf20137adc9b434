import { BackendResolver } from './backends';
import { cond } from './conditions';
import { renderEnvoy } from './envoy-render';
import type { EnvoyResources } from './envoy-types';
import { evaluateGatewayClasses, evaluateGateways, type GatewayState, type ListenerState } from './gateways';
import type { IrListener, IrRoute, IrRouteKind, RouteIR } from './ir';
import { owningListenerHostname } from './hostnames';
import type { GRPCRoute, HTTPRoute, KubeObject } from './kube-types';
import { compareStrings, nameOf, namespaceOf, ResourceIndex } from './resource-index';
import { attachRoute, type ParentAttachment } from './route-attachment';
import { translateGrpcRoute, translateHttpRoute, unsupportedValue, type ListenerContext, type RouteTranslation } from './route-ir';
import { compareRoutePrecedence } from './route-order';
import { gatewayClassStatus, gatewayStatus, routeStatus, type StatusUpdate } from './status';

export interface TranslateOptions {
  /** Address for Gateways without spec.addresses and without an entry in gatewayAddresses. */
  defaultAddress?: string;
  /** Addresses assigned by the caller, keyed by `<namespace>/<name>` of the Gateway. */
  gatewayAddresses?: Record<string, string>;
  /** Gateway API feature names published in GatewayClass status.supportedFeatures. */
  supportedFeatures?: string[];
}

export interface TranslateInput {
  /** Validated Kubernetes objects of any kind; kinds the translator does not use are ignored. */
  resources: readonly KubeObject[];
  /** GatewayClasses with this spec.controllerName are ours. */
  controllerName: string;
  /** RFC 3339 timestamp used as lastTransitionTime of conditions that changed. */
  now: string;
  options?: TranslateOptions;
}

export interface TranslateResult {
  ir: RouteIR;
  envoy: EnvoyResources;
  /** Status for every GatewayClass, Gateway and route this controller is responsible for, sorted. */
  statuses: StatusUpdate[];
}

interface RouteEntry {
  kind: IrRouteKind;
  route: HTTPRoute | GRPCRoute;
}

/**
 * Gateway API resources in, route IR + Envoy resources + status out. Pure: the same input always
 * gives the same (sorted) output, so xDS versions change only when content does.
 */
export function translate(input: TranslateInput): TranslateResult {
  validateInput(input);
  const { controllerName, now } = input;
  const options = input.options ?? {};
  const index = new ResourceIndex(input.resources);
  const classes = evaluateGatewayClasses(index, controllerName);
  const gateways = evaluateGateways(index, classes, options);
  const gatewaysByKey = new Map(gateways.map((g) => [`${g.namespace}/${g.name}`, g]));
  const backends = new BackendResolver(index);
  const listeners = new ListenerAssembly(gateways);
  const statuses: StatusUpdate[] = [];

  const routes: RouteEntry[] = [
    ...index.httpRoutes.map((route): RouteEntry => ({ kind: 'HTTPRoute', route })),
    ...index.grpcRoutes.map((route): RouteEntry => ({ kind: 'GRPCRoute', route })),
  ];
  for (const { kind, route } of routes) {
    const attachments = attachRoute(
      index,
      { kind, namespace: namespaceOf(route), name: nameOf(route), hostnames: route.spec?.hostnames ?? [], parentRefs: route.spec?.parentRefs ?? [] },
      gatewaysByKey,
    );
    const hadOurStatus = (route.status?.parents ?? []).some((p) => p.controllerName === controllerName);
    if (attachments.length === 0 && !hadOurStatus) continue;

    const translateFor = (listener: ListenerContext): RouteTranslation =>
      kind === 'HTTPRoute' ? translateHttpRoute(route as HTTPRoute, listener, backends) : translateGrpcRoute(route as GRPCRoute, backends);
    // ResolvedRefs does not depend on the listener, so one translation serves the status.
    const base = translateFor({ port: 0, scheme: 'http' });
    const unsupported = unsupportedValue(kind, route);
    if (!unsupported) listeners.attach(kind, route, attachments, translateFor);
    statuses.push(
      routeStatus(
        kind,
        route,
        controllerName,
        attachments,
        { accepted: unsupported ? cond('Accepted', false, 'UnsupportedValue', unsupported) : undefined, backend: base.backendProblem },
        now,
      ),
    );
  }

  const irListeners = listeners.build();
  const usedClusters = new Set<string>();
  for (const l of irListeners) {
    for (const vh of l.virtualHosts) {
      for (const r of vh.routes) {
        if (r.action.kind !== 'forward') continue;
        for (const s of r.action.backends) if (s.kind === 'cluster') usedClusters.add(s.cluster);
        for (const m of r.action.mirrors) usedClusters.add(m.cluster);
      }
    }
  }
  const ir: RouteIR = { listeners: irListeners, clusters: backends.clustersNamed(usedClusters) };

  for (const c of classes) statuses.push(gatewayClassStatus(c, now, options.supportedFeatures));
  for (const g of gateways) statuses.push(gatewayStatus(g, now));
  const kindOrder = ['GatewayClass', 'Gateway', 'HTTPRoute', 'GRPCRoute'];
  statuses.sort(
    (a, b) =>
      kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) ||
      compareStrings(a.namespace ?? '', b.namespace ?? '') ||
      compareStrings(a.name, b.name),
  );
  return { ir, envoy: renderEnvoy(ir), statuses };
}

function validateInput(input: TranslateInput): void {
  if (!input || typeof input !== 'object') throw new TypeError('translate: input must be an object');
  if (!Array.isArray(input.resources)) throw new TypeError('translate: input.resources must be an array of Kubernetes objects');
  if (typeof input.controllerName !== 'string' || input.controllerName === '') {
    throw new TypeError('translate: input.controllerName must be a non-empty string');
  }
  if (typeof input.now !== 'string' || Number.isNaN(Date.parse(input.now))) {
    throw new TypeError(`translate: input.now must be an RFC 3339 timestamp, got ${JSON.stringify(input.now)}`);
  }
}

/**
 * Collects attached routes into one IR listener per Gateway port (listeners sharing a port share the
 * socket) and one virtual host per served hostname, and counts attachedRoutes per listener.
 */
class ListenerAssembly {
  private readonly byName = new Map<
    string,
    { gateway: GatewayState; port: number; listenerHostnames: Set<string>; hosts: Map<string, Map<string, IrRoute>> }
  >();
  private readonly attachedByListener = new Map<ListenerState, Set<string>>();

  constructor(gateways: readonly GatewayState[]) {
    for (const gateway of gateways) {
      for (const l of gateway.listeners) {
        if (!l.programmed) continue;
        const name = listenerName(gateway, l.port);
        const target = this.byName.get(name) ?? { gateway, port: l.port, listenerHostnames: new Set<string>(), hosts: new Map() };
        // Every listener hostname gets a virtual host, so a request always lands on its own listener's
        // routes (or a 404), never on a less specific listener's.
        const hostname = l.hostname ?? '*';
        target.listenerHostnames.add(hostname);
        if (!target.hosts.has(hostname)) target.hosts.set(hostname, new Map());
        this.byName.set(name, target);
      }
    }
  }

  attach(
    kind: IrRouteKind,
    route: HTTPRoute | GRPCRoute,
    attachments: readonly ParentAttachment[],
    translateFor: (listener: ListenerContext) => RouteTranslation,
  ): void {
    const routeKey = `${kind}/${namespaceOf(route)}/${nameOf(route)}`;
    const perContext = new Map<string, IrRoute[]>();
    for (const a of attachments) {
      if (a.accepted.status !== 'True') continue;
      for (const { listener, hostnames } of a.listeners) {
        const counted = this.attachedByListener.get(listener) ?? new Set<string>();
        if (!counted.has(routeKey)) {
          counted.add(routeKey);
          listener.attachedRoutes += 1;
        }
        this.attachedByListener.set(listener, counted);
        if (!listener.programmed) continue;
        const context: ListenerContext = { port: listener.port, scheme: listener.protocol === 'HTTPS' ? 'https' : 'http' };
        const contextKey = `${context.port}/${context.scheme}`;
        if (!perContext.has(contextKey)) perContext.set(contextKey, translateFor(context).routes);
        const target = this.byName.get(listenerName(a.gateway, listener.port));
        if (!target) continue;
        for (const hostname of hostnames) {
          if (owningListenerHostname(target.listenerHostnames, hostname) !== (listener.hostname ?? '*')) continue;
          const host = target.hosts.get(hostname) ?? new Map<string, IrRoute>();
          for (const r of perContext.get(contextKey) ?? []) if (!host.has(r.name)) host.set(r.name, r);
          target.hosts.set(hostname, host);
        }
      }
    }
  }

  build(): IrListener[] {
    return [...this.byName.entries()]
      .sort(([a], [b]) => compareStrings(a, b))
      .map(([name, { gateway, port, hosts }]) => ({
        name,
        gateway: { namespace: gateway.namespace, name: gateway.name },
        address: gateway.address ?? '',
        port,
        virtualHosts: [...hosts.entries()]
          .sort(([a], [b]) => compareStrings(a, b))
          .map(([hostname, routes]) => ({
            name: `${name}/${hostname}`,
            hostname,
            routes: [...routes.values()].sort(compareRoutePrecedence),
          })),
      }));
  }
}

function listenerName(gateway: GatewayState, port: number): string {
  return `${gateway.namespace}/${gateway.name}/${port}`;
}
