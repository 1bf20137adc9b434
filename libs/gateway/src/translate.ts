import { BackendResolver } from './backends';
import { cond } from './conditions';
import { renderEnvoy } from './envoy-render';
import type { EnvoyResources } from './envoy-types';
import { evaluateGatewayClasses, evaluateGateways, type GatewayState, type ListenerState } from './gateways';
import type { IrListener, IrRoute, IrRouteKind, IrSecret, RouteIR } from './ir';
import { owningListenerHostname } from './hostnames';
import type { GRPCRoute, HTTPRoute, KubeObject } from './kube-types';
import { compareStrings, nameOf, namespaceOf, ResourceIndex } from './resource-index';
import { attachRoute } from './route-attachment';
import { translateGrpcRoute, translateHttpRoute, unsupportedValue, type ListenerContext, type RouteTranslation } from './route-ir';
import { compareRoutePrecedence } from './route-order';
import { gatewayClassStatus, gatewayStatus, hasStatusOf, routeStatus, type StatusUpdate } from './status';
import { translateTcpRoutes } from './tcp-routes';
import { translateTlsRoutes } from './tls-routes';
import type { KeptVirtualHost, RoutePlacement, RouteWork, TranslationEnvironment, TranslationMemo } from './translation-memo';

export interface TranslateOptions {
  /** Address for Gateways without spec.addresses and without an entry in gatewayAddresses. */
  defaultAddress?: string;
  /** Addresses assigned by the caller, keyed by `<namespace>/<name>` of the Gateway. */
  gatewayAddresses?: Record<string, string>;
  /** Gateway API feature names published in GatewayClass status.supportedFeatures. */
  supportedFeatures?: string[];
  /**
   * Hostnames to render proxyless gRPC resources (API Listener + RouteConfiguration) for; every
   * exact hostname with routes when absent. The agent passes the names gRPC clients subscribed to,
   * so the node proxy's configuration does not carry ten thousand listeners nobody asked for.
   */
  proxylessHostnames?: ReadonlySet<string>;
  /** Whether an address a Gateway asks for in spec.addresses can be used here; all can when absent. */
  usableAddress?: (address: string) => boolean;
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
 *
 * Pass the same `memo` to every call of a stream of translations (the agent does) to re-translate
 * only the routes whose objects changed; the result is the same as without it.
 */
export function translate(input: TranslateInput, memo?: TranslationMemo): TranslateResult {
  validateInput(input);
  const { controllerName, now } = input;
  const options = input.options ?? {};
  const index = new ResourceIndex(input.resources);
  const { classes, gateways, gatewaysByKey, backends } = environmentOf(index, controllerName, options, memo);
  const listeners = new ListenerAssembly(gateways);
  const statuses: StatusUpdate[] = [];

  const routes: RouteEntry[] = [
    ...index.httpRoutes.map((route): RouteEntry => ({ kind: 'HTTPRoute', route })),
    ...index.grpcRoutes.map((route): RouteEntry => ({ kind: 'GRPCRoute', route })),
  ];
  for (const { kind, route } of routes) {
    const work = memo?.routeWork(route, controllerName) ?? startRouteWork(index, kind, route, gatewaysByKey, controllerName);
    memo?.keepRouteWork(route, work);
    if (work.ignored) continue;
    if (!work.base || !work.status || (!work.unsupported && !work.placements)) completeRouteWork(kind, route, work, backends, listeners, controllerName, now);
    if (!work.unsupported) listeners.attach(work);
    if (work.status) statuses.push(work.status);
  }

  const passthrough = translateTlsRoutes(index, gatewaysByKey, backends, controllerName, now);
  statuses.push(...passthrough.statuses);
  const tcp = translateTcpRoutes(index, gatewaysByKey, backends, controllerName, now);
  statuses.push(...tcp.statuses);
  const irListeners = [...listeners.build(memo), ...passthrough.listeners, ...tcp.listeners].sort((a, b) => compareStrings(a.name, b.name));
  const usedClusters = new Set<string>([...passthrough.clusters, ...tcp.clusters]);
  for (const l of irListeners) {
    for (const vh of l.virtualHosts) {
      for (const r of vh.routes) {
        if (r.action.kind !== 'forward') continue;
        for (const s of r.action.backends) if (s.kind === 'cluster') usedClusters.add(s.cluster);
        for (const m of r.action.mirrors) usedClusters.add(m.cluster);
      }
    }
  }
  const ir: RouteIR = { listeners: irListeners, clusters: backends.clustersNamed(usedClusters), secrets: listeners.secrets() };

  for (const c of classes) statuses.push(gatewayClassStatus(c, now, options.supportedFeatures));
  for (const g of gateways) statuses.push(gatewayStatus(g, now));
  const kindOrder = ['GatewayClass', 'Gateway', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute'];
  statuses.sort(
    (a, b) =>
      kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) ||
      compareStrings(a.namespace ?? '', b.namespace ?? '') ||
      compareStrings(a.name, b.name),
  );
  return { ir, envoy: renderEnvoy(ir, options.proxylessHostnames), statuses };
}

/** GatewayClasses, Gateways and backends: evaluated afresh, or taken from the memo when nothing they read changed. */
function environmentOf(index: ResourceIndex, controllerName: string, options: TranslateOptions, memo: TranslationMemo | undefined): TranslationEnvironment {
  const key = [controllerName, options.defaultAddress, options.gatewayAddresses, options.usableAddress, ...index.environmentObjects.flatMap(environmentKeyOf)];
  const kept = memo?.reuseEnvironment(key);
  if (kept) {
    // Same specs, but maybe new objects (a status write makes one): status is rendered from the current ones.
    const current = new Map([...index.gateways, ...index.gatewayClasses].map((o) => [`${o.kind}/${namespaceOf(o)}/${nameOf(o)}`, o]));
    for (const c of kept.classes) c.gatewayClass = (current.get(`GatewayClass/${namespaceOf(c.gatewayClass)}/${nameOf(c.gatewayClass)}`) ?? c.gatewayClass) as typeof c.gatewayClass;
    for (const g of kept.gateways) g.gateway = (current.get(`Gateway/${g.namespace}/${g.name}`) ?? g.gateway) as typeof g.gateway;
    return kept;
  }
  const classes = evaluateGatewayClasses(index, controllerName);
  const gateways = evaluateGateways(index, classes, options);
  const environment: TranslationEnvironment = {
    classes,
    gateways,
    gatewaysByKey: new Map(gateways.map((g) => [`${g.namespace}/${g.name}`, g])),
    backends: new BackendResolver(index),
  };
  memo?.setEnvironment(key, environment);
  return environment;
}

/** The listener-dependent translations, placements and status of a route: done once per route object and environment. */
function completeRouteWork(
  kind: IrRouteKind,
  route: HTTPRoute | GRPCRoute,
  work: RouteWork,
  backends: BackendResolver,
  listeners: ListenerAssembly,
  controllerName: string,
  now: string,
): void {
  const translateFor = (listener: ListenerContext): RouteTranslation => {
    const contextKey = `${listener.port}/${listener.scheme}`;
    let translation = work.perContext.get(contextKey);
    if (!translation) {
      translation = kind === 'HTTPRoute' ? translateHttpRoute(route as HTTPRoute, listener, backends) : translateGrpcRoute(route as GRPCRoute, backends);
      work.perContext.set(contextKey, translation);
    }
    return translation;
  };
  // ResolvedRefs does not depend on the listener, so one translation serves the status.
  const base = (work.base ??= translateFor({ port: 0, scheme: 'http' }));
  if (!work.unsupported) work.placements ??= listeners.place(work, translateFor);
  work.status ??= routeStatus(
    kind,
    route,
    controllerName,
    work.attachments,
    { accepted: work.unsupported ? cond('Accepted', false, 'UnsupportedValue', work.unsupported) : undefined, backend: base.backendProblem },
    now,
  );
}

/**
 * What of an environment object translation reads. Gateways and GatewayClasses get new objects
 * whenever their status is written, which translation never reads; keying them by spec and
 * metadata keeps a status write from invalidating every route's translation.
 */
function environmentKeyOf(obj: KubeObject): unknown[] {
  if (obj.kind !== 'Gateway' && obj.kind !== 'GatewayClass') return [obj];
  const { name, namespace, generation, labels, annotations } = obj.metadata ?? {};
  return [(obj as { spec?: unknown }).spec, JSON.stringify([name, namespace, generation, labels, annotations])];
}

function startRouteWork(
  index: ResourceIndex,
  kind: IrRouteKind,
  route: HTTPRoute | GRPCRoute,
  gatewaysByKey: ReadonlyMap<string, GatewayState>,
  controllerName: string,
): RouteWork {
  const attachments = attachRoute(
    index,
    { kind, namespace: namespaceOf(route), name: nameOf(route), hostnames: route.spec?.hostnames ?? [], parentRefs: route.spec?.parentRefs ?? [] },
    gatewaysByKey,
  );
  // A route counts once on each listener it is accepted by, however many parentRefs lead there.
  const countedOn = new Set<ListenerState>();
  for (const a of attachments) if (a.accepted.status === 'True') for (const { listener } of a.listeners) countedOn.add(listener);
  return {
    route,
    attachments,
    countedOn: [...countedOn],
    ignored: attachments.length === 0 && !hasStatusOf(route, controllerName),
    unsupported: unsupportedValue(kind, route),
    perContext: new Map(),
  };
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
  /** Per Gateway socket: its listener hostnames, and per served hostname the IR route lists placed there. */
  private readonly byName = new Map<
    string,
    {
      gateway: GatewayState;
      port: number;
      listenerHostnames: Set<string>;
      hosts: Map<string, Array<readonly IrRoute[]>>;
      /** HTTPS sockets: per listener hostname, the names of its certificates. */
      tls?: Map<string, string[]>;
    }
  >();
  private readonly certificates = new Map<string, IrSecret>();

  constructor(gateways: readonly GatewayState[]) {
    for (const gateway of gateways) {
      for (const l of gateway.listeners) {
        // TLS passthrough and TCP sockets carry TLSRoutes and TCPRoutes, not virtual hosts (see tls-routes.ts, tcp-routes.ts).
        if (!l.programmed || l.protocol === 'TLS' || l.protocol === 'TCP') continue;
        const name = listenerName(gateway, l.port);
        const target = this.byName.get(name) ?? { gateway, port: l.port, listenerHostnames: new Set<string>(), hosts: new Map<string, Array<readonly IrRoute[]>>(), tls: undefined };
        // Every listener hostname gets a virtual host, so a request always lands on its own listener's
        // routes (or a 404), never on a less specific listener's.
        const hostname = l.hostname ?? '*';
        target.listenerHostnames.add(hostname);
        if (!target.hosts.has(hostname)) target.hosts.set(hostname, []);
        // Listeners sharing a port share a transport (else they conflict), so a socket is all HTTPS or all HTTP.
        if (l.protocol === 'HTTPS' && l.certificates) {
          target.tls ??= new Map();
          target.tls.set(hostname, l.certificates.map((c) => c.secretName));
          for (const c of l.certificates) {
            this.certificates.set(c.secretName, { name: c.secretName, certificateChain: c.certificateChain, privateKey: c.privateKey });
          }
        }
        this.byName.set(name, target);
      }
    }
  }

  /** Counts the route on its listeners and adds its IR routes to the virtual hosts it serves. */
  attach(work: RouteWork): void {
    for (const listener of work.countedOn) listener.attachedRoutes += 1;
    for (const { socket, hostname, routes } of work.placements ?? []) {
      const hosts = this.byName.get(socket)?.hosts;
      if (!hosts) continue;
      const placed = hosts.get(hostname);
      if (placed) placed.push(routes);
      else hosts.set(hostname, [routes]);
    }
  }

  /**
   * The virtual hosts a route's IR routes go to: on every programmed listener it attached to, the
   * hostnames that listener owns on its socket (a more specific listener hostname on the same
   * socket owns its hosts). Depends only on the route and the Gateways, so it is kept in the memo.
   */
  place(work: RouteWork, translateFor: (listener: ListenerContext) => RouteTranslation): RoutePlacement[] {
    const placements: RoutePlacement[] = [];
    for (const a of work.attachments) {
      if (a.accepted.status !== 'True') continue;
      for (const { listener, hostnames } of a.listeners) {
        if (!listener.programmed) continue;
        const socket = listenerName(a.gateway, listener.port);
        const target = this.byName.get(socket);
        if (!target) continue;
        const { routes } = translateFor({ port: listener.port, scheme: listener.protocol === 'HTTPS' ? 'https' : 'http' });
        for (const hostname of hostnames) {
          if (owningListenerHostname(target.listenerHostnames, hostname) !== (listener.hostname ?? '*')) continue;
          placements.push({ socket, hostname, routes });
        }
      }
    }
    return placements;
  }

  /** The certificates of every served HTTPS listener, each Secret once, sorted by name. */
  secrets(): IrSecret[] {
    return [...this.certificates.values()].sort((a, b) => compareStrings(a.name, b.name));
  }

  build(memo: TranslationMemo | undefined): IrListener[] {
    const kept = new Map<string, KeptVirtualHost>();
    const listeners = [...this.byName.entries()]
      .sort(([a], [b]) => compareStrings(a, b))
      .map(([name, { gateway, port, hosts, tls }]): IrListener => ({
        name,
        gateway: { namespace: gateway.namespace, name: gateway.name },
        address: gateway.address ?? '',
        port,
        ...(tls
          ? {
              tls: [...tls.entries()]
                .sort(([a], [b]) => compareStrings(a, b))
                .map(([hostname, certificates]) => ({ hostname, certificates })),
            }
          : {}),
        virtualHosts: [...hosts.entries()]
          .sort(([a], [b]) => compareStrings(a, b))
          .map(([hostname, sources]) => {
            const vhostName = `${name}/${hostname}`;
            const vhost = memo?.virtualHost(vhostName, hostname, sources) ?? { name: vhostName, hostname, routes: mergeRoutes(sources) };
            kept.set(vhostName, { sources, vhost });
            return vhost;
          }),
      }));
    memo?.keepVirtualHosts(kept);
    return listeners;
  }
}

/** The IR routes placed on one virtual host, each once (by name), in precedence order. */
function mergeRoutes(sources: ReadonlyArray<readonly IrRoute[]>): IrRoute[] {
  if (sources.length === 1) return [...sources[0]].sort(compareRoutePrecedence);
  const byName = new Map<string, IrRoute>();
  for (const routes of sources) for (const r of routes) if (!byName.has(r.name)) byName.set(r.name, r);
  return [...byName.values()].sort(compareRoutePrecedence);
}

function listenerName(gateway: GatewayState, port: number): string {
  return `${gateway.namespace}/${gateway.name}/${port}`;
}
