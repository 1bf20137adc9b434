/** Which ports of an endpoint go to the node proxy, and the per-request rules the proxy enforces on them (§2.3). */
import { IdentityAllocator, workloadLabels } from '@tendril/identity';
import { l7PortPolicies, l7PortRedirects, translatePolicy, validatePolicy, type PolicyObject, type PolicyRule } from '../src';

const store = workloadLabels({ namespace: 'shop', podLabels: { app: 'store' } });
const web = workloadLabels({ namespace: 'shop', podLabels: { app: 'web' } });
const mon = workloadLabels({ namespace: 'shop', podLabels: { app: 'mon' } });

function cnp(name: string, spec: unknown): PolicyRule[] {
  const policy = { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: 'shop' }, spec };
  expect(validatePolicy(policy)).toBeUndefined();
  return translatePolicy(policy as PolicyObject);
}

const from = (app: string, port: string, rules?: unknown) => ({ fromEndpoints: [{ matchLabels: { app } }], toPorts: [{ ports: [{ port, protocol: 'TCP' }], ...(rules ? { rules } : {}) }] });

describe('l7PortRedirects', () => {
  it('lists the ports with L7 rules per direction and parser, with the rules that put them there', () => {
    const rules = cnp('l7', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [from('web', '80', { http: [{}] })] });
    expect(l7PortRedirects(rules, { labels: store })).toEqual([{ direction: 'ingress', parser: 'http', port: 80, origins: ['CiliumNetworkPolicy shop/l7 rule 0 ingress[0]'] }]);
    expect(l7PortRedirects(rules, { labels: web })).toEqual([]);
  });

  it('egress L7, named ports, and the Kafka parser', () => {
    const rules = cnp('mixed', {
      endpointSelector: { matchLabels: { app: 'store' } },
      ingress: [from('web', 'http-alt', { http: [{ path: '/' }] })],
      egress: [
        { toEndpoints: [{ matchLabels: { app: 'kafka' } }], toPorts: [{ ports: [{ port: '9092', protocol: 'TCP' }], rules: { kafka: [{ role: 'produce', topic: 't' }] } }] },
        { toEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: '8000', protocol: 'TCP' }], rules: { http: [{}] } }] },
      ],
    });
    expect(l7PortRedirects(rules, { labels: store, namedPorts: { 'http-alt': [{ port: 8080, protocol: 6 }] } }).map(({ direction, parser, port }) => ({ direction, parser, port }))).toEqual([
      { direction: 'ingress', parser: 'http', port: 8080 },
      { direction: 'egress', parser: 'http', port: 8000 },
      { direction: 'egress', parser: 'kafka', port: 9092 },
    ]);
  });
});

describe('l7PortPolicies', () => {
  const allocator = new IdentityAllocator();
  const webId = allocator.allocate(web).id;
  const monId = allocator.allocate(mon).id;
  allocator.allocate(store);

  it('§8 case 7/10: L7 rules stay with the peers their rule selects; an L3 allow of the same peer unrestricts L7 for it', () => {
    const rules = [
      ...cnp('a', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [from('web', '80', { http: [{ method: 'GET', path: '/ok' }] })] }),
      ...cnp('b', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [from('mon', '80', { http: [{ path: '/metrics' }] })] }),
      ...cnp('c', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }] }),
    ];
    expect(l7PortPolicies(rules, { labels: store }, allocator.identities())).toEqual([
      {
        direction: 'ingress',
        port: 80,
        parser: 'http',
        rules: [
          { remotes: [webId], http: [{ method: 'GET', path: '/ok' }], origin: 'CiliumNetworkPolicy shop/a rule 0 ingress[0]' },
          { remotes: [monId], http: [{ path: '/metrics' }], origin: 'CiliumNetworkPolicy shop/b rule 0 ingress[0]' },
          { remotes: [webId], origin: 'CiliumNetworkPolicy shop/c rule 0 ingress[0]' },
        ],
      },
    ]);
  });

  it('§8 case 8: a port-wide allow without a peer applies to every remote', () => {
    const rules = [
      ...cnp('a', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] }] }),
      ...cnp('b', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [from('web', '80', { http: [{ path: '/ok' }] })] }),
    ];
    const [port] = l7PortPolicies(rules, { labels: store }, allocator.identities());
    expect(port!.rules).toContainEqual({ remotes: 'any', origin: 'CiliumNetworkPolicy shop/a rule 0 ingress[0]' });
  });

  it('deny items and other ports contribute nothing; an endpoint without L7 ports has no port policy', () => {
    const rules = [
      ...cnp('a', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [from('web', '80', { http: [{}] }), from('web', '81')] }),
      ...cnp('d', { endpointSelector: { matchLabels: { app: 'store' } }, ingressDeny: [from('mon', '80')] }),
    ];
    expect(l7PortPolicies(rules, { labels: store }, allocator.identities())).toEqual([
      { direction: 'ingress', port: 80, parser: 'http', rules: [{ remotes: [webId], http: [{}], origin: 'CiliumNetworkPolicy shop/a rule 0 ingress[0]' }] },
    ]);
    expect(l7PortPolicies(rules, { labels: web }, allocator.identities())).toEqual([]);
  });

  it('§8 case 17/18: a Kafka port gets its Kafka rules, OR-ed across policies, for the peers each selects', () => {
    const rules = [
      ...cnp('a', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [from('web', '9092', { kafka: [{ role: 'produce', topic: 'orders' }] })] }),
      ...cnp('b', { endpointSelector: { matchLabels: { app: 'store' } }, ingress: [from('web', '9092', { kafka: [{ role: 'produce', topic: 'audit' }] })] }),
    ];
    expect(l7PortPolicies(rules, { labels: store }, allocator.identities())).toEqual([
      {
        direction: 'ingress',
        port: 9092,
        parser: 'kafka',
        rules: [
          { remotes: [webId], kafka: [{ role: 'produce', topic: 'orders' }], origin: 'CiliumNetworkPolicy shop/a rule 0 ingress[0]' },
          { remotes: [webId], kafka: [{ role: 'produce', topic: 'audit' }], origin: 'CiliumNetworkPolicy shop/b rule 0 ingress[0]' },
        ],
      },
    ]);
  });

  it('a headerMatches secret named without a namespace is the policy’s own namespace’s (as Cilium resolves it)', () => {
    const rules = cnp('s', {
      endpointSelector: { matchLabels: { app: 'store' } },
      ingress: [from('web', '80', { http: [{ headerMatches: [{ name: 'X-Token', secret: { name: 'token' } }, { name: 'X-Other', secret: { namespace: 'vault', name: 'other' } }] }] })],
    });
    const [port] = l7PortPolicies(rules, { labels: store }, allocator.identities());
    expect(port!.rules[0]!.http![0]!.headerMatches).toEqual([
      { name: 'X-Token', secret: { namespace: 'shop', name: 'token' } },
      { name: 'X-Other', secret: { namespace: 'vault', name: 'other' } },
    ]);
  });
});
