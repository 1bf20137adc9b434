import type { L7Parser, ProxyPortAllocator, TrafficDirection } from '@tendril/policy';

/**
 * The node proxy's listener port per L7 parser and direction (policy-semantics §6.3: one ingress
 * and one egress listener per parser type, agent-allocated). Fixed numbers rather than allocated
 * ones, so that the proxy and the policy map agree across agent restarts without a handshake.
 */
export type ProxyPortTable = Readonly<Record<L7Parser, Readonly<Record<TrafficDirection, number>>>>;

export const DEFAULT_PROXY_PORTS: ProxyPortTable = {
  http: { ingress: 15001, egress: 15002 },
  kafka: { ingress: 15003, egress: 15004 },
  dns: { ingress: 15005, egress: 15006 },
};

export function fixedProxyPorts(ports: ProxyPortTable = DEFAULT_PROXY_PORTS): ProxyPortAllocator {
  return (parser, direction) => ports[parser][direction];
}

/**
 * The node proxy's mesh listener: where pods' connections to Services with mesh routes (GAMMA) go,
 * with their original destination, the Service's ClusterIP:port.
 */
export const DEFAULT_MESH_PROXY_PORT = 15008;
