import type { EndpointSlice, Service } from '@tendril/api-k8s';
import type { ServiceBackend, ServiceFrontend, ServiceProtocol } from '@tendril/datapath';

/** One ClusterIP frontend with its ready backends, and the Service it belongs to. */
export interface DesiredService {
  /** `namespace/name` of the Service. */
  readonly service: string;
  readonly portName: string;
  readonly frontend: ServiceFrontend;
  readonly backends: readonly ServiceBackend[];
  /** The node proxy's mesh listener port when the frontend has mesh routes (L7 load-balanced), else absent. */
  readonly l7ProxyPort?: number;
}

export function frontendKey(f: ServiceFrontend): string {
  return `${f.vip}:${f.port}/${f.protocol}`;
}

export function serviceKey(svc: Pick<Service, 'metadata'>): string {
  return `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
}

/** Services that get a ClusterIP: every type but ExternalName, unless headless (clusterIP: None). */
export function hasClusterIp(svc: Service): boolean {
  return svc.spec?.type !== 'ExternalName' && svc.spec?.clusterIP !== 'None';
}

/**
 * The socket load balancer's table, as kube-proxy / Cilium derive it: for each port of each Service
 * with a ClusterIP, the ready endpoints of its EndpointSlices (matched by port name) as backends.
 * SCTP ports are not balanced (the datapath translates TCP and UDP). Pure.
 */
export function desiredServices(services: readonly Service[], slices: readonly EndpointSlice[], clusterIps: ReadonlyMap<string, string>): DesiredService[] {
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const slice of slices) {
    const owner = slice.metadata.labels?.['kubernetes.io/service-name'];
    if (!owner || slice.addressType !== 'IPv4') continue;
    const key = `${slice.metadata.namespace ?? 'default'}/${owner}`;
    slicesByService.set(key, [...(slicesByService.get(key) ?? []), slice]);
  }
  const out: DesiredService[] = [];
  for (const svc of services) {
    const key = serviceKey(svc);
    const vip = clusterIps.get(key);
    if (!vip || !hasClusterIp(svc)) continue;
    for (const port of svc.spec?.ports ?? []) {
      const protocol = (port.protocol ?? 'TCP') as string;
      if (protocol !== 'TCP' && protocol !== 'UDP') continue;
      const portName = port.name ?? '';
      const backends = new Map<string, ServiceBackend>();
      for (const slice of slicesByService.get(key) ?? []) {
        const slicePort = (slice.ports ?? []).find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol);
        if (slicePort?.port === undefined) continue;
        for (const endpoint of slice.endpoints ?? []) {
          // An endpoint without conditions counts as ready (discovery.k8s.io/v1: nil means unknown → ready).
          if (endpoint.conditions?.ready === false) continue;
          for (const ip of endpoint.addresses ?? []) backends.set(`${ip}:${slicePort.port}`, { ip, port: slicePort.port });
        }
      }
      const sorted = [...backends.values()].sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }) || a.port - b.port);
      out.push({ service: key, portName, frontend: { vip, port: port.port, protocol: protocol as ServiceProtocol }, backends: sorted });
    }
  }
  return out.sort((a, b) => frontendKey(a.frontend).localeCompare(frontendKey(b.frontend)));
}
