/** Which ports of an endpoint go to the node proxy, and whether their L7 rules allow every request. */
import { workloadLabels } from '@tendril/identity';
import { l7PortRedirects, translatePolicy, validatePolicy, type PolicyObject, type PolicyRule } from '../src';

const store = workloadLabels({ namespace: 'shop', podLabels: { app: 'store' } });
const web = workloadLabels({ namespace: 'shop', podLabels: { app: 'web' } });

function cnp(name: string, spec: unknown): PolicyRule[] {
  const policy = { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: 'shop' }, spec };
  expect(validatePolicy(policy)).toBeUndefined();
  return translatePolicy(policy as PolicyObject);
}

const fromWeb = (port: string, rules: unknown) => ({ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port, protocol: 'TCP' }], rules }] });

describe('l7PortRedirects', () => {
  it('an empty HTTP rule is an L7 allow-all; the port is redirected and forwarded', () => {
    const rules = cnp('allow-all', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [fromWeb('80', { http: [{}] })] });
    expect(l7PortRedirects(rules, { labels: store })).toEqual([{ direction: 'ingress', parser: 'http', port: 80, allowsAll: true, origins: ['CiliumNetworkPolicy shop/allow-all rule 0 ingress[0]'] }]);
    expect(l7PortRedirects(rules, { labels: web })).toEqual([]);
  });

  it('any narrower rule on the port (from any peer) makes the whole port deny at L7 until per-request rules are enforced', () => {
    const rules = [
      ...cnp('allow-all', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [fromWeb('80', { http: [{}] })] }),
      ...cnp('get-only', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [{ fromEntities: ['host'], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }] }] }),
    ];
    expect(l7PortRedirects(rules, { labels: store })).toEqual([
      { direction: 'ingress', parser: 'http', port: 80, allowsAll: false, origins: ['CiliumNetworkPolicy shop/allow-all rule 0 ingress[0]', 'CiliumNetworkPolicy shop/get-only rule 0 ingress[0]'] },
    ]);
  });

  it('egress L7, named ports, and parsers the proxy cannot forward (Kafka, DNS) are listed; the latter never allow all', () => {
    const rules = cnp('mixed', {
      endpointSelector: { matchLabels: { app: 'store' } },
      ingress: [fromWeb('http-alt', { http: [{ path: '/' }, {}] })],
      egress: [
        { toEndpoints: [{ matchLabels: { app: 'kafka' } }], toPorts: [{ ports: [{ port: '9092', protocol: 'TCP' }], rules: { kafka: [{ role: 'produce', topic: 't' }] } }] },
        { toEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: '8000', protocol: 'TCP' }], rules: { http: [{}] } }] },
      ],
    });
    expect(l7PortRedirects(rules, { labels: store, namedPorts: { 'http-alt': [{ port: 8080, protocol: 6 }] } }).map(({ direction, parser, port, allowsAll }) => ({ direction, parser, port, allowsAll }))).toEqual([
      { direction: 'ingress', parser: 'http', port: 8080, allowsAll: true },
      { direction: 'egress', parser: 'http', port: 8000, allowsAll: true },
      { direction: 'egress', parser: 'kafka', port: 9092, allowsAll: false },
    ]);
  });
});
