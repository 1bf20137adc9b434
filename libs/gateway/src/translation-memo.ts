import type { BackendResolver } from './backends';
import { listenersOf, type GatewayClassState, type GatewayState, type ListenerState } from './gateways';
import type { IrRoute } from './ir';
import type { HTTPRoute, KubeObject } from './kube-types';
import type { ResourceIndex } from './resource-index';
import type { ParentAttachment } from './route-attachment';
import type { RouteTranslation } from './route-ir';
import { hasStatusOf, type StatusUpdate } from './status';
import type { ListenerAssembly } from './translate';

/** Where one route's IR routes land: a virtual host of a Gateway socket, through a listener. */
export interface RoutePlacement {
  /** The IR listener (Gateway socket) name. */
  socket: string;
  hostname: string;
  routes: readonly IrRoute[];
}

/** Everything translation derived from one route object, valid while the route and its environment stay the same. */
export interface RouteWork {
  /** The route object the work (and its status) was done for. */
  route: KubeObject;
  attachments: ParentAttachment[];
  /** The listeners whose attachedRoutes count this route. */
  countedOn: ListenerState[];
  /** Attached to none of our Gateways and never had our status: nothing to do. */
  ignored: boolean;
  /** Has a parentRef to a Service: a mesh route (see mesh-routes.ts). */
  serviceParent: boolean;
  unsupported?: string;
  base?: RouteTranslation;
  perContext: Map<string, RouteTranslation>;
  placements?: RoutePlacement[];
  status?: StatusUpdate;
  /** JSON text of status.status, once compared with a route's new status. */
  statusJson?: string;
}

/** What every route's translation depends on besides the route itself. */
export interface TranslationEnvironment {
  classes: GatewayClassState[];
  gateways: GatewayState[];
  gatewaysByKey: Map<string, GatewayState>;
  backends: BackendResolver;
}

/**
 * Memory kept between calls of translate(), so that a change to one route re-translates that route
 * and nothing else. Translation stays a pure function of its input: the memo only lets unchanged
 * inputs (the same frozen objects, as a store hands them out) reuse the objects computed for them
 * last time, and everything downstream (rendering, xDS encoding) can then recognise unchanged
 * output by identity instead of by content.
 *
 * The environment of a route is every non-route object translation reads (GatewayClasses,
 * Gateways, Namespaces, Services, EndpointSlices, Secrets, ReferenceGrants) plus the options; when
 * any of them is a different object than last time, every route is translated afresh.
 *
 * One memo serves one caller's stream of translations; results share objects with earlier results,
 * so they must be treated as immutable.
 */
export class TranslationMemo {
  /** @internal */ environmentKey: readonly unknown[] = [];
  /** @internal */ environment: TranslationEnvironment | undefined;
  /**
   * @internal By the route's spec object. A store hands out the same frozen spec while the spec is
   * unchanged, also when it writes a new status (which makes a new route object): then the work is
   * kept and only the status is computed again. A deleted route is forgotten with its spec.
   */
  routes = new WeakMap<object, RouteWork>();
  /** @internal The virtual hosts and listeners of the last translation, kept with the environment. */
  assembly: ListenerAssembly | undefined;
  /**
   * @internal The work of every HTTPRoute and GRPCRoute of the last translation, in the order of
   * `index` (HTTPRoutes, then GRPCRoutes): a route edit replaces its entry instead of visiting all.
   */
  routePass: { index: ResourceIndex; works: RouteWork[] } | undefined;
  /** @internal The last input and its index, which a route edit patches (see translate.ts). */
  lastIndex: { resources: readonly KubeObject[]; index: ResourceIndex } | undefined;

  /** @internal Returns the previous environment when nothing it was built from changed. */
  reuseEnvironment(key: readonly unknown[]): TranslationEnvironment | undefined {
    const same = this.environment !== undefined && key.length === this.environmentKey.length && key.every((v, i) => v === this.environmentKey[i]);
    if (same && this.environment) {
      for (const g of this.environment.gateways) for (const l of listenersOf(g)) l.attachedRoutes = 0;
      return this.environment;
    }
    this.routes = new WeakMap();
    this.assembly = undefined;
    this.routePass = undefined;
    return undefined;
  }

  /** @internal */
  setEnvironment(key: readonly unknown[], environment: TranslationEnvironment): void {
    this.environmentKey = key;
    this.environment = environment;
  }

  /**
   * @internal The work done last time for this route's spec, in the current environment (and kept
   * for the next time: a new object with the same spec gets a copy whose status is to be redone).
   */
  routeWork(route: KubeObject, controllerName: string): RouteWork | undefined {
    const spec = (route as { spec?: unknown }).spec;
    const work = typeof spec === 'object' && spec !== null ? this.routes.get(spec) : undefined;
    if (!work || work.route === route) return work;
    if (!sameIdentity(work.route, route)) return undefined;
    // Same spec, new object: its status (or other metadata) changed. Status feeds only the route's own
    // status, which is redone, unless the new status is the one computed last time (written back, as
    // the agent does): computing it from itself gives it again, so the same update object is kept.
    const status = work.status !== undefined && JSON.stringify((route as HTTPRoute).status) === (work.statusJson ??= JSON.stringify(work.status.status)) ? work.status : undefined;
    return this.renew(work, route, status, controllerName);
  }

  /**
   * The caller wrote `update`, the status a translation gave a route, back to that route, and
   * `route` is the object that now carries it: the next translation takes the route as it is,
   * without comparing its status with the one computed (which costs two JSON texts per route, and
   * a translation's statuses written back touch every route).
   */
  statusWritten(route: KubeObject, update: StatusUpdate, controllerName: string): void {
    const spec = (route as { spec?: unknown }).spec;
    const work = typeof spec === 'object' && spec !== null ? this.routes.get(spec) : undefined;
    if (!work || work.route === route || work.status !== update || !sameIdentity(work.route, route)) return;
    this.renew(work, route, update, controllerName);
  }

  private renew(work: RouteWork, route: KubeObject, status: StatusUpdate | undefined, controllerName: string): RouteWork {
    const renewed = { ...work, route, ignored: work.attachments.length === 0 && !hasStatusOf(route as HTTPRoute, controllerName), status, statusJson: status && work.statusJson };
    this.routes.set((route as { spec: object }).spec, renewed);
    return renewed;
  }

  /** @internal */
  keepRouteWork(route: KubeObject, work: RouteWork): void {
    const spec = (route as { spec?: unknown }).spec;
    if (typeof spec === 'object' && spec !== null) this.routes.set(spec, work);
  }
}

/** Name and creation time feed the IR (route names, precedence); anything else of metadata does not. */
function sameIdentity(a: KubeObject, b: KubeObject): boolean {
  const before = a.metadata;
  const now = b.metadata;
  return before?.name === now?.name && before?.namespace === now?.namespace && before?.creationTimestamp === now?.creationTimestamp && before?.generation === now?.generation;
}
