/**
 * The node proxy's redirect listeners and clusters for a set of endpoints' L7 redirects: a golden
 * file (UPDATE_GOLDEN=1 rewrites it), Envoy's own validity rules, and the node proxy's compiler.
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
    redirects: [
      { direction: 'ingress', parser: 'http', port: 80, allowsAll: true, origins: ['CiliumNetworkPolicy shop/l7 rule 0 ingress[0]'] },
      { direction: 'ingress', parser: 'http', port: 8080, allowsAll: false, origins: ['CiliumNetworkPolicy shop/get-only rule 0 ingress[0]'] },
      { direction: 'egress', parser: 'kafka', port: 9092, allowsAll: false, origins: ['CiliumNetworkPolicy shop/kafka rule 0 egress[0]'] },
    ],
  },
  { namespace: 'shop', name: 'web-0', ip: '10.244.0.6', redirects: [{ direction: 'egress', parser: 'http', port: 8000, allowsAll: true, origins: ['CiliumNetworkPolicy shop/egress rule 0 egress[0]'] }] },
];

describe('redirectResources', () => {
  const resources = redirectResources(endpoints, { proxyPort: fixedProxyPorts() });

  it('matches the golden file', () => {
    const text = `${JSON.stringify(resources, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(GOLDEN, text);
    expect(text).toBe(fs.readFileSync(GOLDEN, 'utf8'));
  });

  it('forwards exactly the allow-all ports; everything else redirected gets the 403 default chain', () => {
    const [ingress, egress] = resources.listeners;
    expect(ingress.filter_chains?.map((c) => [c.name, c.filter_chain_match])).toEqual([['shop/store-0/80', { destination_port: 80, prefix_ranges: [{ address_prefix: '10.244.0.5', prefix_len: 32 }] }]]);
    expect(egress.filter_chains?.map((c) => [c.name, c.filter_chain_match])).toEqual([['shop/web-0/8000', { destination_port: 8000, source_prefix_ranges: [{ address_prefix: '10.244.0.6', prefix_len: 32 }] }]]);
    expect(JSON.stringify(ingress.default_filter_chain)).toContain('"status":403');
    expect(resources.listeners.map((l) => l.address?.socket_address?.port_value)).toEqual([15001, 15002]);
  });

  it('emits nothing without an HTTP redirect (Kafka and DNS ports have no listener: the datapath drops them)', () => {
    expect(redirectResources([{ ...endpoints[0], redirects: [endpoints[0].redirects[2]] }], { proxyPort: fixedProxyPorts() })).toEqual({ listeners: [], clusters: [] });
  });

  it('passes Envoy’s validation rules and the node proxy’s compiler', () => {
    assertValidEnvoyResources(resources.listeners, 'type.googleapis.com/envoy.config.listener.v3.Listener');
    assertValidEnvoyResources(resources.clusters, 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
    expect(validateConfig({ listeners: resources.listeners, clusters: resources.clusters, routes: [], endpoints: [] })).toEqual([]);
  });
});
