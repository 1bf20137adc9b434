import { BackendResolver } from './backends';
import { cond } from './conditions';
import { renderEnvoy } from './envoy-render';
import type { EnvoyResources } from './envoy-types';
import { evaluateGatewayClasses, evaluateGateways, gatewaySocket, listenersOf, type GatewayState, type ListenerState } from './gateways';
import { listenerSetStatus, refreshListenerSetObjects } from './listener-sets';
import type { IrListener, IrRoute, IrRouteKind, IrSecret, IrTlsListener, IrVirtualHost, RouteIR } from './ir';
import { owningListenerHostname } from './hostnames';
import type { GRPCRoute, HTTPRoute, KubeObject } from './kube-types';
import { compareStrings, FEW_REPLACEMENTS, isReplaceableVersion, nameOf, namespaceOf, ResourceIndex } from './resource-index';
import { attachRoute } from './route-attachment';
import { translateGrpcRoute, translateHttpRoute, unsupportedValue, type ListenerContext, type RouteTranslation } from './route-ir';
import { compareRoutePrecedence } from './route-order';
import { hasServiceParent, routeKey, translateMeshRoutes, type MeshOptions } from './mesh-routes';
import { GATEWAY_API_VERSION, gatewayClassStatus, gatewayStatus, hasStatusOf, routeStatus, type StatusUpdate } from './status';
import { translateTcpRoutes } from './tcp-routes';
import { translateTlsRoutes } from './tls-routes';
import { translateUdpRoutes } from './udp-routes';
import type { RoutePlacement, RouteWork, TranslationEnvironment, TranslationMemo } from './translation-memo';

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
  /** East-west (GAMMA) routing: the ClusterIPs, consumer addresses and mesh listener address the mesh routes need. */
  mesh?: MeshOptions;
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
  const { index, patched } = indexResources(input.resources, memo);
  const { classes, gateways, gatewaysByKey, backends } = environmentOf(index, controllerName, options, memo);
  // The assembly and the route pass live as long as the environment (the memo drops them with it).
  const listeners = memo?.assembly ?? new ListenerAssembly(gateways);
  const lastPass = memo?.assembly ? memo.routePass : undefined;
  if (memo) {
    memo.assembly = listeners;
    // Set again when this pass completes: a pass that throws leaves the next one to start afresh.
    memo.routePass = undefined;
  }
  const workFor = (kind: IrRouteKind, route: HTTPRoute | GRPCRoute): RouteWork => {
    const kept = memo?.routeWork(route, controllerName);
    const work = kept ?? startRouteWork(index, kind, route, gatewaysByKey, controllerName);
    if (work !== kept) memo?.keepRouteWork(route, work);
    if (!work.ignored && (!work.base || !work.status || (!work.unsupported && !work.placements))) completeRouteWork(kind, route, work, backends, listeners, controllerName, now);
    return work;
  };
  let works: RouteWork[];
  if (lastPass && patched && lastPass.index === patched.from) {
    // A route edit: only the replaced routes are looked at; every other route's work, placements and count stand.
    works = lastPass.works;
    for (const [at, route] of positionsOf(index, patched.replaced)) {
      const work = workFor(route.kind as IrRouteKind, route);
      listeners.replace(works[at], work);
      works[at] = work;
    }
  } else {
    listeners.begin();
    works = [];
    for (const route of index.httpRoutes) works.push(workFor('HTTPRoute', route));
    for (const route of index.grpcRoutes) works.push(workFor('GRPCRoute', route));
    for (const work of works) if (isAttached(work)) listeners.attach(work);
  }
  if (memo) memo.routePass = { index, works };
  listeners.countAttachedRoutes();
  const statuses: StatusUpdate[] = [];
  for (const work of works) if (!work.ignored && work.status) statuses.push(work.status);

  const passthrough = translateTlsRoutes(index, gatewaysByKey, backends, controllerName, now);
  statuses.push(...passthrough.statuses);
  const tcp = translateTcpRoutes(index, gatewaysByKey, backends, controllerName, now);
  statuses.push(...tcp.statuses);
  const udp = translateUdpRoutes(index, gatewaysByKey, backends, controllerName, now);
  statuses.push(...udp.statuses);
  const irListeners = [...listeners.build(), ...passthrough.listeners, ...tcp.listeners, ...udp.listeners].sort((a, b) => compareStrings(a.name, b.name));
  const meshRoutes = works.filter((w) => w.serviceParent).map((w) => ({ kind: w.route.kind as IrRouteKind, route: w.route as HTTPRoute | GRPCRoute }));
  const mesh = translateMeshRoutes(index, meshRoutes, backends.meshResolver(), controllerName, now, options.mesh ?? {});
  mergeMeshStatuses(statuses, mesh.parents);
  const usedClusters = new Set<string>([...passthrough.clusters, ...tcp.clusters, ...udp.clusters, ...mesh.clusters]);
  // Only the assembly's listeners have virtual hosts; it counts their clusters as it builds them.
  for (const c of listeners.usedClusters()) usedClusters.add(c);
  const secrets = new Map([...listeners.secrets(), ...passthrough.secrets].map((secret) => [secret.name, secret]));
  const ir: RouteIR = { listeners: irListeners, clusters: backends.clustersNamed(usedClusters), secrets: [...secrets.values()].sort((a, b) => compareStrings(a.name, b.name)), ...(mesh.listener ? { mesh: mesh.listener } : {}) };

  statuses.push(...backends.backendTlsPolicies.statuses(index, gatewaysByKey, controllerName, now));
  for (const c of classes) statuses.push(gatewayClassStatus(c, now, options.supportedFeatures));
  for (const g of gateways) statuses.push(gatewayStatus(g, now));
  for (const g of gateways) for (const s of g.listenerSets ?? []) statuses.push(listenerSetStatus(s, now));
  statuses.sort(
    (a, b) =>
      (STATUS_KIND_ORDER.get(a.kind) ?? -1) - (STATUS_KIND_ORDER.get(b.kind) ?? -1) ||
      compareStrings(a.namespace ?? '', b.namespace ?? '') ||
      compareStrings(a.name, b.name),
  );
  return { ir, envoy: renderEnvoy(ir, options.proxylessHostnames), statuses };
}

/** The order of statuses by kind (then namespace and name). */
const STATUS_KIND_ORDER = new Map(['GatewayClass', 'Gateway', 'ListenerSet', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute', 'BackendTLSPolicy'].map((kind, i) => [kind, i]));

/** The clusters a virtual host forwards and mirrors to. */
function clustersOf(vh: IrVirtualHost): string[] {
  const found = new Set<string>();
  for (const r of vh.routes) {
    if (r.action.kind !== 'forward') continue;
    for (const s of r.action.backends) if (s.kind === 'cluster') found.add(s.cluster);
    for (const m of r.action.mirrors) found.add(m.cluster);
  }
  return [...found];
}

/**
 * Adds each route's Service parent entries to its status: to the entry the Gateway attachment made
 * (which keeps other controllers' entries and ours for Gateways), or as a new one.
 */
function mergeMeshStatuses(statuses: StatusUpdate[], meshParents: ReturnType<typeof translateMeshRoutes>['parents']): void {
  // Without mesh routes there is nothing to merge: skip indexing every route's status.
  if (meshParents.size === 0) return;
  const positions = new Map(statuses.map((s, i) => [`${s.kind}/${s.namespace ?? ''}/${s.name}`, i]));
  for (const [key, { kind, route, parents }] of meshParents) {
    const at = positions.get(key);
    if (at !== undefined) {
      const existing = statuses[at];
      const before = (existing.status.parents as unknown[] | undefined) ?? [];
      statuses[at] = { ...existing, status: { ...existing.status, parents: [...before, ...parents] } };
      continue;
    }
    const foreign = (route.status?.parents ?? []).filter((p) => p.controllerName !== parents[0]?.controllerName);
    statuses.push({ apiVersion: GATEWAY_API_VERSION, kind, namespace: namespaceOf(route), name: nameOf(route), status: { parents: [...foreign, ...parents] } });
    positions.set(routeKey(kind, route), statuses.length - 1);
  }
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
    refreshListenerSetObjects(index, kept.gateways);
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

/**
 * The index of the input. When the input is the last one with some objects replaced by new versions
 * of themselves (a route edit, statuses written back: same position in the input, same kind,
 * namespace and name, a kind the index keeps in lists), the last index is patched instead of
 * indexing and sorting every object again; `patched` then says from which index and with which
 * replacements (old object → new).
 */
function indexResources(
  resources: readonly KubeObject[],
  memo: TranslationMemo | undefined,
): { index: ResourceIndex; patched?: { from: ResourceIndex; replaced: ReadonlyMap<KubeObject, KubeObject> } } {
  const last = memo?.lastIndex;
  let result: ReturnType<typeof indexResources> | undefined;
  if (last && last.resources.length === resources.length) {
    let replaced: Map<KubeObject, KubeObject> | undefined = new Map();
    for (let i = 0; i < resources.length && replaced; i++) {
      const before = last.resources[i];
      const after = resources[i];
      if (before === after) continue;
      if (!isReplaceableVersion(before, after)) replaced = undefined;
      else replaced.set(before, after);
    }
    if (replaced) result = { index: replaced.size === 0 ? last.index : last.index.withReplaced(replaced), patched: { from: last.index, replaced } };
  }
  result ??= { index: new ResourceIndex(resources) };
  if (memo) memo.lastIndex = { resources, index: result.index };
  return result;
}

/** Where the replacing HTTPRoutes and GRPCRoutes are in the route pass (HTTPRoutes, then GRPCRoutes). */
function positionsOf(index: ResourceIndex, replaced: ReadonlyMap<KubeObject, KubeObject>): Array<[number, HTTPRoute | GRPCRoute]> {
  const routes = [...replaced.values()].filter((r): r is HTTPRoute | GRPCRoute => r.kind === 'HTTPRoute' || r.kind === 'GRPCRoute');
  const http = index.httpRoutes.length;
  if (routes.length <= FEW_REPLACEMENTS) return routes.map((r) => [r.kind === 'HTTPRoute' ? index.httpRoutes.indexOf(r as HTTPRoute) : http + index.grpcRoutes.indexOf(r as GRPCRoute), r]);
  const wanted = new Set<KubeObject>(routes);
  const found: Array<[number, HTTPRoute | GRPCRoute]> = [];
  index.httpRoutes.forEach((r, i) => wanted.has(r) && found.push([i, r]));
  index.grpcRoutes.forEach((r, i) => wanted.has(r) && found.push([http + i, r]));
  return found;
}

/** Whether a route's IR routes and attachedRoutes count go on the Gateways' listeners. */
function isAttached(work: RouteWork): boolean {
  return !work.ignored && !work.unsupported;
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
    const contextKey = `${listener.port}/${listener.scheme}/${listener.backendClientCertificate?.secretName ?? ''}`;
    let translation = work.perContext.get(contextKey);
    if (!translation) {
      translation = kind === 'HTTPRoute' ? translateHttpRoute(route as HTTPRoute, listener, backends) : translateGrpcRoute(route as GRPCRoute, backends, listener);
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
 * What of an environment object translation reads. Gateways, GatewayClasses, ListenerSets and
 * BackendTLSPolicies get new objects whenever their status is written, which translation never
 * reads; keying them by spec and metadata (creationTimestamp orders Gateways, ListenerSets and
 * policies) keeps a status write from invalidating every route's translation.
 */
function environmentKeyOf(obj: KubeObject): unknown[] {
  if (obj.kind !== 'Gateway' && obj.kind !== 'GatewayClass' && obj.kind !== 'ListenerSet' && obj.kind !== 'BackendTLSPolicy') return [obj];
  const { name, namespace, generation, labels, annotations, creationTimestamp } = obj.metadata ?? {};
  return [(obj as { spec?: unknown }).spec, JSON.stringify([name, namespace, generation, labels, annotations, creationTimestamp])];
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
    serviceParent: hasServiceParent(route),
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

/** One served hostname of a Gateway socket: the IR route lists placed there, and the virtual host built from them. */
interface HostAssembly {
  hostname: string;
  sources: Set<readonly IrRoute[]>;
  /** Built from the current sources; dropped when they change. */
  vhost?: IrVirtualHost;
  /** The clusters of the virtual host built last, as counted in the socket's clusterCounts. */
  counted?: { vhost: IrVirtualHost; clusters: readonly string[] };
}

/** One Gateway socket (listeners sharing a port share it). */
interface SocketAssembly {
  gateway: GatewayState;
  port: number;
  listenerHostnames: Set<string>;
  hosts: Map<string, HostAssembly>;
  /** HTTPS sockets: per listener hostname, the names of its certificates and its client certificate validation. */
  tls?: Map<string, Omit<IrTlsListener, 'hostname'>>;
  /** `hosts` in hostname order; dropped when one is added or removed. */
  sortedHosts?: HostAssembly[];
  /** How many of the socket's virtual hosts use each cluster (kept as virtual hosts are rebuilt and removed). */
  clusterCounts: Map<string, number>;
  /** The IR listener built last; dropped when anything on the socket changes. */
  built?: IrListener;
}

/**
 * Collects attached routes into one IR listener per Gateway port (listeners sharing a port share the
 * socket) and one virtual host per served hostname, and counts attachedRoutes per listener.
 *
 * With a TranslationMemo the assembly outlives a translation (as long as the Gateways do): every
 * translation attaches all its routes again, but only placements it has not seen before change the
 * virtual hosts, and build() detaches those no route brought back. So a one-route change rebuilds
 * the virtual hosts that route touches and nothing else, and unchanged listeners are the same
 * objects as last time.
 */
export class ListenerAssembly {
  private readonly byName = new Map<string, SocketAssembly>();
  private readonly certificates = new Map<string, IrSecret>();
  /** Every attached placement list, with the translation that last attached it. */
  private readonly attached = new Map<readonly RoutePlacement[], number>();
  private translation = 0;
  /** Whether this translation attached every route (so build() detaches those not attached again). */
  private fullPass = false;
  /** HTTPRoutes and GRPCRoutes counted per listener (added to attachedRoutes, which other route kinds add to too). */
  private readonly counts = new Map<ListenerState, number>();

  constructor(gateways: readonly GatewayState[]) {
    for (const gateway of gateways) {
      for (const l of listenersOf(gateway)) {
        // TLS passthrough and TCP sockets carry TLSRoutes and TCPRoutes, not virtual hosts (see tls-routes.ts, tcp-routes.ts).
        if (!l.programmed || l.protocol === 'TLS' || l.protocol === 'TCP' || l.protocol === 'UDP') continue;
        const name = listenerName(gateway, l.port);
        const target: SocketAssembly = this.byName.get(name) ?? { gateway, port: l.port, listenerHostnames: new Set<string>(), hosts: new Map(), tls: undefined, clusterCounts: new Map() };
        // Every listener hostname gets a virtual host, so a request always lands on its own listener's
        // routes (or a 404), never on a less specific listener's.
        const hostname = l.hostname ?? '*';
        target.listenerHostnames.add(hostname);
        if (!target.hosts.has(hostname)) target.hosts.set(hostname, { hostname, sources: new Set() });
        // Listeners sharing a port share a transport (else they conflict), so a socket is all HTTPS or all HTTP.
        if (l.protocol === 'HTTPS' && l.certificates) {
          target.tls ??= new Map();
          target.tls.set(hostname, { certificates: l.certificates.map((c) => c.secretName), ...(l.clientValidation ? { clientValidation: l.clientValidation } : {}) });
          for (const c of l.certificates) {
            this.certificates.set(c.secretName, { name: c.secretName, certificateChain: c.certificateChain, privateKey: c.privateKey });
          }
        }
        this.byName.set(name, target);
      }
    }
  }

  /** Starts a translation that attaches every route (again): build() detaches the rest. */
  begin(): void {
    this.translation++;
    this.fullPass = true;
    this.counts.clear();
  }

  /** Counts the route on its listeners and adds its IR routes to the virtual hosts it serves. */
  attach(work: RouteWork): void {
    for (const listener of work.countedOn) this.counts.set(listener, (this.counts.get(listener) ?? 0) + 1);
    const placements = work.placements;
    if (!placements || placements.length === 0) return;
    const known = this.attached.has(placements);
    this.attached.set(placements, this.translation);
    if (known) return;
    for (const { socket, hostname, routes } of placements) {
      const target = this.byName.get(socket);
      if (!target) continue;
      const host = target.hosts.get(hostname);
      if (host) {
        host.sources.add(routes);
        host.vhost = undefined;
      } else {
        target.hosts.set(hostname, { hostname, sources: new Set([routes]) });
        target.sortedHosts = undefined;
      }
      target.built = undefined;
    }
  }

  /**
   * A route edit without a full pass: the route's previous work (if it was attached) is uncounted
   * and its IR routes leave their virtual hosts, then the new work is attached. Work renewed for a
   * status change shares its placements with the previous work; those stay where they are.
   */
  replace(before: RouteWork | undefined, after: RouteWork): void {
    if (before === after) return;
    if (before && isAttached(before)) {
      for (const listener of before.countedOn) this.counts.set(listener, (this.counts.get(listener) ?? 0) - 1);
      if (before.placements && before.placements !== after.placements) this.detach(before.placements);
    }
    if (isAttached(after)) this.attach(after);
  }

  /** Adds the counted HTTPRoutes and GRPCRoutes to each listener's attachedRoutes (reset for every translation). */
  countAttachedRoutes(): void {
    for (const [listener, count] of this.counts) listener.attachedRoutes += count;
  }

  /** Removes the IR routes of placements no route of this full pass attached. */
  private detachStale(): void {
    if (!this.fullPass) return;
    this.fullPass = false;
    for (const [placements, translation] of this.attached) if (translation !== this.translation) this.detach(placements);
  }

  private detach(placements: readonly RoutePlacement[]): void {
    if (!this.attached.delete(placements)) return;
    for (const { socket, hostname, routes } of placements) {
      const target = this.byName.get(socket);
      const host = target?.hosts.get(hostname);
      if (!target || !host?.sources.delete(routes)) continue;
      host.vhost = undefined;
      target.built = undefined;
      if (host.sources.size === 0 && !target.listenerHostnames.has(hostname)) {
        target.hosts.delete(hostname);
        target.sortedHosts = undefined;
        countClusters(target, host.counted?.clusters, -1);
      }
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
        const backendClientCertificate = a.gateway.backendClientCertificate;
        const { routes } = translateFor({ port: listener.port, scheme: listener.protocol === 'HTTPS' ? 'https' : 'http', ...(backendClientCertificate ? { backendClientCertificate } : {}) });
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

  build(): IrListener[] {
    this.detachStale();
    return [...this.byName.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([name, target]) => (target.built ??= buildListener(name, target)));
  }

  /** The clusters the virtual hosts of the listeners build() returned forward and mirror to. */
  usedClusters(): string[] {
    const used: string[] = [];
    for (const target of this.byName.values()) for (const [cluster, count] of target.clusterCounts) if (count > 0) used.push(cluster);
    return used;
  }
}

/** Adds (or, with -1, removes) one virtual host's clusters to its socket's counts. */
function countClusters(target: SocketAssembly, clusters: readonly string[] | undefined, sign: 1 | -1): void {
  for (const cluster of clusters ?? []) {
    const count = (target.clusterCounts.get(cluster) ?? 0) + sign;
    if (count === 0) target.clusterCounts.delete(cluster);
    else target.clusterCounts.set(cluster, count);
  }
}

function buildListener(name: string, target: SocketAssembly): IrListener {
  const { gateway, port, hosts, tls } = target;
  target.sortedHosts ??= [...hosts.values()].sort((a, b) => compareStrings(a.hostname, b.hostname));
  return {
    ...gatewaySocket(name, gateway, port),
    ...(tls
      ? {
          tls: [...tls.entries()]
            .sort(([a], [b]) => compareStrings(a, b))
            .map(([hostname, chain]) => ({ hostname, ...chain })),
        }
      : {}),
    virtualHosts: target.sortedHosts.map((host) => {
      const vhost = (host.vhost ??= { name: `${name}/${host.hostname}`, hostname: host.hostname, routes: mergeRoutes(host.sources) });
      if (host.counted?.vhost !== vhost) {
        countClusters(target, host.counted?.clusters, -1);
        host.counted = { vhost, clusters: clustersOf(vhost) };
        countClusters(target, host.counted.clusters, 1);
      }
      return vhost;
    }),
  };
}

/** The IR routes placed on one virtual host, each once (by name), in precedence order. */
function mergeRoutes(sources: ReadonlySet<readonly IrRoute[]>): IrRoute[] {
  if (sources.size === 1) return [...[...sources][0]].sort(compareRoutePrecedence);
  const byName = new Map<string, IrRoute>();
  for (const routes of sources) for (const r of routes) if (!byName.has(r.name)) byName.set(r.name, r);
  return [...byName.values()].sort(compareRoutePrecedence);
}

function listenerName(gateway: GatewayState, port: number): string {
  return `${gateway.namespace}/${gateway.name}/${port}`;
}
