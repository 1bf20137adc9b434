/**
 * The L3/L4 behaviour cases of policy-semantics.md §8, through the compiler (policy map +
 * lookupPolicyMap) and the reference engine; each case asserts what a user would see.
 */
import { parseAllDocuments } from 'yaml';
import { Protocol } from '../src';
import { PROXY_PORTS, TestCluster } from './support/cluster';

const { TCP, UDP, ICMP } = Protocol;

function cluster(policiesYaml: string): TestCluster {
  const c = new TestCluster({
    namespaces: [{ name: 'shop' }, { name: 'dev' }, { name: 'kube-system' }],
    pods: ['web', 'api', 'db', 'store', 'mon', 'batch', 'edge']
      .map((app) => ({ name: app, namespace: 'shop', labels: { app } }))
      .concat([
        { name: 'api', namespace: 'dev', labels: { app: 'api' } },
        { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } } as never,
      ]),
    externals: [
      { name: 'ext-10', ip: '10.1.2.3' },
      { name: 'svc-range', ip: '10.96.0.10' },
      { name: 'google-dns', ip: '8.8.8.8' },
    ],
  });
  const rejected = c.apply(parseAllDocuments(policiesYaml).map((d) => d.toJSON()).filter(Boolean));
  expect(Object.fromEntries(rejected)).toEqual({});
  return c;
}

/** Both engines must agree; the test then asserts the shared answer. */
function reach(c: TestCluster, from: string, to: string, protocol: number, port: number): boolean {
  const r = c.reachable(from, to, protocol, port);
  expect(r.map).toBe(r.reference);
  return r.map;
}

function verdict(c: TestCluster, endpoint: string, remote: string, direction: 'ingress' | 'egress', protocol: number, port: number) {
  const v = c.verdict(endpoint, remote, direction, protocol, port);
  expect(v.map).toEqual(v.reference);
  return v.map;
}

describe('policy-semantics §8 (L3/L4)', () => {
  it('1. no policy = open', () => {
    const c = cluster('');
    expect(reach(c, 'shop/web', 'shop/db', TCP, 5432)).toBe(true);
    expect(c.compiledFor('shop/db').ingress).toEqual({
      enforced: false,
      entries: [{ identity: 0, direction: 'ingress', protocol: 0, port: 0, prefixLength: 0, deny: false, proxyPort: 0 }],
    });
  });

  const case2 = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: api}}]
      toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
`;

  it('2. selection flips ingress to default-deny, egress stays open', () => {
    const c = cluster(case2);
    expect(reach(c, 'shop/api', 'shop/db', TCP, 5432)).toBe(true);
    expect(reach(c, 'shop/api', 'shop/db', TCP, 9999)).toBe(false);
    expect(reach(c, 'shop/web', 'shop/db', TCP, 5432)).toBe(false);
    expect(reach(c, 'shop/db', 'shop/web', TCP, 80)).toBe(true);
    expect(c.compiledFor('shop/db').ingress.enforced).toBe(true);
    expect(c.compiledFor('shop/db').egress.enforced).toBe(false);
  });

  it('2. variant: CNP ingress [{}] denies all but local-host probes; KNP ingress [{}] allows all', () => {
    const cnp = cluster(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress: [{}]
`);
    expect(reach(cnp, 'shop/web', 'shop/db', TCP, 5432)).toBe(false);
    expect(reach(cnp, 'google-dns', 'shop/db', TCP, 5432)).toBe(false);
    expect(reach(cnp, 'host', 'shop/db', TCP, 5432)).toBe(true);
    const knp = cluster(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{}]
`);
    expect(reach(knp, 'shop/web', 'shop/db', TCP, 5432)).toBe(true);
    expect(reach(knp, 'google-dns', 'shop/db', UDP, 53)).toBe(true);
  });

  it('3. enableDefaultDeny ingress false keeps the direction open', () => {
    const c = cluster(case2.replace('  ingress:', '  enableDefaultDeny: {ingress: false}\n  ingress:'));
    expect(reach(c, 'shop/web', 'shop/db', TCP, 5432)).toBe(true);
    expect(c.compiledFor('shop/db').ingress.enforced).toBe(false);
  });

  it('4. CNP peers are scoped to the policy namespace unless they name one', () => {
    const c = cluster(case2);
    expect(reach(c, 'dev/api', 'shop/db', TCP, 5432)).toBe(false);
    const cross = cluster(case2.replace('{matchLabels: {app: api}}', '{matchLabels: {app: api, k8s:io.kubernetes.pod.namespace: dev}}'));
    expect(reach(cross, 'dev/api', 'shop/db', TCP, 5432)).toBe(true);
    expect(reach(cross, 'shop/api', 'shop/db', TCP, 5432)).toBe(false);
  });

  it('7. an L3 allow and an L7 rule for the same peer: the port is redirected to the proxy; other peers dropped', () => {
    const c = cluster(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: a, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: store}}
  ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: b, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: store}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: web}}]
      toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET, path: /ok}]}}]
`);
    expect(verdict(c, 'shop/store', 'shop/web', 'ingress', TCP, 80)).toEqual({ kind: 'redirect', proxyPort: PROXY_PORTS.http.ingress });
    expect(verdict(c, 'shop/store', 'shop/web', 'ingress', TCP, 81)).toEqual({ kind: 'allow' });
    expect(verdict(c, 'shop/store', 'shop/mon', 'ingress', TCP, 80)).toEqual({ kind: 'deny', reason: 'no-match' });
  });

  it('8. a port-wide allow lets every peer through; the L7 peer is still redirected', () => {
    const c = cluster(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: a, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: store}}
  ingress: [{toPorts: [{ports: [{port: "80", protocol: TCP}]}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: b, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: store}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: web}}]
      toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{path: /ok}]}}]
`);
    expect(verdict(c, 'shop/store', 'shop/web', 'ingress', TCP, 80)).toEqual({ kind: 'redirect', proxyPort: PROXY_PORTS.http.ingress });
    expect(verdict(c, 'shop/store', 'shop/mon', 'ingress', TCP, 80)).toEqual({ kind: 'allow' });
    expect(verdict(c, 'shop/store', 'google-dns', 'ingress', TCP, 80)).toEqual({ kind: 'allow' });
    expect(verdict(c, 'shop/store', 'shop/mon', 'ingress', TCP, 8080)).toEqual({ kind: 'deny', reason: 'no-match' });
  });

  it('19. a deny-only policy closes the direction; adding allow-all readmits all but the denied', () => {
    const denyOnly = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-world, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: store}}
  ingressDeny: [{fromEntities: [world]}]
`;
    const c = cluster(denyOnly);
    expect(reach(c, 'shop/web', 'shop/store', TCP, 80)).toBe(false);
    expect(verdict(c, 'shop/store', 'google-dns', 'ingress', TCP, 80)).toEqual({ kind: 'deny', reason: 'denied-by-rule' });
    const withAllow = cluster(denyOnly.replace('  ingressDeny:', '  ingress: [{fromEntities: [all]}]\n  ingressDeny:'));
    expect(reach(withAllow, 'shop/web', 'shop/store', TCP, 80)).toBe(true);
    expect(reach(withAllow, 'google-dns', 'shop/store', TCP, 80)).toBe(false);
    expect(reach(withAllow, 'ext-10', 'shop/store', TCP, 80)).toBe(false);
  });

  it('20. a CCNP L3 deny beats a CNP L7 allow for the same peer: dropped, never redirected', () => {
    const c = cluster(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: store}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: web}}, {matchLabels: {app: mon}}]
      toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{path: "/.*"}]}}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: deny-web}
spec:
  endpointSelector: {matchLabels: {app: store}}
  ingressDeny: [{fromEndpoints: [{matchLabels: {app: web, k8s:io.kubernetes.pod.namespace: shop}}]}]
`);
    expect(verdict(c, 'shop/store', 'shop/web', 'ingress', TCP, 8080)).toEqual({ kind: 'deny', reason: 'denied-by-rule' });
    expect(verdict(c, 'shop/store', 'shop/mon', 'ingress', TCP, 8080)).toEqual({ kind: 'redirect', proxyPort: PROXY_PORTS.http.ingress });
  });

  it('21. a port deny beats an L3 allow only on that port and protocol', () => {
    const c = cluster(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: store, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: store}}
  ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]
  ingressDeny: [{fromEntities: [all], toPorts: [{ports: [{port: "22", protocol: TCP}]}]}]
`);
    expect(reach(c, 'shop/web', 'shop/store', TCP, 22)).toBe(false);
    expect(reach(c, 'shop/web', 'shop/store', TCP, 80)).toBe(true);
    expect(reach(c, 'shop/web', 'shop/store', UDP, 22)).toBe(true);
    expect(reach(c, 'shop/web', 'shop/store', ICMP, 8 << 8)).toBe(true);
  });

  it('22. CIDR except carves out of that entry; pod addresses inside the CIDR are not matched', () => {
    const c = cluster(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-egress, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}]
      toPorts: [{ports: [{port: "443", protocol: TCP}]}]
`);
    expect(reach(c, 'shop/api', 'ext-10', TCP, 443)).toBe(true);
    expect(reach(c, 'shop/api', 'svc-range', TCP, 443)).toBe(false);
    expect(reach(c, 'shop/api', 'shop/web', TCP, 443)).toBe(false);
    expect(reach(c, 'shop/api', 'ext-10', TCP, 80)).toBe(false);
    expect(reach(c, 'shop/api', 'kube-system/coredns', UDP, 53)).toBe(false);
  });

  it('23. entities: kube-apiserver on 6443, cluster, world; local host always reaches pods', () => {
    const c = cluster(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toEntities: [kube-apiserver]
      toPorts: [{ports: [{port: "6443", protocol: TCP}]}]
    - toEntities: [cluster]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: edge, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: edge}}
  ingress: [{fromEntities: [world]}]
`);
    expect(verdict(c, 'shop/api', 'kube-apiserver', 'egress', TCP, 6443)).toEqual({ kind: 'allow' });
    expect(verdict(c, 'shop/api', 'shop/db', 'egress', TCP, 5432)).toEqual({ kind: 'allow' });
    expect(verdict(c, 'shop/api', 'kube-system/coredns', 'egress', UDP, 53)).toEqual({ kind: 'allow' });
    expect(verdict(c, 'shop/api', 'host', 'egress', TCP, 10250)).toEqual({ kind: 'allow' });
    expect(verdict(c, 'shop/api', 'google-dns', 'egress', UDP, 53)).toEqual({ kind: 'deny', reason: 'no-match' });
    expect(reach(c, 'google-dns', 'shop/edge', TCP, 443)).toBe(true);
    expect(reach(c, 'shop/web', 'shop/edge', TCP, 443)).toBe(false);
    expect(reach(c, 'host', 'shop/edge', TCP, 8080)).toBe(true);
  });

  it('23. kube-apiserver entity reaches 6443 only; the other reserved identities not at all', () => {
    const c = cluster(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toEntities: [kube-apiserver]
      toPorts: [{ports: [{port: "6443", protocol: TCP}]}]
`);
    expect(verdict(c, 'shop/api', 'kube-apiserver', 'egress', TCP, 6443)).toEqual({ kind: 'allow' });
    expect(verdict(c, 'shop/api', 'kube-apiserver', 'egress', TCP, 443)).toEqual({ kind: 'deny', reason: 'no-match' });
    expect(verdict(c, 'shop/api', 'remote-node', 'egress', TCP, 6443)).toEqual({ kind: 'deny', reason: 'no-match' });
    expect(verdict(c, 'shop/api', 'host', 'egress', TCP, 6443)).toEqual({ kind: 'deny', reason: 'no-match' });
  });
});
