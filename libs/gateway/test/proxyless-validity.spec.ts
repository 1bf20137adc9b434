import { register as registerGrpcXds } from '@grpc/grpc-js-xds';
import { validateBootstrapConfig } from '@grpc/grpc-js-xds/build/src/xds-bootstrap';
import { ClusterResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type';
import { EndpointResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type';
import { ListenerResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type';
import { RouteConfigurationResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/route-config-resource-type';
import type { XdsDecodeContext, XdsResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/xds-resource-type';
import { packAny, TypeUrl } from '@tendril/api-envoy';
import { PROXYLESS_UNAVAILABLE_CLUSTER } from '../src';
import { goldenCases, runCase } from './golden';

// What a proxyless gRPC client (xds:///<host>) is sent must pass gRPC's own resource validation
// (a rejected RouteConfiguration fails every call of the channel), and every cluster its routes
// name must exist: gRPC waits 15 s for a cluster the server never sends before giving up on it.
jest.setTimeout(120_000);

// The router filter is known to gRPC's listener validation only once the xDS plugin is registered.
registerGrpcXds();
const bootstrap = validateBootstrapConfig({
  xds_servers: [{ server_uri: '127.0.0.1:1', channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
  node: { id: 'proxyless-validity', locality: {} },
});
const context: XdsDecodeContext = { server: bootstrap.xdsServers[0], bootstrap };

type Resource = Record<string, unknown> & { name?: string; cluster_name?: string };

function caseDir(name: string): string {
  const found = goldenCases().find((c) => c.name === name);
  if (!found) throw new Error(`golden case ${name} is missing`);
  return found.dir;
}

/** Encodes like the agent's snapshot does and decodes + validates like grpc-js-xds's XdsClient does. */
function grpcError(type: XdsResourceType, typeUrl: string, resource: Resource): string | undefined {
  const any = packAny(resource, typeUrl);
  return type.decode(context, { type_url: any.type_url, value: Buffer.from(any.value) }).error;
}

function routedClusters(routeConfig: Resource): string[] {
  const virtualHosts = (routeConfig['virtual_hosts'] ?? []) as Array<{ routes?: Array<{ route?: { cluster?: string; weighted_clusters?: { clusters: Array<{ name: string }> } } }> }>;
  return virtualHosts.flatMap((vh) =>
    (vh.routes ?? []).flatMap((r) => (r.route?.cluster !== undefined ? [r.route.cluster] : (r.route?.weighted_clusters?.clusters ?? []).map((c) => c.name))),
  );
}

describe('resources for proxyless gRPC clients pass grpc-js-xds validation', () => {
  it('offers gRPC clients the hostnames of the proxyless-grpc case, and nothing for ambiguous or wildcard ones', () => {
    const { envoy } = runCase(caseDir('proxyless-grpc'));
    const apiListeners = (envoy.listeners as Resource[]).filter((l) => l['api_listener'] !== undefined).map((l) => l.name);
    expect(apiListeners).toEqual(['api.example.com', 'grpc.example.com', 'web.example.com']);
  });

  it.each(goldenCases().map((c) => [c.name, c.dir]))('%s', (_name, dir) => {
    const { envoy } = runCase(dir);
    const routes = new Map((envoy.routes as Resource[]).map((r) => [String(r.name), r]));
    const clusters = new Map((envoy.clusters as Resource[]).map((c) => [String(c.name), c]));
    const endpoints = new Map((envoy.endpoints as Resource[]).map((e) => [String(e.cluster_name), e]));
    const problems: string[] = [];
    for (const listener of (envoy.listeners as Resource[]).filter((l) => l['api_listener'] !== undefined)) {
      const listenerError = grpcError(ListenerResourceType.get(), TypeUrl.Listener, listener);
      if (listenerError) problems.push(`Listener ${listener.name}: ${listenerError}`);
      const hcm = (listener['api_listener'] as { api_listener: { rds: { route_config_name: string } } }).api_listener;
      const routeConfig = routes.get(hcm.rds.route_config_name);
      if (!routeConfig) {
        problems.push(`Listener ${listener.name}: RouteConfiguration ${hcm.rds.route_config_name} is missing`);
        continue;
      }
      const routeError = grpcError(RouteConfigurationResourceType.get(), TypeUrl.RouteConfiguration, routeConfig);
      if (routeError) problems.push(`RouteConfiguration ${routeConfig.name}: ${routeError}`);
      for (const name of new Set(routedClusters(routeConfig))) {
        const cluster = clusters.get(name);
        const assignment = endpoints.get(name);
        if (!cluster || !assignment) {
          problems.push(`RouteConfiguration ${routeConfig.name} routes to cluster ${name}, which is not served`);
          continue;
        }
        const clusterError = grpcError(ClusterResourceType.get(), TypeUrl.Cluster, cluster);
        if (clusterError) problems.push(`Cluster ${name}: ${clusterError}`);
        const endpointError = grpcError(EndpointResourceType.get(), TypeUrl.ClusterLoadAssignment, assignment);
        if (endpointError) problems.push(`ClusterLoadAssignment ${name}: ${endpointError}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('sends calls that must fail to a served cluster without endpoints', () => {
    const { envoy } = runCase(caseDir('invalid-backends'));
    expect((envoy.clusters as Resource[]).map((c) => c.name)).toContain(PROXYLESS_UNAVAILABLE_CLUSTER);
    expect((envoy.endpoints as Resource[]).find((e) => e.cluster_name === PROXYLESS_UNAVAILABLE_CLUSTER)).toEqual({
      cluster_name: PROXYLESS_UNAVAILABLE_CLUSTER,
      endpoints: [],
    });
  });
});
