import type { KubeObject } from '@tendril/api-k8s';
import { startGrpcEchoServer, type GrpcEchoServer } from '@tendril/testing';
import { normaliseChecks } from '../src';
import { isGrpcCheck, isUnsupported, type GrpcCheck } from '../src/checks';
import { grpcAttempt, grpcPodSampler } from '../src/grpc-traffic';
import { isUnsupportedStatus, parseStatusChecks } from '../src/status-checks';
import { weightedDistribution } from '../src/traffic';

const INFRA = 'gateway-conformance-infra';
const ECHO = '/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';

describe('normaliseChecks: the GATEWAY-GRPC expectations of inventory.json', () => {
  it('reads {request: {rpc}, expect: {code, backend, namespace, fullyQualifiedMethodSeenByBackend}}', () => {
    const checks = normaliseChecks([
      { request: { rpc: 'Echo' }, expect: { code: 'OK', backend: 'grpc-infra-backend-v1', namespace: INFRA, fullyQualifiedMethodSeenByBackend: `${ECHO}/Echo` } },
      { request: { rpc: 'EchoThree' }, expect: { code: 'Unimplemented', note: 'no rule matches' } },
    ]);
    expect(checks).toEqual([
      { grpc: { method: 'Echo', metadata: {} }, expect: { code: 'OK', backend: 'grpc-infra-backend-v1', namespace: INFRA }, label: `gRPC <gateway>${ECHO}/Echo` },
      { grpc: { method: 'EchoThree', metadata: {} }, expect: { code: 'UNIMPLEMENTED' }, label: `gRPC <gateway>${ECHO}/EchoThree` },
    ]);
  });

  it('reads metadata and :authority checks whose bare expectation is a backend or a gRPC code', () => {
    const [byHeader, unimplemented, byAuthority] = normaliseChecks([
      { metadata: { Version: 'two', Color: 'orange' }, expect: 'grpc-infra-backend-v1' },
      { metadata: { Color: 'purple' }, expect: 'Unimplemented' },
      { authority: 'foo.bar.com', expect: 'grpc-infra-backend-v2' },
    ]) as GrpcCheck[];
    expect(byHeader).toMatchObject({ grpc: { method: 'Echo', metadata: { Version: 'two', Color: 'orange' } }, expect: { code: 'OK', backend: 'grpc-infra-backend-v1' } });
    expect(unimplemented.expect).toEqual({ code: 'UNIMPLEMENTED' });
    expect(byAuthority).toMatchObject({ grpc: { authority: 'foo.bar.com' }, expect: { code: 'OK', backend: 'grpc-infra-backend-v2' }, label: `gRPC foo.bar.com${ECHO}/Echo` });
  });

  it('reads the headers a Go test declares but upstream never compares (GRPCRouteRequestHeaderModifier), and does not compare them either', () => {
    const [declared] = normaliseChecks([{ rpc: 'Echo', metadata: { 'X-Header-Add': 'v' }, declaredExpectedHeaders: { 'X-Header-Add': ['v', 'add-appends-values'] }, expect: { backend: 'grpc-infra-backend-v1' } }]);
    expect(declared).toEqual({ grpc: { method: 'Echo', metadata: { 'X-Header-Add': 'v' } }, expect: { code: 'OK', backend: 'grpc-infra-backend-v1' }, label: `gRPC <gateway>${ECHO}/Echo [X-Header-Add: v]` });
  });

  it('leaves what it cannot run as asked unsupported: other RPCs, unknown codes and keys, a method that is not the one called', () => {
    const checks = normaliseChecks([
      { request: { rpc: 'EchoFour' }, expect: { code: 'OK' } },
      { request: { rpc: 'Echo' }, expect: { code: 'Sometimes' } },
      { rpc: 'Echo', metadata: { a: 'b' }, trailers: { a: 'b' }, expect: { backend: 'grpc-infra-backend-v1' } },
      { request: { rpc: 'Echo' }, expect: { fullyQualifiedMethodSeenByBackend: `${ECHO}/EchoTwo` } },
    ]);
    expect(checks.every(isUnsupported)).toBe(true);
    expect(checks.map((c) => (isUnsupported(c) ? c.unsupported.replace(/^.*: /, '') : ''))).toEqual([
      'rpc "EchoFour" is not a GrpcEcho method',
      'expect.code "Sometimes" is not a gRPC status code',
      'unknown keys trailers',
      `fullyQualifiedMethodSeenByBackend "${ECHO}/EchoTwo" is not the method called`,
    ]);
  });
});

describe('gRPC traffic: calls compared as upstream conformance/utils/grpc compares them', () => {
  let v1: GrpcEchoServer;
  let v2: GrpcEchoServer;
  const check = (raw: object): GrpcCheck => {
    const [c] = normaliseChecks([raw]);
    if (!isGrpcCheck(c)) throw new Error(`not a gRPC check: ${JSON.stringify(c)}`);
    return c;
  };
  const targetOf = (s: GrpcEchoServer) => ({ address: s.host, port: s.port });

  beforeAll(async () => {
    v1 = await startGrpcEchoServer({ context: { namespace: INFRA, pod: 'grpc-infra-backend-v1-7f9c4-abcde' } });
    v2 = await startGrpcEchoServer({ context: { namespace: INFRA, pod: 'grpc-infra-backend-v2-7f9c4-abcde' } });
  });
  afterAll(async () => {
    await Promise.all([v1.close(), v2.close()]);
  });

  it('passes when the code, the method the backend saw, its namespace and the pod prefix match', async () => {
    expect(await grpcAttempt(check({ request: { rpc: 'EchoTwo' }, expect: { code: 'OK', backend: 'grpc-infra-backend-v1', namespace: INFRA } }), targetOf(v1), 5_000)).toBeUndefined();
    expect(await grpcAttempt(check({ request: { rpc: 'EchoThree' }, expect: { code: 'Unimplemented' } }), targetOf(v1), 5_000)).toBeUndefined();
  });

  it('says what differs: another backend, another namespace, another code', async () => {
    expect(await grpcAttempt(check({ metadata: { version: 'one' }, expect: 'grpc-infra-backend-v1' }), targetOf(v2), 5_000)).toBe('answered by pod "grpc-infra-backend-v2-7f9c4-abcde", want grpc-infra-backend-v1-…');
    expect(await grpcAttempt(check({ request: { rpc: 'Echo' }, expect: { namespace: 'elsewhere' } }), targetOf(v1), 5_000)).toBe(`namespace "${INFRA}", want "elsewhere"`);
    expect(await grpcAttempt(check({ request: { rpc: 'EchoThree' }, expect: { code: 'OK' } }), targetOf(v1), 5_000)).toMatch(/^status UNIMPLEMENTED( \(.*\))?, want OK$/);
  });

  it('a Gateway that does not answer is UNAVAILABLE, not an exception', async () => {
    const closed = await startGrpcEchoServer();
    await closed.close();
    expect(await grpcAttempt(check({ request: { rpc: 'Echo' }, expect: { code: 'OK' } }), targetOf(closed), 5_000)).toMatch(/^status UNAVAILABLE/);
  });

  it('weighted calls: counts the answering pods per backend against the expected shares', async () => {
    const settings = { requests: 20, concurrency: 4, tolerance: 0.05, attempts: 2 };
    expect(await weightedDistribution(grpcPodSampler(targetOf(v1), 5_000), { 'grpc-infra-backend-v1': 1, 'grpc-infra-backend-v2': 0 }, settings)).toBeUndefined();
    expect(await weightedDistribution(grpcPodSampler(targetOf(v2), 5_000), { 'grpc-infra-backend-v1': 0.7, 'grpc-infra-backend-v2': 0.3 }, settings)).toBe(
      'traffic distribution after 2 rounds of 20 requests: grpc-infra-backend-v1 got 0.0%, want 70%; grpc-infra-backend-v2 got 100.0%, want 30%',
    );
  });
});

describe('status phrasings of the GATEWAY-GRPC tests', () => {
  const gateway: KubeObject = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: INFRA }, spec: { listeners: [{ name: 'l1' }, { name: 'l2' }] } };
  const grpcRoute = (name: string, sectionName: string): KubeObject => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name, namespace: INFRA }, spec: { parentRefs: [{ name: 'gw', sectionName }] } });

  it('"GRPCRoute Accepted=True (reason Accepted) on it": every GRPCRoute of the test, on its Gateway', () => {
    const parsed = parseStatusChecks(['Gateway gw address; GRPCRoute Accepted=True (reason Accepted) on it; all listeners ResolvedRefs/Accepted/Programmed=True (no explicit route ResolvedRefs check)'], [grpcRoute('r', 'l1')]);
    expect(parsed.filter(isUnsupportedStatus)).toEqual([]);
    expect(parsed).toEqual([
      expect.objectContaining({ gatewayAddress: { namespace: INFRA, name: 'gw' } }),
      expect.objectContaining({ route: { namespace: INFRA, name: 'r' }, routeKind: 'GRPCRoute', parent: { namespace: INFRA, name: 'gw' }, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted' }] }),
      expect.objectContaining({ listenersOf: { namespace: INFRA, name: 'gw' }, conditions: [{ type: 'ResolvedRefs', status: 'True' }, { type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }] }),
    ]);
  });

  it('"GRPCRoutes a, b Accepted=True on the gateway": the named routes; a name the test lacks is unsupported', () => {
    const objects = [gateway, grpcRoute('a', 'l1'), grpcRoute('b', 'l2')];
    const parsed = parseStatusChecks(['GRPCRoutes a, b Accepted=True on the gateway (sectionNames are not compared)'], objects);
    expect(parsed.map((p) => ('route' in p ? `${p.routeKind} ${p.route.name} on ${p.parent.name}` : p))).toEqual(['GRPCRoute a on gw', 'GRPCRoute b on gw']);
    expect(parseStatusChecks(['GRPCRoutes a, c Accepted=True on the gateway'], objects).every(isUnsupportedStatus)).toBe(true);
  });
});
