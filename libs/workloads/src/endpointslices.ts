import type { EndpointSlice, Pod, Service, ServicePort } from '@tendril/api-k8s';

/** A pod as the EndpointSlice controller sees it: labels, IP, readiness and named ports. */
export interface PodEndpoint {
  pod: Pick<Pod, 'metadata' | 'spec'>;
  /** Empty while the pod has no IP yet (its network is being set up); such pods are not listed. */
  ip: string;
  ready: boolean;
}

function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** Resolves a Service port's targetPort (number, name of a container port, or unset) for one pod. */
function targetPortFor(port: ServicePort, pod: PodEndpoint['pod']): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const c of pod.spec?.containers ?? []) {
    const p = c.ports?.find((cp) => cp.name === target);
    if (p) return p.containerPort;
  }
  return undefined;
}

/**
 * The EndpointSlice controller, as a pure function: one slice per Service with a selector, listing
 * the selected pods of its namespace that have an IP, with their readiness, and the Service's ports resolved to
 * container ports. Pods that resolve a named port differently get separate slices, as upstream.
 */
export function endpointSlicesFor(services: Service[], pods: PodEndpoint[]): EndpointSlice[] {
  const slices: EndpointSlice[] = [];
  for (const svc of services) {
    const selector = svc.spec?.selector;
    if (!selector || svc.spec?.type === 'ExternalName') continue;
    const ns = svc.metadata.namespace ?? 'default';
    const selected = pods
      .filter((p) => p.ip !== '' && (p.pod.metadata.namespace ?? 'default') === ns && selects(selector, p.pod.metadata.labels))
      .sort((a, b) => (a.pod.metadata.name ?? '').localeCompare(b.pod.metadata.name ?? ''));
    const groups = new Map<string, { ports: EndpointSlice['ports']; pods: PodEndpoint[] }>();
    for (const p of selected) {
      const ports = (svc.spec?.ports ?? []).map((sp) => ({ name: sp.name ?? '', port: targetPortFor(sp, p.pod), protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) }));
      const key = JSON.stringify(ports);
      const g = groups.get(key) ?? { ports, pods: [] };
      g.pods.push(p);
      groups.set(key, g);
    }
    let i = 0;
    for (const g of groups.values()) {
      slices.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${svc.metadata.name}-${i++}`,
          namespace: ns,
          labels: { 'kubernetes.io/service-name': svc.metadata.name ?? '', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.tendril.io' },
        },
        addressType: 'IPv4',
        endpoints: g.pods.map((p) => ({
          addresses: [p.ip],
          conditions: { ready: p.ready, serving: p.ready, terminating: false },
          targetRef: { kind: 'Pod', namespace: ns, name: p.pod.metadata.name },
        })),
        ports: (g.ports ?? []).filter((p) => p.port !== undefined),
      });
    }
  }
  return slices;
}
