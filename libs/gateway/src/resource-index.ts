import type {
  EndpointSlice,
  GatewayClass,
  Gateway,
  GRPCRoute,
  HTTPRoute,
  KubeObject,
  ReferenceGrant,
  Secret,
  Service,
} from './kube-types';

/** The label every Namespace carries with its own name (synthesised when the Namespace object is absent). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

const key = (namespace: string, name: string): string => `${namespace}/${name}`;

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
  readonly referenceGrants: ReferenceGrant[] = [];
  private readonly namespaceLabels = new Map<string, Record<string, string>>();
  private readonly services = new Map<string, Service>();
  private readonly secrets = new Map<string, Secret>();
  private readonly endpointSlicesByService = new Map<string, EndpointSlice[]>();

  constructor(resources: readonly KubeObject[]) {
    for (const obj of resources) {
      if (!obj || typeof obj !== 'object' || !obj.metadata?.name) continue;
      const group = (obj.apiVersion ?? '').split('/').length > 1 ? (obj.apiVersion ?? '').split('/')[0] : '';
      switch (`${group}/${obj.kind}`) {
        case '/Namespace':
          this.namespaceLabels.set(nameOf(obj), obj.metadata.labels ?? {});
          break;
        case '/Service':
          this.services.set(key(namespaceOf(obj), nameOf(obj)), obj as Service);
          break;
        case '/Secret':
          this.secrets.set(key(namespaceOf(obj), nameOf(obj)), obj as Secret);
          break;
        case 'discovery.k8s.io/EndpointSlice': {
          const service = obj.metadata.labels?.[SERVICE_NAME_LABEL];
          if (!service) break;
          const k = key(namespaceOf(obj), service);
          this.endpointSlicesByService.set(k, [...(this.endpointSlicesByService.get(k) ?? []), obj as EndpointSlice]);
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
        case 'gateway.networking.k8s.io/ReferenceGrant':
          this.referenceGrants.push(obj as ReferenceGrant);
          break;
        default:
          break;
      }
    }
    const byName = (a: KubeObject, b: KubeObject): number =>
      compareStrings(key(namespaceOf(a), nameOf(a)), key(namespaceOf(b), nameOf(b)));
    for (const list of [this.gatewayClasses, this.gateways, this.httpRoutes, this.grpcRoutes, this.referenceGrants]) {
      list.sort(byName);
    }
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

  endpointSlicesFor(namespace: string, service: string): EndpointSlice[] {
    return [...(this.endpointSlicesByService.get(key(namespace, service)) ?? [])].sort((a, b) =>
      compareStrings(nameOf(a), nameOf(b)),
    );
  }
}

/** Locale-independent string ordering, so output order never depends on the machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
