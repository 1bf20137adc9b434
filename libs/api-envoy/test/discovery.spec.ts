import * as grpc from '@grpc/grpc-js';
import {
  TypeUrl,
  aggregatedDiscoveryServiceDefinition,
  discoveryCodecs,
  packAny,
  protoObjectToEnvoyJson,
  unpackAny,
} from '../src';
import type { RawDiscoveryRequest, RawDiscoveryResponse } from '../src';
import { clusterLoadAssignment, edsCluster } from './fixtures';

function only<T>(items: T[] | undefined): T {
  expect(items).toHaveLength(1);
  return (items as T[])[0];
}

describe('discoveryCodecs', () => {
  it('round-trips a DiscoveryResponse whose resources are packed Any', () => {
    const response: RawDiscoveryResponse = {
      version_info: '7',
      type_url: TypeUrl.Cluster,
      nonce: 'n-1',
      resources: [packAny({ '@type': TypeUrl.Cluster, ...edsCluster })],
      control_plane: { identifier: 'tendril-agent' },
    };
    const bytes = discoveryCodecs.DiscoveryResponse.encode(response);
    expect(Buffer.isBuffer(bytes)).toBe(true);
    const decoded = discoveryCodecs.DiscoveryResponse.decode(bytes);
    expect(decoded.version_info).toBe('7');
    expect(decoded.nonce).toBe('n-1');
    expect(decoded.control_plane).toEqual({ identifier: 'tendril-agent' });
    expect(decoded.resources).toHaveLength(1);
    expect(Buffer.isBuffer(decoded.resources?.[0].value)).toBe(true);
    expect(unpackAny(only(decoded.resources))).toEqual({ '@type': TypeUrl.Cluster, ...edsCluster });
  });

  it('decodes a NACK request with enums by name and leaves absent fields out', () => {
    const request: RawDiscoveryRequest = {
      node: {
        id: 'node-1',
        cluster: 'local',
        metadata: { fields: { role: { stringValue: 'proxy' } } },
      },
      type_url: TypeUrl.Listener,
      response_nonce: 'n-1',
      error_detail: { code: 3, message: 'bad listener' },
    };
    const decoded = discoveryCodecs.DiscoveryRequest.decode(discoveryCodecs.DiscoveryRequest.encode(request));
    expect(decoded).toEqual(request);
    expect(decoded.resource_names).toBeUndefined();
    expect(protoObjectToEnvoyJson('envoy.config.core.v3.Node', decoded.node ?? {})).toEqual({ id: 'node-1', cluster: 'local', metadata: { role: 'proxy' } });
  });

  it('round-trips delta messages', () => {
    const resource = packAny({ '@type': TypeUrl.ClusterLoadAssignment, ...clusterLoadAssignment });
    const response = discoveryCodecs.DeltaDiscoveryResponse.decode(
      discoveryCodecs.DeltaDiscoveryResponse.encode({
        system_version_info: 'v2',
        type_url: TypeUrl.ClusterLoadAssignment,
        nonce: 'd-1',
        resources: [{ name: clusterLoadAssignment.cluster_name, version: 'abc', resource }],
        removed_resources: ['gone'],
      }),
    );
    expect(response.removed_resources).toEqual(['gone']);
    expect(response.resources?.[0].name).toBe('default/api-v1/8080');
    expect(unpackAny(only(response.resources).resource ?? { type_url: '', value: new Uint8Array(0) })).toEqual({ '@type': TypeUrl.ClusterLoadAssignment, ...clusterLoadAssignment });
    const request = discoveryCodecs.DeltaDiscoveryRequest.decode(
      discoveryCodecs.DeltaDiscoveryRequest.encode({
        type_url: TypeUrl.ClusterLoadAssignment,
        resource_names_subscribe: ['a', 'b'],
        initial_resource_versions: { a: '1' },
      }),
    );
    expect(request).toEqual({ type_url: TypeUrl.ClusterLoadAssignment, resource_names_subscribe: ['a', 'b'], initial_resource_versions: { a: '1' } });
  });
});

describe('aggregatedDiscoveryServiceDefinition over a real gRPC connection', () => {
  let server: grpc.Server;
  let client: grpc.Client & { StreamAggregatedResources(): grpc.ClientDuplexStream<RawDiscoveryRequest, RawDiscoveryResponse> };

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(aggregatedDiscoveryServiceDefinition, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<RawDiscoveryRequest, RawDiscoveryResponse>) => {
        call.on('data', (request: RawDiscoveryRequest) => {
          call.write({
            version_info: '1',
            type_url: request.type_url,
            nonce: `for-${request.node?.id}`,
            resources: [packAny({ '@type': TypeUrl.Cluster, ...edsCluster })],
          });
        });
        call.on('end', () => call.end());
      },
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.end(),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    const Client = grpc.makeGenericClientConstructor(aggregatedDiscoveryServiceDefinition, 'ADS');
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  it('carries a DiscoveryRequest and a DiscoveryResponse with a packed Cluster', async () => {
    const stream = client.StreamAggregatedResources();
    const response = await new Promise<RawDiscoveryResponse>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
      stream.write({ node: { id: 'proxy-1' }, type_url: TypeUrl.Cluster });
    });
    stream.end();
    expect(response.nonce).toBe('for-proxy-1');
    expect(response.type_url).toBe(TypeUrl.Cluster);
    expect(unpackAny(only(response.resources))).toEqual({ '@type': TypeUrl.Cluster, ...edsCluster });
  });
});
