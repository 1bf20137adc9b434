import type {
  BackendTLSPolicy,
  ConfigMap,
  EndpointSlice,
  GatewayClass,
  Gateway,
  GRPCRoute,
  HTTPRoute,
  KubeObject,
  ListenerSet,
  ReferenceGrant,
  Secret,
  Service,
  TCPRoute,
  TLSRoute,
  UDPRoute,
} from './kube-types';

/** The label every Namespace carries with its own name (synthesised when the Namespace object is absent). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** `<group>/<kind>` of every kind the index keeps. */
const INDEXED_KINDS = new Set([
  '/Namespace',
  '/Service',
  '/Secret',
  '/ConfigMap',
  'discovery.k8s.io/EndpointSlice',
  'gateway.networking.k8s.io/GatewayClass',
  'gateway.networking.k8s.io/Gateway',
  'gateway.networking.k8s.io/HTTPRoute',
  'gateway.networking.k8s.io/GRPCRoute',
  'gateway.networking.k8s.io/TLSRoute',
  'gateway.networking.k8s.io/TCPRoute',
  'gateway.networking.k8s.io/UDPRoute',
  'gateway.networking.k8s.io/ReferenceGrant',
  'gateway.networking.k8s.io/ListenerSet',
  'gateway.networking.k8s.io/BackendTLSPolicy',
]);

/** `<group>/<kind>` of the kinds the index keeps in lookup maps; the others it keeps in lists. */
const MAPPED_KINDS = new Set(['/Namespace', '/Service', '/Secret', '/ConfigMap', 'discovery.k8s.io/EndpointSlice']);

/** `<group>/<kind>` of the kinds the index keeps in lists only: withReplaced() can patch them. */
const LISTED_KINDS = new Set([...INDEXED_KINDS].filter((groupKind) => !MAPPED_KINDS.has(groupKind)));

function groupKindOf(obj: KubeObject): string {
  const apiVersion = obj.apiVersion ?? '';
  const slash = apiVersion.indexOf('/');
  return `${slash >= 0 ? apiVersion.slice(0, slash) : ''}/${obj.kind}`;
}

/** Whether `after` is a new version of `before` that ResourceIndex.withReplaced can put in its place. */
export function isReplaceableVersion(before: KubeObject, after: KubeObject): boolean {
  if (typeof before !== 'object' || typeof after !== 'object' || before === null || after === null) return false;
  if (before.kind !== after.kind || before.apiVersion !== after.apiVersion || !before.metadata?.name) return false;
  if (before.metadata.name !== after.metadata?.name || before.metadata.namespace !== after.metadata?.namespace) return false;
  return LISTED_KINDS.has(groupKindOf(before));
}

/** Route kinds: the rest of the indexed kinds form the environment routes are translated in. */
const ROUTE_KINDS = new Set(['gateway.networking.k8s.io/HTTPRoute', 'gateway.networking.k8s.io/GRPCRoute', 'gateway.networking.k8s.io/TLSRoute', 'gateway.networking.k8s.io/TCPRoute', 'gateway.networking.k8s.io/UDPRoute']);

const key = (namespace: string, name: string): string => `${namespace}/${name}`;

/** Up to this many replaced routes are looked up one by one (indexOf); more take one pass over each list. */
export const FEW_REPLACEMENTS = 8;

export function namespaceOf(obj: KubeObject): string {
  return obj.metadata?.namespace ?? 'default';
}

export function nameOf(obj: KubeObject): string {
  return obj.metadata?.name ?? '';
}

export function generationOf(obj: KubeObject): number | undefined {
  return obj.metadata?.generation;
}

/**
 * Input resources indexed by kind for the lookups translation needs. Objects without a name are
 * skipped: they cannot be referenced and cannot receive status.
 */
export class ResourceIndex {
  readonly gatewayClasses: GatewayClass[] = [];
  readonly gateways: Gateway[] = [];
  readonly httpRoutes: HTTPRoute[] = [];
  readonly grpcRoutes: GRPCRoute[] = [];
  readonly tlsRoutes: TLSRoute[] = [];
  readonly tcpRoutes: TCPRoute[] = [];
  readonly udpRoutes: UDPRoute[] = [];
  readonly referenceGrants: ReferenceGrant[] = [];
  readonly listenerSets: ListenerSet[] = [];
  readonly backendTlsPolicies: BackendTLSPolicy[] = [];
  /** Every indexed object that is not a route, in input order: what all routes' translation depends on. */
  readonly environmentObjects: KubeObject[] = [];
  private readonly namespaceLabels = new Map<string, Record<string, string>>();
  private readonly services = new Map<string, Service>();
  private readonly secrets = new Map<string, Secret>();
  private readonly configMaps = new Map<string, ConfigMap>();
  private readonly endpointSlicesByService = new Map<string, EndpointSlice[]>();

  constructor(resources: readonly KubeObject[]) {
    for (const obj of resources) {
      if (!obj || typeof obj !== 'object' || !obj.metadata?.name) continue;
      const groupKind = groupKindOf(obj);
      if (!ROUTE_KINDS.has(groupKind) && INDEXED_KINDS.has(groupKind)) {
        this.environmentObjects.push(obj);
      }
      switch (groupKind) {
        case '/Namespace':
          this.namespaceLabels.set(nameOf(obj), obj.metadata.labels ?? {});
          break;
        case '/Service':
          this.services.set(key(namespaceOf(obj), nameOf(obj)), obj as Service);
          break;
        case '/Secret':
          this.secrets.set(key(namespaceOf(obj), nameOf(obj)), obj as Secret);
          break;
        case '/ConfigMap':
          this.configMaps.set(key(namespaceOf(obj), nameOf(obj)), obj as ConfigMap);
          break;
        case 'discovery.k8s.io/EndpointSlice': {
          const service = obj.metadata.labels?.[SERVICE_NAME_LABEL];
          if (!service) break;
          const k = key(namespaceOf(obj), service);
          const slices = this.endpointSlicesByService.get(k);
          if (slices) slices.push(obj as EndpointSlice);
          else this.endpointSlicesByService.set(k, [obj as EndpointSlice]);
          break;
        }
        case 'gateway.networking.k8s.io/GatewayClass':
          this.gatewayClasses.push(obj as GatewayClass);
          break;
        case 'gateway.networking.k8s.io/Gateway':
          this.gateways.push(obj as Gateway);
          break;
        case 'gateway.networking.k8s.io/HTTPRoute':
          this.httpRoutes.push(obj as HTTPRoute);
          break;
        case 'gateway.networking.k8s.io/GRPCRoute':
          this.grpcRoutes.push(obj as GRPCRoute);
          break;
        case 'gateway.networking.k8s.io/TLSRoute':
          this.tlsRoutes.push(obj as TLSRoute);
          break;
        case 'gateway.networking.k8s.io/TCPRoute':
          this.tcpRoutes.push(obj as TCPRoute);
          break;
        case 'gateway.networking.k8s.io/UDPRoute':
          this.udpRoutes.push(obj as UDPRoute);
          break;
        case 'gateway.networking.k8s.io/ReferenceGrant':
          this.referenceGrants.push(obj as ReferenceGrant);
          break;
        case 'gateway.networking.k8s.io/ListenerSet':
          this.listenerSets.push(obj as ListenerSet);
          break;
        case 'gateway.networking.k8s.io/BackendTLSPolicy':
          this.backendTlsPolicies.push(obj as BackendTLSPolicy);
          break;
        default:
          break;
      }
    }
    sortByNamespacedName(this.gatewayClasses);
    sortByNamespacedName(this.gateways);
    sortByNamespacedName(this.httpRoutes);
    sortByNamespacedName(this.grpcRoutes);
    sortByNamespacedName(this.tlsRoutes);
    sortByNamespacedName(this.tcpRoutes);
    sortByNamespacedName(this.udpRoutes);
    sortByNamespacedName(this.referenceGrants);
    sortByNamespacedName(this.listenerSets);
    sortByNamespacedName(this.backendTlsPolicies);
  }

  /**
   * This index with some objects replaced by new versions of themselves (same kind, namespace and
   * name, so every list keeps its order): a route edit, or statuses written back, re-index nothing
   * else. Only kinds the index keeps in lists can be replaced (see isListedKind); Services, Secrets,
   * ConfigMaps, EndpointSlices and Namespaces need a new index.
   */
  withReplaced(replacements: ReadonlyMap<KubeObject, KubeObject>): ResourceIndex {
    const patch = <T extends KubeObject>(list: T[]): T[] => {
      // A few edits: find each; many (statuses written back to every route): one pass over the list.
      if (replacements.size > FEW_REPLACEMENTS) return list.some((o) => replacements.has(o)) ? list.map((o) => (replacements.get(o) as T | undefined) ?? o) : list;
      let copy: T[] | undefined;
      for (const [before, after] of replacements) {
        const i = list.indexOf(before as T);
        if (i >= 0) (copy ??= [...list])[i] = after as T;
      }
      return copy ?? list;
    };
    const index: ResourceIndex = Object.create(ResourceIndex.prototype);
    return Object.assign(index, this, {
      gatewayClasses: patch(this.gatewayClasses),
      gateways: patch(this.gateways),
      httpRoutes: patch(this.httpRoutes),
      grpcRoutes: patch(this.grpcRoutes),
      tlsRoutes: patch(this.tlsRoutes),
      tcpRoutes: patch(this.tcpRoutes),
      udpRoutes: patch(this.udpRoutes),
      referenceGrants: patch(this.referenceGrants),
      listenerSets: patch(this.listenerSets),
      backendTlsPolicies: patch(this.backendTlsPolicies),
      environmentObjects: patch(this.environmentObjects),
    });
  }

  /** Namespace labels, always including the `kubernetes.io/metadata.name` label Kubernetes adds. */
  labelsOfNamespace(namespace: string): Record<string, string> {
    return { ...(this.namespaceLabels.get(namespace) ?? {}), [NAMESPACE_NAME_LABEL]: namespace };
  }

  service(namespace: string, name: string): Service | undefined {
    return this.services.get(key(namespace, name));
  }

  secret(namespace: string, name: string): Secret | undefined {
    return this.secrets.get(key(namespace, name));
  }

  configMap(namespace: string, name: string): ConfigMap | undefined {
    return this.configMaps.get(key(namespace, name));
  }

  endpointSlicesFor(namespace: string, service: string): EndpointSlice[] {
    return [...(this.endpointSlicesByService.get(key(namespace, service)) ?? [])].sort((a, b) =>
      compareStrings(nameOf(a), nameOf(b)),
    );
  }
}

/** Sorts in place by `<namespace>/<name>`, computing each key once (route lists run to tens of thousands). */
function sortByNamespacedName<T extends KubeObject>(list: T[]): void {
  const keyed = list.map((obj) => ({ obj, k: key(namespaceOf(obj), nameOf(obj)) }));
  keyed.sort((a, b) => compareStrings(a.k, b.k));
  keyed.forEach(({ obj }, i) => (list[i] = obj));
}

/** Locale-independent string ordering, so output order never depends on the machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
