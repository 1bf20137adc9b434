import { assertValidEnvoyResources, TypeUrl } from '@tendril/api-envoy';
import { goldenCases, runCase } from './golden';

// Every golden output must be something a stock Envoy accepts: it encodes to protobuf and passes
// protoc-gen-validate. Loading Envoy's proto tree takes a few seconds on first use.
jest.setTimeout(120_000);

describe('Envoy resources of every golden case encode and pass protoc-gen-validate', () => {
  it.each(goldenCases().map((c) => [c.name, c.dir]))('%s', (_name, dir) => {
    const { envoy } = runCase(dir);
    assertValidEnvoyResources(envoy.listeners, TypeUrl.Listener);
    assertValidEnvoyResources(envoy.routes, TypeUrl.RouteConfiguration);
    assertValidEnvoyResources(envoy.clusters, TypeUrl.Cluster);
    assertValidEnvoyResources(envoy.endpoints, TypeUrl.ClusterLoadAssignment);
    assertValidEnvoyResources(envoy.secrets, TypeUrl.Secret);
  });
});
