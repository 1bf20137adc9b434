import type { BackendResolver } from './backends';
import { cond, stampConditions, type ConditionDraft } from './conditions';
import type { IrMeshFrontend, IrMeshListener, IrRoute, IrRouteKind } from './ir';
import type { GRPCRoute, HTTPRoute, ParentReference, RouteParentStatus, Service, ServicePort } from './kube-types';
import { compareStrings, generationOf, nameOf, namespaceOf, type ResourceIndex } from './resource-index';
import { translateGrpcRoute, translateHttpRoute, unsupportedValue, type RouteTranslation } from './route-ir';
import { compareRoutePrecedence } from './route-order';

/**
 * East-west routing as GAMMA (Gateway API for mesh) defines it: an HTTPRoute or GRPCRoute whose
 * parentRef is a Service (group "", kind Service) applies to the traffic pods send to that
 * Service. The node proxy serves it on one transparent listener; each Service frontend
 * (ClusterIP:port) is a filter chain chosen by the connection's original destination, with the
 * routes of every route attached to that port.
 *
 * Producer and consumer routes (GEP-1426): a route in the Service's own namespace is the producer's
 * and applies to every client; a route in another namespace is that namespace's consumer route and
 * applies only to clients in that namespace, instead of the producer routes. Consumer chains match
 * the client's address too, so they need the addresses of the namespace's pods; without them a
 * consumer route is accepted but serves nobody. A frontend with consumer routes and no producer
 * route still gets a producer chain: other clients reach the Service as if it had no routes.
 */

export interface MeshOptions {
  /** ClusterIP per Service (`namespace/name`) for Services whose spec does not name one (the datapath allocates them). */
  serviceClusterIps?: Readonly<Record<string, string>>;
  /** Pod addresses per namespace: the clients consumer routes apply to. */
  namespaceAddresses?: Readonly<Record<string, readonly string[]>>;
  /**
   * Where the node proxy's mesh listener binds, and the datapath's pin directory (empty or absent:
   * the default) it reads identities and policy from; without it no mesh listener is rendered
   * (statuses are still written).
   */
  listener?: { address: string; port: number; bpfRoot?: string };
}

export interface MeshTranslation {
  listener?: IrMeshListener;
  /** Clusters the mesh routes forward or mirror to. */
  clusters: Set<string>;
  /** Our status entries for the Service parentRefs of each route (by `<kind>/<namespace>/<name>`), with the route. */
  parents: Map<string, { kind: IrRouteKind; route: HTTPRoute | GRPCRoute; parents: RouteParentStatus[] }>;
}

export const MESH_LISTENER_NAME = 'tendril-mesh';

interface FrontendRoutes {
  service: Service;
  servicePort: ServicePort;
  vip: string;
  producer: IrRoute[][];
  consumers: Map<string, IrRoute[][]>;
}

export function isServiceParentRef(ref: ParentReference): boolean {
  return (ref.group ?? 'gateway.networking.k8s.io') === '' && (ref.kind ?? 'Gateway') === 'Service';
}

/** Whether a route has a parentRef to a Service: a mesh route. */
export function hasServiceParent(route: HTTPRoute | GRPCRoute): boolean {
  return route.spec?.parentRefs?.some(isServiceParentRef) === true;
}

export function routeKey(kind: IrRouteKind, route: HTTPRoute | GRPCRoute): string {
  return `${kind}/${namespaceOf(route)}/${nameOf(route)}`;
}

/** The ClusterIP the Service is reached at: its own spec.clusterIP, else the one allocated for it. */
function clusterIpOf(service: Service, options: MeshOptions): string | undefined {
  const spec = service.spec ?? {};
  if (spec.type === 'ExternalName' || spec.clusterIP === 'None') return undefined;
  if (spec.clusterIP && /^\d+\.\d+\.\d+\.\d+$/.test(spec.clusterIP)) return spec.clusterIP;
  return options.serviceClusterIps?.[`${namespaceOf(service)}/${nameOf(service)}`];
}

/** The TCP ports of the Service a parentRef selects: by port number, by port name (sectionName), or all. */
function selectedPorts(service: Service, ref: ParentReference): ServicePort[] {
  return (service.spec?.ports ?? []).filter(
    (p) => (p.protocol ?? 'TCP') === 'TCP' && (ref.port === undefined || p.port === ref.port) && (ref.sectionName === undefined || p.name === ref.sectionName),
  );
}

/**
 * `routes` are the HTTPRoutes and GRPCRoutes with a Service parentRef (see hasServiceParent), in
 * index order: the translator knows them from its route pass without looking at every route again.
 */
export function translateMeshRoutes(
  index: ResourceIndex,
  routes: ReadonlyArray<{ kind: IrRouteKind; route: HTTPRoute | GRPCRoute }>,
  backends: BackendResolver,
  controllerName: string,
  now: string,
  options: MeshOptions,
): MeshTranslation {
  const frontends = new Map<string, FrontendRoutes>();
  const parents: MeshTranslation['parents'] = new Map();
  for (const { kind, route } of routes) {
    const refs = (route.spec?.parentRefs ?? []).filter(isServiceParentRef);
    if (refs.length === 0) continue;
    const routeNamespace = namespaceOf(route);
    const unsupported = unsupportedValue(kind, route);
    const translations = new Map<number, RouteTranslation>();
    const translateFor = (port: number): RouteTranslation => {
      let t = translations.get(port);
      if (!t) {
        t = kind === 'HTTPRoute' ? translateHttpRoute(route as HTTPRoute, { port, scheme: 'http' }, backends) : translateGrpcRoute(route as GRPCRoute, backends);
        translations.set(port, t);
      }
      return t;
    };
    const backendProblem = translateFor(0).backendProblem;
    const resolvedRefs = backendProblem
      ? cond('ResolvedRefs', false, backendProblem.reason, backendProblem.message)
      : cond('ResolvedRefs', true, 'ResolvedRefs', 'All references are resolved');
    const previous = route.status?.parents ?? [];
    const ours: RouteParentStatus[] = [];
    const seen = new Set<string>();
    for (const ref of refs) {
      const namespace = ref.namespace ?? routeNamespace;
      const parentRef: ParentReference = { group: '', kind: 'Service', namespace, name: ref.name ?? '' };
      if (ref.sectionName !== undefined) parentRef.sectionName = ref.sectionName;
      if (ref.port !== undefined) parentRef.port = ref.port;
      const dedupe = JSON.stringify(parentRef);
      if (seen.has(dedupe)) continue;
      seen.add(dedupe);
      const service = index.service(namespace, parentRef.name);
      let accepted: ConditionDraft;
      if (!service) {
        accepted = cond('Accepted', false, 'NoMatchingParent', `Service ${namespace}/${parentRef.name} does not exist`);
      } else if (unsupported) {
        accepted = cond('Accepted', false, 'UnsupportedValue', unsupported);
      } else {
        const vip = clusterIpOf(service, options);
        const ports = selectedPorts(service, ref);
        if (!vip) accepted = cond('Accepted', false, 'NoMatchingParent', `Service ${namespace}/${parentRef.name} has no ClusterIP`);
        else if (ports.length === 0) accepted = cond('Accepted', false, 'NoMatchingParent', `Service ${namespace}/${parentRef.name} has no TCP port matching the parentRef`);
        else {
          accepted = cond('Accepted', true, 'Accepted', 'Route is accepted');
          for (const servicePort of ports) {
            const key = `${namespace}/${parentRef.name}/${servicePort.port}`;
            const target: FrontendRoutes = frontends.get(key) ?? { service, servicePort, vip, producer: [], consumers: new Map<string, IrRoute[][]>() };
            frontends.set(key, target);
            const { routes } = translateFor(servicePort.port);
            if (routeNamespace === namespace) target.producer.push(routes);
            else target.consumers.set(routeNamespace, [...(target.consumers.get(routeNamespace) ?? []), routes]);
          }
        }
      }
      const before = previous.find((p) => p.controllerName === controllerName && JSON.stringify(normalisedRef(p.parentRef, routeNamespace)) === dedupe);
      ours.push({ parentRef, controllerName, conditions: stampConditions([accepted, resolvedRefs], before?.conditions, generationOf(route), now) });
    }
    parents.set(routeKey(kind, route), { kind, route, parents: ours });
  }

  const clusters = new Set<string>();
  const built: IrMeshFrontend[] = [];
  for (const [key, target] of [...frontends].sort(([a], [b]) => compareStrings(a, b))) {
    const service = { namespace: namespaceOf(target.service), name: nameOf(target.service), port: target.servicePort.port };
    const producerRoutes = target.producer.length > 0 ? mergeRoutes(target.producer) : [serviceItselfRoute(target, backends)];
    built.push(frontend(`mesh/${key}`, service, target.vip, producerRoutes));
    for (const [namespace, lists] of [...target.consumers].sort(([a], [b]) => compareStrings(a, b))) {
      const sources = [...(options.namespaceAddresses?.[namespace] ?? [])].sort(compareStrings);
      if (sources.length === 0) continue;
      built.push({ ...frontend(`mesh/${key}/consumer/${namespace}`, service, target.vip, mergeRoutes(lists)), consumer: { namespace, sources } });
    }
  }
  for (const f of built) {
    for (const vh of f.virtualHosts) {
      for (const r of vh.routes) {
        if (r.action.kind !== 'forward') continue;
        for (const s of r.action.backends) if (s.kind === 'cluster') clusters.add(s.cluster);
        for (const m of r.action.mirrors) clusters.add(m.cluster);
      }
    }
  }
  const listener =
    options.listener && built.length > 0 ? { name: MESH_LISTENER_NAME, address: options.listener.address, port: options.listener.port, bpfRoot: options.listener.bpfRoot ?? '', frontends: built } : undefined;
  return { listener, clusters, parents };
}

function frontend(name: string, service: IrMeshFrontend['service'], vip: string, routes: IrRoute[]): IrMeshFrontend {
  return { name, service, vip, virtualHosts: [{ name: `${name}/*`, hostname: '*', routes }] };
}

/** Every route of the lists once (by name), in precedence order. */
function mergeRoutes(lists: readonly IrRoute[][]): IrRoute[] {
  const byName = new Map<string, IrRoute>();
  for (const routes of lists) for (const r of routes) if (!byName.has(r.name)) byName.set(r.name, r);
  return [...byName.values()].sort(compareRoutePrecedence);
}

/** A frontend with only consumer routes: clients elsewhere reach the Service's own endpoints, as without routes. */
function serviceItselfRoute(target: FrontendRoutes, backends: BackendResolver): IrRoute {
  const namespace = namespaceOf(target.service);
  const name = nameOf(target.service);
  const resolved = backends.resolve({ kind: 'HTTPRoute', namespace }, { group: '', kind: 'Service', name, namespace, port: target.servicePort.port }, false);
  return {
    name: `Service/${namespace}/${name}/${target.servicePort.port}`,
    source: { kind: 'HTTPRoute', namespace, name, ruleIndex: 0, matchIndex: 0 },
    creationTimestamp: '',
    match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
    action:
      'cluster' in resolved
        ? { kind: 'forward', backends: [{ kind: 'cluster', cluster: resolved.cluster, weight: 1 }], mirrors: [] }
        : { kind: 'directResponse', status: 500, body: resolved.problem.message },
  };
}

function normalisedRef(ref: ParentReference | undefined, routeNamespace: string): ParentReference | undefined {
  if (!ref) return undefined;
  const out: ParentReference = { group: ref.group ?? 'gateway.networking.k8s.io', kind: ref.kind ?? 'Gateway', namespace: ref.namespace ?? routeNamespace, name: ref.name };
  if (ref.sectionName !== undefined) out.sectionName = ref.sectionName;
  if (ref.port !== undefined) out.port = ref.port;
  return out;
}
