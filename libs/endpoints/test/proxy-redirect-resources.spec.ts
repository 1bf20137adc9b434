/**
 * The node proxy's redirect listeners, clusters and NPDS policies for a set of endpoints' L7 ports:
 * a golden file (UPDATE_GOLDEN=1 rewrites it), Envoy's own validity rules, and the proxy's compiler.
 */
import { assertValidEnvoyResources } from '@tendril/api-envoy';
import { HostIdentityIndex, L7PolicyIndex, validateConfig } from '@tendril/proxy';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixedProxyPorts, headerMatchSecretValue, networkPolicyHostsResources, policySecretResources, redirectResources, type EndpointRedirects, type KubeSecret } from '../src';

const GOLDEN = path.join(__dirname, 'golden', 'redirect-resources.json');

const endpoints: EndpointRedirects[] = [
  {
    namespace: 'shop',
    name: 'store-0',
    ip: '10.244.0.5',
    endpointId: 3,
    redirects: [
      { direction: 'ingress', parser: 'http', port: 80, origins: ['CiliumNetworkPolicy shop/l7 rule 0 ingress[0]'] },
      { direction: 'egress', parser: 'kafka', port: 9092, origins: ['CiliumNetworkPolicy shop/kafka rule 0 egress[0]'] },
    ],
    portPolicies: [
      {
        direction: 'ingress',
        port: 80,
        parser: 'http',
        rules: [
          { remotes: [256], http: [{ method: 'GET', path: '/public/.*', headers: ['X-Env: prod'], headerMatches: [{ name: 'X-Token', value: 't', mismatch: 'REPLACE' }, { name: 'Authorization', secret: { namespace: 'shop', name: 'token' } }] }], origin: 'CiliumNetworkPolicy shop/l7 rule 0 ingress[0]' },
          { remotes: 'any', origin: 'CiliumNetworkPolicy shop/l4 rule 0 ingress[0]' },
        ],
      },
      {
        direction: 'egress',
        port: 9092,
        parser: 'kafka',
        rules: [{ remotes: [300], kafka: [{ role: 'produce', topic: 'orders' }, { apiKey: 'fetch', apiVersion: '11', clientID: 'billing' }], origin: 'CiliumNetworkPolicy shop/kafka rule 0 egress[0]' }],
      },
    ],
  },
  {
    namespace: 'shop',
    name: 'web-0',
    ip: '10.244.0.6',
    endpointId: 4,
    redirects: [{ direction: 'egress', parser: 'http', port: 8000, origins: ['CiliumNetworkPolicy shop/egress rule 0 egress[0]'] }],
    portPolicies: [{ direction: 'egress', port: 8000, parser: 'http', rules: [{ remotes: [257], http: [{}], origin: 'CiliumNetworkPolicy shop/egress rule 0 egress[0]' }] }],
  },
];

describe('redirectResources', () => {
  const resources = redirectResources(endpoints, { proxyPort: fixedProxyPorts() });

  it('matches the golden file', () => {
    const text = `${JSON.stringify(resources, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(GOLDEN, text);
    expect(text).toBe(fs.readFileSync(GOLDEN, 'utf8'));
  });

  it('one transparent listener per direction and parser: HTTP ones check each request, Kafka ones each request frame; one NPDS policy per endpoint with L7 ports', () => {
    expect(resources.listeners.map((l) => [l.name, l.address?.socket_address?.port_value, l.transparent])).toEqual([
      ['tendril-http-ingress', 15001, true],
      ['tendril-http-egress', 15002, true],
      ['tendril-kafka-egress', 15004, true],
    ]);
    expect(JSON.stringify(resources.listeners[0]!.filter_chains)).toContain('"name":"tendril.l7policy","typed_config":{"@type":"type.googleapis.com/tendril.policy.v1.L7Policy","is_ingress":true}');
    expect(resources.listeners[2]!.filter_chains![0]!.filters!.map((f) => f.name)).toEqual(['tendril.kafkapolicy', 'envoy.filters.network.tcp_proxy']);
    expect(resources.networkPolicies.map((p) => [p.name, p.ingress_per_port_policies?.map((q) => q.port), p.egress_per_port_policies?.map((q) => q.port)])).toEqual([
      ['10.244.0.5', [80], [9092]],
      ['10.244.0.6', [], [8000]],
    ]);
    expect(resources.networkPolicies[0]!.egress_per_port_policies![0]!.rules![0]!.kafka_rules).toEqual({
      kafka_rules: [{ role: 'produce', topic: 'orders' }, { api_key: 'fetch', api_version: '11', client_id: 'billing' }],
    });
    // A header match naming a Secret carries the SDS secret's name, never its value.
    expect(JSON.stringify(resources.networkPolicies[0])).toContain('"name":"Authorization","value_sds_secret":"policy-secret/shop/token"');
  });

  it('emits nothing without an HTTP or Kafka redirect (DNS ports are the DNS proxy’s)', () => {
    const dnsOnly = { ...endpoints[0]!, redirects: [{ direction: 'egress' as const, parser: 'dns' as const, port: 53, origins: ['CiliumNetworkPolicy shop/dns rule 0 egress[0]'] }], portPolicies: [] };
    expect(redirectResources([dnsOnly], { proxyPort: fixedProxyPorts() })).toEqual({ listeners: [], clusters: [], networkPolicies: [] });
  });

  it('passes Envoy’s validation rules and the node proxy’s compiler', () => {
    assertValidEnvoyResources(resources.listeners, 'type.googleapis.com/envoy.config.listener.v3.Listener');
    assertValidEnvoyResources(resources.clusters, 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
    assertValidEnvoyResources(resources.networkPolicies, 'type.googleapis.com/tendril.policy.v1.NetworkPolicy');
    expect(validateConfig({ listeners: resources.listeners, clusters: resources.clusters, routes: [], endpoints: [], networkPolicies: resources.networkPolicies })).toEqual([]);
  });

  it('with useNphds the listeners’ bpf_metadata tells the proxy to resolve identities from NPHDS', () => {
    const nphds = redirectResources(endpoints, { proxyPort: fixedProxyPorts(), useNphds: true });
    expect(nphds.listeners.map((l) => l.listener_filters?.[1]?.typed_config)).toEqual([
      { '@type': 'type.googleapis.com/tendril.proxy.v1.BpfMetadata', is_ingress: true, bpf_root: '', use_nphds: true },
      { '@type': 'type.googleapis.com/tendril.proxy.v1.BpfMetadata', is_ingress: false, bpf_root: '', use_nphds: true },
      { '@type': 'type.googleapis.com/tendril.proxy.v1.BpfMetadata', is_ingress: false, bpf_root: '', use_nphds: true },
    ]);
    expect(validateConfig({ listeners: nphds.listeners, clusters: nphds.clusters, routes: [], endpoints: [], networkPolicies: nphds.networkPolicies })).toEqual([]);
  });
});

describe('policySecretResources', () => {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  const store: Record<string, KubeSecret> = {
    'shop/token': { data: { token: b64('s3cr3t') } },
  };

  it('sends the Secret’s lone item as an SDS generic secret named in the NPDS header match; the proxy resolves the match with it', () => {
    const secrets = policySecretResources(endpoints, (ns, name) => store[`${ns}/${name}`]);
    expect(secrets).toEqual([{ name: 'policy-secret/shop/token', generic_secret: { secret: { inline_string: 's3cr3t' } } }]);
    assertValidEnvoyResources(secrets, 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret');
    // Only the rule with the header matches (the fixture's other rule leaves L7 unrestricted).
    const store0 = endpoints[0]!;
    const l7Only = [{ ...store0, portPolicies: [{ ...store0.portPolicies[0]!, rules: [store0.portPolicies[0]!.rules[0]!] }] }];
    const resources = redirectResources(l7Only, { proxyPort: fixedProxyPorts() });
    expect(JSON.stringify(resources.networkPolicies)).not.toContain('s3cr3t');
    const { index, errors } = L7PolicyIndex.compile(resources.networkPolicies, (name) => (secrets.find((s) => s.name === name)?.generic_secret?.secret?.inline_string));
    expect(errors).toEqual([]);
    const request = (authorization: string) => ({ method: 'GET', path: '/public/x', authority: 'store', headers: { 'x-env': 'prod', 'x-token': 't', authorization } });
    expect(index!.decide('ingress', '10.244.0.5', 80, 256, request('s3cr3t')).reason).toBe('allowed by CiliumNetworkPolicy shop/l7 rule 0 ingress[0]');
    expect(index!.decide('ingress', '10.244.0.5', 80, 256, request('guess')).allowed).toBe(false);
  });

  it('a missing Secret, or one without exactly one item, is not sent (the match fails closed at the proxy)', () => {
    expect(policySecretResources(endpoints, () => undefined)).toEqual([]);
    expect(policySecretResources(endpoints, () => ({ data: { a: b64('1'), b: b64('2') } }))).toEqual([]);
    expect(policySecretResources(endpoints, () => ({ data: {} }))).toEqual([]);
    expect(headerMatchSecretValue({ stringData: { key: 'plain' } })).toBe('plain');
  });
});

describe('networkPolicyHostsResources', () => {
  it('one NetworkPolicyHosts per identity with its prefixes, which the proxy’s NPHDS index resolves by longest prefix', () => {
    const hosts = networkPolicyHostsResources([
      ['10.244.0.6/32', 300],
      ['10.0.0.0/8', 16777217],
      ['10.244.0.5/32', 300],
      ['192.168.1.10/32', 1],
    ]);
    expect(hosts).toEqual([
      { policy: 1, host_addresses: ['192.168.1.10/32'] },
      { policy: 300, host_addresses: ['10.244.0.5/32', '10.244.0.6/32'] },
      { policy: 16777217, host_addresses: ['10.0.0.0/8'] },
    ]);
    assertValidEnvoyResources(hosts, 'type.googleapis.com/tendril.policy.v1.NetworkPolicyHosts');
    const { index } = HostIdentityIndex.compile(hosts);
    expect([index!.identityOf('10.244.0.5'), index!.identityOf('10.9.9.9'), index!.identityOf('8.8.8.8')]).toEqual([300, 16777217, undefined]);
  });
});
