/**
 * The node proxy's redirect listeners, clusters and NPDS policies for a set of endpoints' L7 ports:
 * a golden file (UPDATE_GOLDEN=1 rewrites it), Envoy's own validity rules, and the proxy's compiler.
 */
import { assertValidEnvoyResources } from '@tendril/api-envoy';
import { validateConfig } from '@tendril/proxy';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixedProxyPorts, redirectResources, type EndpointRedirects } from '../src';

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
    // A header match naming a Secret the agent does not read never matches (fails closed).
    expect(JSON.stringify(resources.networkPolicies[0])).toContain('"name":"Authorization","secret_missing":true');
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
});
