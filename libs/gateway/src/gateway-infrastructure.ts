import { createHash } from 'node:crypto';
import type { Gateway, Service, ServicePort } from './kube-types';
import { GATEWAY_API_GROUP } from './kube-types';
import { compareStrings, nameOf, namespaceOf } from './resource-index';
import type { StatusUpdate } from './status';

/**
 * The objects tendril creates for each Gateway it programs, as Cilium's operator creates a
 * `cilium-gateway-<name>` Service: one headless Service per Gateway in its namespace, with the
 * Gateway's listener ports, owned by the Gateway.
 * It carries the `gateway.networking.k8s.io/gateway-name` label and the Gateway's
 * spec.infrastructure labels and annotations (GatewayInfrastructurePropagation). Pure.
 */

export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** Service names are DNS-1035 labels: at most 63 characters. */
const MAX_SERVICE_NAME = 63;
const SERVICE_PREFIX = 'tendril-gateway-';

/** The Service name of a Gateway; a long Gateway name is cut and made unique again with a hash of the whole. */
export function gatewayServiceName(gatewayName: string): string {
  const name = `${SERVICE_PREFIX}${gatewayName}`;
  if (name.length <= MAX_SERVICE_NAME) return name;
  const hash = createHash('sha256').update(gatewayName).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_SERVICE_NAME - hash.length - 1).replace(/[-.]+$/, '')}-${hash}`;
}

/**
 * The Services of the Gateways whose status this controller wrote (`statuses`: the translation's),
 * read from `gateways` (the store's objects) for their listeners and infrastructure metadata.
 */
export function gatewayInfrastructure(gateways: readonly Gateway[], statuses: readonly StatusUpdate[]): Service[] {
  const byKey = new Map(gateways.map((g) => [`${namespaceOf(g)}/${nameOf(g)}`, g]));
  const services: Service[] = [];
  for (const update of statuses) {
    if (update.kind !== 'Gateway') continue;
    const gateway = byKey.get(`${update.namespace ?? 'default'}/${update.name}`);
    if (!gateway) continue;
    services.push(gatewayService(gateway));
  }
  return services.sort((a, b) => compareStrings(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`));
}

function gatewayService(gateway: Gateway): Service {
  const infrastructure = gateway.spec?.infrastructure;
  const ports = new Map<string, ServicePort>();
  for (const listener of gateway.spec?.listeners ?? []) {
    const protocol = listener.protocol === 'UDP' ? 'UDP' : 'TCP';
    const key = `${protocol}/${listener.port}`;
    if (!ports.has(key)) ports.set(key, { name: `${protocol.toLowerCase()}-${listener.port}`, port: listener.port, protocol });
  }
  const uid = gateway.metadata.uid;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: gatewayServiceName(nameOf(gateway)),
      namespace: namespaceOf(gateway),
      // The gateway-name label is the implementation's and wins over an infrastructure label of the same key.
      labels: { ...(infrastructure?.labels ?? {}), [GATEWAY_NAME_LABEL]: nameOf(gateway) },
      ...(infrastructure?.annotations && Object.keys(infrastructure.annotations).length > 0 ? { annotations: { ...infrastructure.annotations } } : {}),
      ...(uid ? { ownerReferences: [{ apiVersion: `${GATEWAY_API_GROUP}/v1`, kind: 'Gateway', name: nameOf(gateway), uid, controller: true }] } : {}),
    },
    // Headless: the Gateway is reached at its own addresses (status.addresses), so the node's
    // service load balancer must not give it a ClusterIP with no backends behind it.
    spec: { type: 'ClusterIP', clusterIP: 'None', ports: [...ports.values()].sort((a, b) => a.port - b.port || compareStrings(a.protocol ?? '', b.protocol ?? '')) },
  };
}
