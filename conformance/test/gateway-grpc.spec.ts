import { SUPPORTED_GATEWAY_GRPC_TESTS } from '../src';
import { grpcEchoCall } from '../src/grpc-traffic';
import { describeProfileTests } from './profile-suite';

/**
 * Every value the gRPC echo saw per (lower-case) metadata key, pseudo-headers left out. A value the
 * proxy appended may arrive in the same header field, comma-joined (HTTP's list semantics; Envoy
 * sends a field of its own): split, so both read as the same list of values.
 */
function metadataSeen(headers: ReadonlyArray<{ key: string; value: string }> | undefined): Record<string, string[]> {
  const seen: Record<string, string[]> = {};
  for (const { key, value } of headers ?? []) if (!key.startsWith(':')) (seen[key] ??= []).push(...value.split(/\s*,\s*/));
  return seen;
}

/**
 * The upstream GATEWAY-GRPC tests of their own (the profile's Gateway* tests are GATEWAY-HTTP's,
 * run in gateway-http.spec.ts): GrpcEcho calls over plaintext HTTP/2 through the Gateway to the
 * grpc-infra-backend pods (`tendril echo` with GRPC_ECHO_SERVER), compared as upstream's
 * conformance/utils/grpc compares them, under the upstream consistency rules. One Jest test per
 * upstream test, with the upstream name.
 */
describeProfileTests('GATEWAY-GRPC', SUPPORTED_GATEWAY_GRPC_TESTS, (session) => {
  // Upstream's GRPCRouteRequestHeaderModifier only checks which backend answers; this checks the
  // metadata the backend sees, on the same route: EchoTwo's rule sets, adds and removes two
  // headers each, Echo's first rule (of three with the same match) sets X-Header-Set.
  it('GRPCRouteRequestHeaderModifier: the backend sees the metadata the route\'s RequestHeaderModifier filters set, add and remove', async () => {
    const seen = await session.withTestManifests('GRPCRouteRequestHeaderModifier', async (target) => {
      const call = async (method: 'Echo' | 'EchoTwo', metadata: Record<string, string>, backend: string): Promise<Record<string, string[]>> => {
        // The route reaches the proxy a little after its Gateway is Programmed: ask until the expected backend answers.
        const deadline = Date.now() + 30_000;
        for (;;) {
          const result = await grpcEchoCall(target, method, { metadata, timeoutMs: 5_000 });
          const pod = result.response?.assertions?.context?.pod ?? '';
          if (result.code === 'OK' && pod.startsWith(`${backend}-`)) return metadataSeen(result.response?.assertions?.headers);
          if (Date.now() > deadline) throw new Error(`${method} not answered by ${backend} within 30s: ${result.code} ${result.details} ${pod}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      return {
        echoTwo: await call('EchoTwo', { 'x-header-set-1': 'original-set-1', 'x-header-add-1': 'existing-add-1', 'x-header-remove-1': 'should-be-removed-1', 'some-other-header': 'kept' }, 'grpc-infra-backend-v2'),
        echo: await call('Echo', { 'x-header-set': 'this-value-should-be-overwritten', 'x-header-remove': 'not-removed-by-the-first-rule' }, 'grpc-infra-backend-v1'),
      };
    });
    expect(seen.echoTwo).toMatchObject({
      'x-header-set-1': ['header-set-1'],
      'x-header-set-2': ['header-set-2'],
      'x-header-add-1': ['existing-add-1', 'header-add-1'],
      'x-header-add-2': ['header-add-2'],
      'some-other-header': ['kept'],
    });
    expect(seen.echoTwo).not.toHaveProperty('x-header-remove-1');
    // The first of the three Echo rules wins (rule order breaks the tie): its set applies, the later rules' remove does not.
    expect(seen.echo).toMatchObject({ 'x-header-set': ['set-overwrites-values'], 'x-header-remove': ['not-removed-by-the-first-rule'] });
  });
});
