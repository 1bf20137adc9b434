/** The DNS proxy's view of an endpoint's egress: which ports carry DNS rules, and which names each server may be asked for (§5.2, §8 case 24). */
import { IdentityAllocator, workloadLabels } from '@tendril/identity';
import { dnsPortPolicies, dnsVerdict, fqdnSelectors, translatePolicy, validatePolicy, type PolicyObject, type PolicyRule } from '../src';

const api = workloadLabels({ namespace: 'default', podLabels: { app: 'api' } });
const kubeDns = workloadLabels({ namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } });
const otherDns = workloadLabels({ namespace: 'default', podLabels: { app: 'other-dns' } });

function cnp(name: string, spec: unknown): PolicyRule[] {
  const policy = { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: 'default' }, spec };
  expect(validatePolicy(policy)).toBeUndefined();
  return translatePolicy(policy as PolicyObject);
}

const allocator = new IdentityAllocator();
const kubeDnsId = allocator.allocate(kubeDns).id;
const otherDnsId = allocator.allocate(otherDns).id;
allocator.allocate(api);

const case24 = cnp('case24', {
  endpointSelector: { matchLabels: { app: 'api' } },
  egress: [
    {
      toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s-app': 'kube-dns' } }],
      toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*.example.com' }] } }],
    },
    { toFQDNs: [{ matchPattern: '**.example.com' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] },
  ],
});

describe('dnsPortPolicies / dnsVerdict', () => {
  it('§8 case 24: port 53 over UDP and TCP; *.example.com is one label deep; example.com itself and other servers are refused', () => {
    const policies = dnsPortPolicies(case24, { labels: api }, allocator.identities());
    expect(policies).toEqual([
      { transport: 'TCP', port: 53, rules: [{ remotes: [kubeDnsId], dns: [{ matchPattern: '*.example.com' }], origin: 'CiliumNetworkPolicy default/case24 rule 0 egress[0]' }] },
      { transport: 'UDP', port: 53, rules: [{ remotes: [kubeDnsId], dns: [{ matchPattern: '*.example.com' }], origin: 'CiliumNetworkPolicy default/case24 rule 0 egress[0]' }] },
    ]);
    expect(dnsVerdict(policies, 'UDP', 53, kubeDnsId, 'api.example.com')).toEqual({ allowed: true, origin: 'CiliumNetworkPolicy default/case24 rule 0 egress[0]' });
    expect(dnsVerdict(policies, 'TCP', 53, kubeDnsId, 'API.Example.com.').allowed).toBe(true);
    expect(dnsVerdict(policies, 'UDP', 53, kubeDnsId, 'a.b.example.com')).toEqual({ allowed: false, reason: 'no DNS rule matches "a.b.example.com"' });
    expect(dnsVerdict(policies, 'UDP', 53, kubeDnsId, 'example.com').allowed).toBe(false);
    expect(dnsVerdict(policies, 'UDP', 53, otherDnsId, 'api.example.com')).toEqual({ allowed: false, reason: `no rule allows DNS to identity ${otherDnsId}` });
    expect(dnsVerdict(policies, 'UDP', 5353, kubeDnsId, 'api.example.com')).toEqual({ allowed: false, reason: 'no DNS policy for UDP port 5353' });
    expect(dnsPortPolicies(case24, { labels: kubeDns }, allocator.identities())).toEqual([]);
  });

  it('a UDP-only DNS rule has no TCP port; an L3 allow of the same server leaves its names unrestricted (§2.3)', () => {
    const rules = [
      ...cnp('udp', {
        endpointSelector: { matchLabels: { app: 'api' } },
        egress: [{ toEndpoints: [{ matchLabels: { app: 'other-dns' } }], toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }], rules: { dns: [{ matchName: 'only.example.com' }] } }] }],
      }),
      ...cnp('l3', { endpointSelector: { matchLabels: { app: 'api' } }, egress: [{ toEndpoints: [{ matchLabels: { app: 'other-dns' } }] }] }),
    ];
    const policies = dnsPortPolicies(rules, { labels: api }, allocator.identities());
    expect(policies.map((p) => `${p.transport}/${p.port}`)).toEqual(['UDP/53']);
    expect(dnsVerdict(policies, 'UDP', 53, otherDnsId, 'anything.else.org')).toEqual({ allowed: true, origin: 'CiliumNetworkPolicy default/l3 rule 0 egress[0]' });
    expect(dnsVerdict(dnsPortPolicies(rules.slice(0, 1), { labels: api }, allocator.identities()), 'UDP', 53, otherDnsId, 'anything.else.org').allowed).toBe(false);
  });
});

describe('fqdnSelectors', () => {
  it('lists each toFQDNs selector once, with the label key the translator selects on and its name matching', () => {
    const rules = [
      ...case24,
      ...cnp('more', {
        endpointSelector: { matchLabels: { app: 'other' } },
        egress: [{ toFQDNs: [{ matchName: 'API.example.com' }, { matchPattern: '**.example.com' }] }],
      }),
    ];
    const selectors = fqdnSelectors(rules);
    expect(selectors.map((s) => s.key)).toEqual(['matchName:API.example.com', 'matchPattern:**.example.com']);
    const [byName, byPattern] = selectors;
    expect(byName!.matches('api.example.com.')).toBe(true);
    expect(byName!.matches('www.example.com')).toBe(false);
    expect(byPattern!.matches('a.b.example.com')).toBe(true);
    expect(byPattern!.matches('example.com')).toBe(false);
  });
});
