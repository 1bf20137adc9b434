import { httpConnectionManager } from './envoy-common';
import type { EnvoyFilterChain, EnvoyListener, EnvoyRouteConfiguration, EnvoyVirtualHost } from './envoy-types';
import type { IrMeshFrontend, IrMeshListener, IrVirtualHost } from './ir';

/**
 * The mesh listener as Envoy resources: a transparent OUTBOUND listener with the original_dst
 * listener filter, one filter chain per frontend matching the ClusterIP:port the client dialled
 * (and the client addresses of a consumer frontend, which make it more specific than the
 * producer's), each with an HTTP connection manager taking its own RouteConfiguration over RDS.
 * The tendril.bpf_metadata filter with is_l7lb makes it an L7 load balancer as Cilium's: the
 * client's identity is read from the ipcache, its egress policy is checked against the backend
 * each request goes to, and the upstream connection carries its identity to the backend's
 * ingress policy.
 */
export function renderMesh(
  mesh: IrMeshListener,
  renderVirtualHost: (vh: IrVirtualHost) => EnvoyVirtualHost,
): { listeners: EnvoyListener[]; routes: EnvoyRouteConfiguration[] } {
  const listener: EnvoyListener = {
    name: mesh.name,
    address: { socket_address: { address: mesh.address, port_value: mesh.port } },
    transparent: true,
    traffic_direction: 'OUTBOUND',
    listener_filters: [
      {
        name: 'envoy.filters.listener.original_dst',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' },
      },
      {
        name: 'tendril.bpf_metadata',
        typed_config: { '@type': 'type.googleapis.com/tendril.proxy.v1.BpfMetadata', is_ingress: false, is_l7lb: true, bpf_root: mesh.bpfRoot },
      },
    ],
    filter_chains: mesh.frontends.map(filterChain),
  };
  return {
    listeners: [listener],
    routes: mesh.frontends.map((f) => ({ name: f.name, virtual_hosts: f.virtualHosts.map(renderVirtualHost) })),
  };
}

function filterChain(frontend: IrMeshFrontend): EnvoyFilterChain {
  return {
    name: frontend.name,
    filter_chain_match: {
      prefix_ranges: [{ address_prefix: frontend.vip, prefix_len: 32 }],
      destination_port: frontend.service.port,
      ...(frontend.consumer ? { source_prefix_ranges: frontend.consumer.sources.map((address) => ({ address_prefix: address, prefix_len: 32 })) } : {}),
    },
    filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { ...httpConnectionManager(frontend.name, frontend.name, { websocket: true }), skip_xff_append: true } }],
  };
}
