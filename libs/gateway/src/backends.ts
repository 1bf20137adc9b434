import type { IrCluster, IrEndpoint, IrRouteKind } from './ir';
import { GATEWAY_API_GROUP, type BackendObjectReference, type Service, type ServicePort } from './kube-types';
import type { BackendClientCertificate } from './backend-client-certificate';
import { BackendTlsPolicies } from './backend-tls-policies';
import { INVALID_BACKEND_CLUSTER } from './envoy-render';
import { isReferenceAllowed } from './reference-grants';
import { compareStrings, type ResourceIndex } from './resource-index';

/** appProtocol values that mean "speak HTTP/2 without TLS" to the backend. */
const H2C_APP_PROTOCOLS = new Set(['kubernetes.io/h2c']);

export interface BackendProblem {
  reason: 'InvalidKind' | 'RefNotPermitted' | 'BackendNotFound';
  message: string;
}

export type BackendResolution = { cluster: string } | { problem: BackendProblem };

/**
 * Resolves backendRefs to clusters (one per Service port and upstream protocol) and remembers every
 * cluster it handed out, with its ready endpoints from the Service's EndpointSlices.
 */
export class BackendResolver {
  private readonly clusters: Map<string, IrCluster>;
  readonly backendTlsPolicies: BackendTlsPolicies;

  /** `shared`: the resolver whose clusters and BackendTLSPolicies this one hands out too (meshResolver). */
  constructor(
    private readonly index: ResourceIndex,
    private readonly referenceGrantsRequired = true,
    shared?: BackendResolver,
  ) {
    this.clusters = shared?.clusters ?? new Map<string, IrCluster>();
    this.backendTlsPolicies = shared?.backendTlsPolicies ?? new BackendTlsPolicies(index);
  }

  /**
   * The resolver for mesh (GAMMA) routes, sharing this one's clusters: a mesh route may send traffic
   * to backendRefs in any namespace without a ReferenceGrant (GEP-1426, "Namespace boundaries"),
   * because it only re-routes traffic its clients could already send and exposes nothing new; the
   * client's own network policy is checked against the backend the node proxy picks.
   */
  meshResolver(): BackendResolver {
    return new BackendResolver(this.index, false, this);
  }

  /**
   * `plaintextOnly`: the proxy relays bytes it does not terminate (TLS passthrough, TCP), so a
   * BackendTLSPolicy cannot apply; otherwise the policy targeting the Service port makes the
   * cluster originate TLS, and a policy without a usable CA leaves the backend unreachable
   * (INVALID_BACKEND_CLUSTER) rather than reached in the clear. `clientCertificate`: what the
   * route's Gateway presents when such a backend asks for one (a cluster of its own per certificate).
   */
  resolve(from: { kind: IrRouteKind; namespace: string }, ref: BackendObjectReference, forceHttp2: boolean, plaintextOnly = false, clientCertificate?: BackendClientCertificate): BackendResolution {
    const found = this.servicePortOf(from, ref, 'TCP');
    if ('problem' in found) return found;
    const { namespace, name, service, servicePort } = found;

    const nativeHttp2 = H2C_APP_PROTOCOLS.has(servicePort.appProtocol ?? '');
    const protocol = nativeHttp2 || forceHttp2 ? 'HTTP2' : 'HTTP1';
    const tlsEffect = plaintextOnly ? undefined : this.backendTlsPolicies.effectFor(namespace, name, servicePort.name);
    if (tlsEffect && 'failClosed' in tlsEffect) return { cluster: INVALID_BACKEND_CLUSTER };
    const presented = tlsEffect ? clientCertificate : undefined;
    const clusterName = `${namespace}/${name}/${servicePort.port}${protocol === 'HTTP2' && !nativeHttp2 ? '/h2c' : ''}${tlsEffect ? '/tls' : ''}${presented ? `/client/${presented.secretName}` : ''}`;
    if (!this.clusters.has(clusterName)) {
      this.clusters.set(clusterName, {
        name: clusterName,
        service: { namespace, name, port: servicePort.port },
        protocol,
        endpoints: this.readyEndpoints(namespace, service, servicePort, 'TCP'),
        ...(tlsEffect
          ? { tls: { ...tlsEffect.tls, ...(presented ? { clientCertificate: { certificateChain: presented.certificateChain, privateKey: presented.privateKey } } : {}) } }
          : {}),
      });
    }
    return { cluster: clusterName };
  }

  /**
   * A backendRef of a UDPRoute: the Service's UDP port, as a cluster of its own
   * (`<namespace>/<service>/<port>/udp`) whose endpoints are the EndpointSlices' UDP ports.
   */
  resolveUdp(from: { kind: IrRouteKind; namespace: string }, ref: BackendObjectReference): BackendResolution {
    const found = this.servicePortOf(from, ref, 'UDP');
    if ('problem' in found) return found;
    const { namespace, name, service, servicePort } = found;
    const clusterName = `${namespace}/${name}/${servicePort.port}/udp`;
    if (!this.clusters.has(clusterName)) {
      this.clusters.set(clusterName, {
        name: clusterName,
        service: { namespace, name, port: servicePort.port },
        protocol: 'UDP',
        endpoints: this.readyEndpoints(namespace, service, servicePort, 'UDP'),
      });
    }
    return { cluster: clusterName };
  }

  /** The Service port a backendRef names, with the given transport protocol, or why it cannot be used. */
  private servicePortOf(
    from: { kind: IrRouteKind; namespace: string },
    ref: BackendObjectReference,
    transport: 'TCP' | 'UDP',
  ): { namespace: string; name: string; service: Service; servicePort: ServicePort } | { problem: BackendProblem } {
    const group = ref.group ?? '';
    const kind = ref.kind ?? 'Service';
    const name = ref.name ?? '';
    const namespace = ref.namespace ?? from.namespace;
    if (group !== '' || kind !== 'Service') {
      return { problem: { reason: 'InvalidKind', message: `backendRef ${group ? `${group}/` : ''}${kind} ${name} is not a supported kind (only core Service)` } };
    }
    if (this.referenceGrantsRequired && !isReferenceAllowed(this.index, { group: GATEWAY_API_GROUP, kind: from.kind, namespace: from.namespace }, { group: '', kind: 'Service', namespace, name })) {
      return { problem: { reason: 'RefNotPermitted', message: `backendRef to Service ${namespace}/${name} is not permitted by any ReferenceGrant` } };
    }
    const service = this.index.service(namespace, name);
    if (!service) return { problem: { reason: 'BackendNotFound', message: `Service ${namespace}/${name} does not exist` } };
    if (ref.port === undefined) return { problem: { reason: 'BackendNotFound', message: `backendRef to Service ${namespace}/${name} has no port` } };
    const servicePort = (service.spec?.ports ?? []).find((p) => p.port === ref.port && (p.protocol ?? 'TCP') === transport);
    if (!servicePort) return { problem: { reason: 'BackendNotFound', message: `Service ${namespace}/${name} has no ${transport} port ${ref.port}` } };
    return { namespace, name, service, servicePort };
  }

  /** The clusters among those handed out whose names are in `used`, sorted by name. */
  clustersNamed(used: ReadonlySet<string>): IrCluster[] {
    return [...this.clusters.values()].filter((c) => used.has(c.name)).sort((a, b) => compareStrings(a.name, b.name));
  }

  /**
   * Ready endpoints of a Service port: EndpointSlice ports are tied to the Service port by name (the
   * unnamed port matches the unnamed slice port), which is how targetPort has already been resolved
   * by the EndpointSlice controller. Endpoints whose `ready` is unset count as ready, as in Kubernetes.
   */
  private readyEndpoints(namespace: string, service: Service, servicePort: ServicePort, transport: 'TCP' | 'UDP'): IrEndpoint[] {
    const wantedName = servicePort.name ?? '';
    const seen = new Map<string, IrEndpoint>();
    for (const slice of this.index.endpointSlicesFor(namespace, service.metadata?.name ?? '')) {
      if (slice.addressType && slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
      const slicePort = (slice.ports ?? []).find((p) => (p.name ?? '') === wantedName && (p.protocol ?? 'TCP') === transport);
      if (!slicePort) continue;
      // A slice port without a number means "the Service's target port"; only a numeric one can be used.
      const fallback = typeof servicePort.targetPort === 'number' ? servicePort.targetPort : servicePort.targetPort === undefined ? servicePort.port : undefined;
      const port = typeof slicePort.port === 'number' ? slicePort.port : fallback;
      if (typeof port !== 'number') continue;
      for (const endpoint of slice.endpoints ?? []) {
        if (endpoint.conditions?.ready === false) continue;
        for (const address of endpoint.addresses ?? []) seen.set(`${address}|${port}`, { address, port });
      }
    }
    return [...seen.values()].sort((a, b) => compareStrings(a.address, b.address) || a.port - b.port);
  }
}
