import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { assertValidEnvoyResources, TypeUrl } from '@tendril/api-envoy';
import type { Condition, KubeObject } from '@tendril/api-k8s';
import { parseAllDocuments } from 'yaml';
import { translate, type TranslateResult } from '../src';
import { CONTROLLER_NAME, NOW } from './golden';
import { simulate, type SimulatedRequest } from './ir-router';

/**
 * The Gateway API conformance suite's own manifests (read in place from the shared snapshot),
 * translated the way a cluster-less runner would feed them: placeholders replaced, the Secrets the
 * suite creates in code synthesised, and one loopback address per Gateway so none collide.
 */
// ../shared beside the repository, as on the developers' and CI machines.
const CONFORMANCE = resolve(__dirname, '../../../../shared/gateway-api/conformance');
const available = existsSync(join(CONFORMANCE, 'base/manifests.yaml'));
const INFRA = 'gateway-conformance-infra';

const PEM_SECRET_DATA = {
  'tls.crt': Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64'),
  'tls.key': Buffer.from('-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n').toString('base64'),
};

function load(file: string): KubeObject[] {
  const text = readFileSync(join(CONFORMANCE, file), 'utf8').replaceAll('{GATEWAY_CLASS_NAME}', 'tendril');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject)
    .filter((d) => d && typeof d === 'object');
}

function translateWith(testFile: string): TranslateResult {
  const resources: KubeObject[] = [
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'tendril', generation: 1 }, spec: { controllerName: CONTROLLER_NAME } },
    ...[
      [INFRA, 'tls-validity-checks-certificate'],
      ['gateway-conformance-web-backend', 'certificate'],
    ].map(([namespace, name]) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'kubernetes.io/tls', data: PEM_SECRET_DATA })),
    ...load('base/manifests.yaml'),
    ...load(testFile),
  ];
  const gateways = resources.filter((r) => r.kind === 'Gateway');
  const gatewayAddresses = Object.fromEntries(gateways.map((g, i) => [`${g.metadata.namespace}/${g.metadata.name}`, `127.0.10.${i + 1}`]));
  return translate({ resources, controllerName: CONTROLLER_NAME, now: NOW, options: { gatewayAddresses } });
}

function statusOf(result: TranslateResult, kind: string, namespace: string, name: string): Record<string, unknown> {
  const found = result.statuses.find((s) => s.kind === kind && s.namespace === namespace && s.name === name);
  if (!found) throw new Error(`no status for ${kind} ${namespace}/${name}`);
  return found.status;
}

function conditions(list: unknown): Record<string, Pick<Condition, 'status' | 'reason'>> {
  return Object.fromEntries((list as Condition[]).map((c) => [c.type, { status: c.status, reason: c.reason }]));
}

interface ListenerStatus {
  name: string;
  attachedRoutes: number;
  supportedKinds: Array<{ kind: string }>;
  conditions: Condition[];
}

function listener(result: TranslateResult, gateway: string, name: string): ListenerStatus {
  const listeners = statusOf(result, 'Gateway', INFRA, gateway).listeners as ListenerStatus[];
  const found = listeners.find((l) => l.name === name);
  if (!found) throw new Error(`Gateway ${gateway} has no listener ${name} in status`);
  return found;
}

function routeParent(result: TranslateResult, namespace: string, route: string, gateway: string): Record<string, Pick<Condition, 'status' | 'reason'>> {
  const parents = (statusOf(result, 'HTTPRoute', namespace, route).parents ?? []) as Array<{ parentRef: { name: string }; conditions: Condition[] }>;
  const found = parents.find((p) => p.parentRef.name === gateway);
  if (!found) throw new Error(`HTTPRoute ${namespace}/${route} has no parent status for ${gateway}`);
  return conditions(found.conditions);
}

interface InventoryTest {
  name: string;
  manifests: string[];
  checks: unknown[];
}

function inventoryTest(name: string): InventoryTest {
  const all = JSON.parse(readFileSync(join(CONFORMANCE, '../inventory.json'), 'utf8')) as InventoryTest[];
  const test = all.find((t) => t.name === name);
  if (!test) throw new Error(`conformance test ${name} not in inventory.json`);
  return test;
}

const inventory = (name: string): unknown[] => inventoryTest(name).checks;

/** A backend's Service name for 200s, else the status code, as inventory.json writes expectations. */
function outcome(o: ReturnType<typeof simulate>): string | number {
  return 'service' in o ? o.service : o.status;
}

const T = (status: 'True' | 'False', reason: string) => ({ status, reason });

(available ? describe : describe.skip)(`conformance manifests from ${CONFORMANCE}`, () => {
  it('GatewayWithAttachedRoutes: counts accepted routes only, also on an unresolved HTTPS listener', () => {
    const r = translateWith('tests/gateway-with-attached-routes.yaml');
    expect(listener(r, 'gateway-with-one-attached-route', 'http')).toMatchObject({ attachedRoutes: 1, supportedKinds: [{ kind: 'HTTPRoute' }] });
    expect(conditions(listener(r, 'gateway-with-one-attached-route', 'http').conditions)).toMatchObject({ Accepted: { status: 'True' }, ResolvedRefs: { status: 'True' } });
    expect(listener(r, 'gateway-with-two-attached-routes', 'http').attachedRoutes).toBe(2);
    expect(routeParent(r, INFRA, 'http-route-not-accepted', 'gateway-with-two-attached-routes').Accepted).toEqual(T('False', 'NoMatchingListenerHostname'));
    const tls = listener(r, 'unresolved-gateway-with-one-attached-unresolved-route', 'tls');
    expect(tls.attachedRoutes).toBe(1);
    expect(conditions(tls.conditions)).toMatchObject({ Programmed: { status: 'False' }, ResolvedRefs: T('False', 'InvalidCertificateRef') });
    expect(routeParent(r, INFRA, 'http-route-4', 'unresolved-gateway-with-one-attached-unresolved-route').ResolvedRefs.status).toBe('False');
  });

  it('GatewayInvalidRouteKind: supportedKinds keeps only known kinds, ResolvedRefs=False InvalidRouteKinds', () => {
    const r = translateWith('tests/gateway-invalid-route-kind.yaml');
    const only = listener(r, 'gateway-only-invalid-route-kind', 'http');
    expect(only).toMatchObject({ supportedKinds: [], attachedRoutes: 0 });
    expect(conditions(only.conditions).ResolvedRefs).toEqual(T('False', 'InvalidRouteKinds'));
    const mixed = listener(r, 'gateway-supported-and-invalid-route-kind', 'http');
    expect(mixed.supportedKinds.map((k) => k.kind)).toContain('HTTPRoute');
    expect(conditions(mixed.conditions).ResolvedRefs).toEqual(T('False', 'InvalidRouteKinds'));
  });

  it('GatewayListenerUnsupportedProtocol: Gateway Accepted reason ListenersNotValid, listener UnsupportedProtocol', () => {
    const r = translateWith('tests/gateway-invalid-listeners-unsupported-protocol.yaml');
    expect(conditions(statusOf(r, 'Gateway', INFRA, 'gateway-only-unsupported-protocols').conditions).Accepted).toEqual(T('False', 'ListenersNotValid'));
    expect(conditions(statusOf(r, 'Gateway', INFRA, 'gateway-supported-and-unsupported-protocols').conditions).Accepted).toEqual(T('True', 'ListenersNotValid'));
    expect(listener(r, 'gateway-supported-and-unsupported-protocols', 'invalid')).toMatchObject({ supportedKinds: [], attachedRoutes: 0 });
    expect(conditions(listener(r, 'gateway-supported-and-unsupported-protocols', 'invalid').conditions).Accepted).toEqual(T('False', 'UnsupportedProtocol'));
    expect(conditions(listener(r, 'gateway-supported-and-unsupported-protocols', 'http').conditions).Accepted).toEqual(T('True', 'Accepted'));
  });

  it('HTTPRouteHostnameIntersection: attachedRoutes per listener and NoMatchingListenerHostname', () => {
    const r = translateWith('tests/httproute-hostname-intersection.yaml');
    expect(['listener-1', 'listener-2', 'listener-3'].map((l) => listener(r, 'httproute-hostname-intersection', l).attachedRoutes)).toEqual([2, 1, 1]);
    expect(routeParent(r, INFRA, 'no-intersecting-hosts', 'httproute-hostname-intersection').Accepted).toEqual(T('False', 'NoMatchingListenerHostname'));
  });

  it.each([
    ['tests/httproute-invalid-cross-namespace-parent-ref.yaml', 'gateway-conformance-web-backend', 'invalid-cross-namespace-parent-ref', 'NotAllowedByListeners'],
    ['tests/httproute-invalid-parentref-not-matching-section-name.yaml', INFRA, 'httproute-listener-not-matching-section-name', 'NoMatchingParent'],
    ['tests/httproute-invalid-parentref-not-matching-listener-port.yaml', INFRA, 'httproute-listener-not-matching-route-port', 'NoMatchingParent'],
  ])('%s: route not accepted (%s/%s → %s), ResolvedRefs=True, nothing attached', (file, namespace, route, reason) => {
    const r = translateWith(file);
    expect(routeParent(r, namespace, route, 'same-namespace')).toEqual({ Accepted: T('False', reason), ResolvedRefs: T('True', 'ResolvedRefs') });
    expect(listener(r, 'same-namespace', 'http').attachedRoutes).toBe(0);
  });

  it.each([
    ['tests/httproute-partially-invalid-via-invalid-reference-grant.yaml', 'invalid-reference-grant', 'RefNotPermitted'],
    ['tests/httproute-invalid-backendref-unknown-kind.yaml', 'invalid-backend-ref-unknown-kind', 'InvalidKind'],
    ['tests/httproute-invalid-nonexistent-backendref.yaml', 'invalid-nonexistent-backend-ref', 'BackendNotFound'],
    ['tests/httproute-invalid-cross-namespace-backend-ref.yaml', 'invalid-cross-namespace-backend-ref', 'RefNotPermitted'],
    ['tests/httproute-reference-grant.yaml', 'reference-grant', 'ResolvedRefs'],
  ])('%s: route accepted with ResolvedRefs reason %s', (file, route, reason) => {
    const r = translateWith(file);
    expect(routeParent(r, INFRA, route, 'same-namespace')).toEqual({
      Accepted: T('True', 'Accepted'),
      ResolvedRefs: T(reason === 'ResolvedRefs' ? 'True' : 'False', reason),
    });
  });

  it.each([
    ['tests/gateway-secret-missing-reference-grant.yaml', 'gateway-secret-missing-reference-grant', T('False', 'RefNotPermitted')],
    ['tests/gateway-secret-reference-grant-specific.yaml', 'gateway-secret-reference-grant-specific', T('True', 'ResolvedRefs')],
  ])('%s: HTTPS listener certificateRef ResolvedRefs', (file, gateway, expected) => {
    const r = translateWith(file);
    expect(conditions(listener(r, gateway, 'https').conditions).ResolvedRefs).toEqual(expected);
  });

  it.each([
    ['http-listener-isolation', 'tests/gateway-http-listener-isolation.yaml'],
    ['http-listener-isolation-with-hostname-intersection', 'tests/gateway-http-listener-isolation-with-hostname-intersection.yaml'],
  ])('GatewayHTTPListenerIsolation (%s): only the most specific listener serves a host', (gateway, file) => {
    const r = translateWith(file);
    const check = inventory('GatewayHTTPListenerIsolation')[0] as { cases: Array<[string, string, string | number]> };
    for (const [host, path, expected] of check.cases) {
      expect([host, path, outcome(simulate(r.ir, `${INFRA}/${gateway}/80`, { host, path }))]).toEqual([host, path, expected]);
    }
  });

  it('HTTPRouteHostnameIntersection: traffic follows the intersected hostnames', () => {
    const r = translateWith('tests/httproute-hostname-intersection.yaml');
    const groups = inventory('HTTPRouteHostnameIntersection') as Array<{ group: string; cases: Array<[string, string, string | number]> }>;
    for (const { group, cases } of groups) {
      const gateway = group.includes('httproute-hostname-intersection-all') ? 'httproute-hostname-intersection-all' : 'httproute-hostname-intersection';
      for (const [host, path, expected] of cases) {
        const want = typeof expected === 'string' ? expected.split(' ')[0] : expected;
        expect([host, path, outcome(simulate(r.ir, `${INFRA}/${gateway}/80`, { host, path }))]).toEqual([host, path, want]);
      }
    }
  });

  // Conformance tests whose traffic checks are plain requests against one port-80 Gateway.
  it.each([
    'HTTPRouteExactPathMatching',
    'HTTPRouteHeaderMatching',
    'HTTPRouteListenerHostnameMatching',
    'HTTPRouteMatching',
    'HTTPRouteMatchingAcrossRoutes',
    'HTTPRouteMethodMatching',
    'HTTPRouteNoBackendRefs',
    'HTTPRoutePathMatchOrder',
    'HTTPRouteQueryParamMatching',
    'HTTPRouteInvalidBackendRefUnknownKind',
    'HTTPRouteInvalidCrossNamespaceBackendRef',
    'HTTPRouteInvalidNonExistentBackendRef',
    'HTTPRoutePartiallyInvalidViaInvalidReferenceGrant',
    'HTTPRouteSimpleSameNamespace',
    'HTTPRouteCrossNamespace',
  ])('%s: expected backends and statuses', (name) => {
    const test = inventoryTest(name);
    const r = translateWith(test.manifests[0].replace('conformance/', ''));
    const route = load(test.manifests[0].replace('conformance/', '')).find((o) => o.kind === 'HTTPRoute') as
      | { metadata: { namespace?: string }; spec: { parentRefs: Array<{ name: string; namespace?: string }> } }
      | undefined;
    const parent = route?.spec.parentRefs[0];
    const listenerName = `${parent?.namespace ?? route?.metadata.namespace ?? INFRA}/${parent?.name ?? 'same-namespace'}/80`;
    for (const check of test.checks as Array<{ request?: SimulatedRequest; expect?: { backend?: string; status?: number; namespace?: string } }>) {
      if (!check.request || !check.expect) continue;
      const got = simulate(r.ir, listenerName, check.request);
      const want = check.expect.backend ?? check.expect.status;
      expect([check.request, outcome(got)]).toEqual([check.request, want]);
      if (check.expect.namespace && 'namespace' in got) expect(got.namespace).toBe(check.expect.namespace);
    }
  });

  it.each(['GRPCExactMethodMatching', 'GRPCRouteHeaderMatching', 'GRPCRouteListenerHostnameMatching'])(
    '%s: RPCs reach the expected backends over HTTP/2, unmatched RPCs get 404 (Unimplemented)',
    (name) => {
      const test = inventoryTest(name);
      const file = test.manifests[0].replace('conformance/', '');
      const r = translateWith(file);
      const gateway = load(file).find((o) => o.kind === 'Gateway')?.metadata.name ?? 'same-namespace';
      const service = 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';
      type GrpcCheck = { request?: { rpc?: string }; metadata?: Record<string, string>; authority?: string; expect: string | { backend?: string; code?: string } };
      for (const check of test.checks as GrpcCheck[]) {
        const request = { host: check.authority, path: `/${service}/${check.request?.rpc ?? 'Echo'}`, method: 'POST', headers: check.metadata };
        const expected = typeof check.expect === 'string' ? check.expect : (check.expect.backend ?? check.expect.code);
        const got = simulate(r.ir, `${INFRA}/${gateway}/80`, request);
        expect([request, outcome(got)]).toEqual([request, expected === 'Unimplemented' ? 404 : expected]);
      }
      expect(r.ir.clusters.every((c) => c.protocol === 'HTTP2')).toBe(true);
    },
  );

  const manifests = available ? readdirSync(join(CONFORMANCE, 'tests')).filter((f) => f.endsWith('.yaml')).sort() : [];
  it.each(manifests)('tests/%s translates to Envoy resources that pass protoc-gen-validate', (file) => {
    const { envoy } = translateWith(`tests/${file}`);
    assertValidEnvoyResources(envoy.listeners, TypeUrl.Listener);
    assertValidEnvoyResources(envoy.routes, TypeUrl.RouteConfiguration);
    assertValidEnvoyResources(envoy.clusters, TypeUrl.Cluster);
    assertValidEnvoyResources(envoy.endpoints, TypeUrl.ClusterLoadAssignment);
  });
});
