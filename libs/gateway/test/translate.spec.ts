import type { KubeObject } from '@tendril/api-k8s';
import { TranslationMemo, translate, type TranslateResult } from '../src';
import { CONTROLLER_NAME, NOW } from './golden';

const gatewayClass = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'GatewayClass',
  metadata: { name: 'tendril', generation: 1 },
  spec: { controllerName: CONTROLLER_NAME },
};
const gateway = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'infra', generation: 1 },
  spec: { gatewayClassName: 'tendril', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
};
const service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'svc', namespace: 'infra' },
  spec: { ports: [{ name: 'web', port: 80 }] },
};
const slice = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'svc-1', namespace: 'infra', labels: { 'kubernetes.io/service-name': 'svc' } },
  addressType: 'IPv4',
  ports: [{ name: 'web', port: 8080 }],
  endpoints: [{ addresses: ['10.0.0.1'] }],
};
const route = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace: 'infra', generation: 1 },
  spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'svc', port: 80 }] }], ...extra },
});

function run(resources: unknown[]): TranslateResult {
  return translate({ resources: resources as KubeObject[], controllerName: CONTROLLER_NAME, now: NOW, options: { defaultAddress: '127.0.0.1' } });
}

describe('translate', () => {
  it('produces an IR with listeners, virtual hosts, ordered routes and clusters with endpoints', () => {
    const { ir } = run([gatewayClass, gateway, service, slice, route('app', { hostnames: ['app.example.com'] })]);
    expect(ir.listeners).toHaveLength(1);
    const [listener] = ir.listeners;
    expect(listener).toMatchObject({ name: 'infra/gw/80', address: '127.0.0.1', port: 80, gateway: { namespace: 'infra', name: 'gw' } });
    // The listener's own (catch-all) virtual host exists even with no route for it: other hosts get 404.
    expect(listener.virtualHosts.map((v) => [v.hostname, v.routes.length])).toEqual([
      ['*', 0],
      ['app.example.com', 1],
    ]);
    expect(listener.virtualHosts[1].routes[0]).toMatchObject({
      source: { kind: 'HTTPRoute', namespace: 'infra', name: 'app', ruleIndex: 0, matchIndex: 0 },
      match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
      action: { kind: 'forward', backends: [{ kind: 'cluster', cluster: 'infra/svc/80', weight: 1 }], mirrors: [] },
    });
    expect(ir.clusters).toEqual([
      { name: 'infra/svc/80', service: { namespace: 'infra', name: 'svc', port: 80 }, protocol: 'HTTP1', endpoints: [{ address: '10.0.0.1', port: 8080 }] },
    ]);
  });

  it('a route with a Gateway and a Service parentRef gets one status entry for each, and serves on both', () => {
    const both = route('both', { parentRefs: [{ name: 'gw' }, { group: '', kind: 'Service', name: 'svc', port: 80 }] });
    const result = translate({
      resources: [gatewayClass, gateway, service, slice, both] as KubeObject[],
      controllerName: CONTROLLER_NAME,
      now: NOW,
      options: { defaultAddress: '127.0.0.1', mesh: { listener: { address: '127.0.0.1', port: 15008 }, serviceClusterIps: { 'infra/svc': '10.96.0.7' } } },
    });
    const status = result.statuses.find((s) => s.kind === 'HTTPRoute' && s.name === 'both');
    const parents = (status?.status.parents ?? []) as Array<{ parentRef: { kind?: string; name: string }; conditions: Array<{ type: string; status: string }> }>;
    expect(parents.map((p) => [p.parentRef.kind, p.parentRef.name, p.conditions.map((c) => `${c.type}=${c.status}`).join(',')])).toEqual([
      ['Gateway', 'gw', 'Accepted=True,ResolvedRefs=True'],
      ['Service', 'svc', 'Accepted=True,ResolvedRefs=True'],
    ]);
    expect(result.ir.listeners[0].virtualHosts.some((v) => v.routes.some((r) => r.source.name === 'both'))).toBe(true);
    expect(result.ir.mesh?.frontends.map((f) => [f.name, f.vip, f.service.port])).toEqual([['mesh/infra/svc/80', '10.96.0.7', 80]]);
    // Without a mesh listener (no datapath to steer to it) the Service parent is still accepted; nothing is rendered for it.
    const statusOnly = run([gatewayClass, gateway, { ...service, spec: { ...service.spec, clusterIP: '10.96.0.7' } }, slice, both]);
    expect(statusOnly.ir.mesh).toBeUndefined();
    expect(statusOnly.envoy.listeners.map((l) => l.name)).toEqual(['infra/gw/80']);
  });

  it('gives the same output regardless of the order resources arrive in', () => {
    const resources = [gatewayClass, gateway, service, slice, route('a'), route('b', { hostnames: ['b.example.com'] })];
    const forward = run(resources);
    const backward = run([...resources].reverse());
    expect(JSON.stringify(backward)).toBe(JSON.stringify(forward));
  });

  it('changes nothing but the routes when a backend gains an endpoint', () => {
    const before = run([gatewayClass, gateway, service, slice, route('app')]);
    const after = run([gatewayClass, gateway, service, { ...slice, endpoints: [...slice.endpoints, { addresses: ['10.0.0.2'] }] }, route('app')]);
    expect(after.envoy.listeners).toEqual(before.envoy.listeners);
    expect(after.envoy.routes).toEqual(before.envoy.routes);
    expect(after.envoy.clusters).toEqual(before.envoy.clusters);
    expect(after.envoy.endpoints).not.toEqual(before.envoy.endpoints);
  });

  it('does not emit clusters for Services no served route uses', () => {
    const unattached = { ...route('elsewhere'), spec: { parentRefs: [{ name: 'missing' }], rules: [{ backendRefs: [{ name: 'svc', port: 80 }] }] } };
    const { envoy, statuses } = run([gatewayClass, gateway, service, slice, unattached]);
    expect(envoy.clusters).toEqual([]);
    expect(statuses.map((s) => s.kind)).toEqual(['GatewayClass', 'Gateway']);
  });

  it('survives objects missing spec, metadata fields or lists without throwing', () => {
    const broken = [
      gatewayClass,
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'no-spec', namespace: 'infra' } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'bare', namespace: 'infra' }, spec: { gatewayClassName: 'tendril' } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'bare', namespace: 'infra' } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: {} },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', namespace: 'infra', labels: { 'kubernetes.io/service-name': 'svc' } } },
      service,
      { ...route('odd'), spec: { parentRefs: [{ name: 'gw' }], rules: [{ matches: [{}], backendRefs: [{ name: 'svc' }] }, {}] } },
      gateway,
      null,
      42,
    ];
    const result = run(broken);
    const odd = result.statuses.find((s) => s.name === 'odd');
    expect(odd?.status).toMatchObject({
      parents: [{ conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound' }] }],
    });
    // A Gateway without spec names no class of ours; one without listeners has nothing to accept.
    expect(result.statuses.some((s) => s.name === 'no-spec')).toBe(false);
    expect(result.statuses.find((s) => s.kind === 'Gateway' && s.name === 'bare')?.status).toMatchObject({
      conditions: [{ type: 'Accepted', status: 'False', reason: 'ListenersNotValid' }, { type: 'Programmed', status: 'False' }],
      listeners: [],
    });
  });

  it.each([
    [{ resources: 'nope', controllerName: CONTROLLER_NAME, now: NOW }, /input\.resources must be an array/],
    [{ resources: [], controllerName: '', now: NOW }, /controllerName must be a non-empty string/],
    [{ resources: [], controllerName: CONTROLLER_NAME, now: 'yesterday' }, /input\.now must be an RFC 3339 timestamp, got "yesterday"/],
  ])('rejects malformed input with a clear error (%#)', (input, message) => {
    expect(() => translate(input as never)).toThrow(message);
  });

  describe('HTTPS listener certificates', () => {
    const pem = (label: string, body: string): string => `-----BEGIN ${label}-----\n${Buffer.from(body).toString('base64')}\n-----END ${label}-----\n`;
    const secret = (body: string): unknown => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'cert', namespace: 'infra' },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': pem('CERTIFICATE', body), 'tls.key': pem('PRIVATE KEY', `${body} key`) },
    });
    const httpsGateway = {
      ...gateway,
      spec: { gatewayClassName: 'tendril', listeners: [{ name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert' }] } }] },
    };
    const certificateOf = (r: TranslateResult): string | undefined => r.envoy.secrets.find((x) => x.name === 'infra/cert')?.tls_certificate?.certificate_chain?.inline_string;
    const listenerStatus = (r: TranslateResult): unknown => (r.statuses.find((x) => x.kind === 'Gateway')?.status as { listeners: unknown[] }).listeners[0];

    it('follows a rotated Secret, and takes the listener down (never serving another certificate) when the Secret goes', () => {
      const memo = new TranslationMemo();
      const translateWith = (resources: unknown[]): TranslateResult =>
        translate({ resources: resources as KubeObject[], controllerName: CONTROLLER_NAME, now: NOW, options: { defaultAddress: '127.0.0.1' } }, memo);

      const first = translateWith([gatewayClass, httpsGateway, service, slice, route('r'), secret('first')]);
      expect(certificateOf(first)).toBe(pem('CERTIFICATE', 'first'));
      expect(first.envoy.listeners.map((l) => l.name)).toContain('infra/gw/443');

      const rotated = translateWith([gatewayClass, httpsGateway, service, slice, route('r'), secret('second')]);
      expect(certificateOf(rotated)).toBe(pem('CERTIFICATE', 'second'));
      expect(rotated.envoy.listeners).toEqual(first.envoy.listeners);

      const gone = translateWith([gatewayClass, httpsGateway, service, slice, route('r')]);
      expect(gone.envoy.secrets).toEqual([]);
      expect(gone.envoy.listeners.map((l) => l.name)).not.toContain('infra/gw/443');
      expect(listenerStatus(gone)).toMatchObject({
        conditions: [
          { type: 'Accepted', status: 'True' },
          { type: 'Programmed', status: 'False', reason: 'Invalid' },
          { type: 'ResolvedRefs', status: 'False', reason: 'InvalidCertificateRef', message: 'Secret infra/cert does not exist' },
          { type: 'Conflicted', status: 'False' },
        ],
      });
    });
  });

  it('a Gateway asking for an address this node cannot use is Accepted but not Programmed (AddressNotUsable), and serves nothing', () => {
    const usableAddress = (a: string): boolean => a.startsWith('127.');
    const withAddresses = (addresses: string[]): KubeObject =>
      ({ ...gateway, spec: { ...gateway.spec, addresses: addresses.map((value) => ({ type: 'IPAddress', value })) } }) as KubeObject;
    const translateWith = (gw: KubeObject, check?: (a: string) => boolean): TranslateResult =>
      translate({ resources: [gatewayClass, gw, service, slice, route('app')] as KubeObject[], controllerName: CONTROLLER_NAME, now: NOW, options: { usableAddress: check } });
    const conditions = (r: TranslateResult): unknown => (r.statuses.find((st) => st.kind === 'Gateway')?.status as { conditions: unknown[] }).conditions;

    const blocked = translateWith(withAddresses(['192.0.2.1', '127.0.0.5']), usableAddress);
    expect(conditions(blocked)).toEqual([
      expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' }),
      expect.objectContaining({ type: 'Programmed', status: 'False', reason: 'AddressNotUsable', message: 'address 192.0.2.1 cannot be used on this node' }),
    ]);
    expect(blocked.envoy.listeners).toEqual([]);

    const served = translateWith(withAddresses(['127.0.0.5']), usableAddress);
    expect(conditions(served)).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Programmed', status: 'True' })]));
    expect(served.envoy.listeners.map((l) => l.address)).toEqual([{ socket_address: { address: '127.0.0.5', port_value: 80 } }]);
    // Without a check every address counts as usable.
    expect(translateWith(withAddresses(['192.0.2.1'])).envoy.listeners).toHaveLength(1);
  });
});
