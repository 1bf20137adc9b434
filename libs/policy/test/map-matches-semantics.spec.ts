/**
 * Property test: for many random policy sets, the compiled policy map looked up the way the
 * datapath does (`lookupPolicyMap`) gives the same verdict as the reference engine (`decide`) for
 * every probe: every identity × direction × protocol × interesting port, on every endpoint.
 */
import { type PolicyMapEntry, policyMapEntries, Protocol, validatePolicy } from '../src';
import { TestCluster } from './support/cluster';

/** Small seeded PRNG (mulberry32) so a failure names a reproducible seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

const BASE_PORTS = [0, 22, 53, 80, 443, 8080, 1000];
const CIDRS = [
  { cidr: '10.0.0.0/8', except: ['10.96.0.0/12'] },
  { cidr: '10.96.0.0/12', except: [] },
  { cidr: '192.168.0.0/16', except: ['192.168.1.0/24'] },
  { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] },
  { cidr: '172.16.0.0/12', except: [] },
  { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] },
  { cidr: '::/0', except: [] },
];

function randomPorts(rng: Rng, ranges: Set<number>, l7: 'http' | 'dns' | undefined) {
  const ports = [];
  for (let i = 0, n = 1 + rng.int(3); i < n; i++) {
    const port = l7 ? rng.pick([53, 80, 443, 8080]) : rng.pick(BASE_PORTS);
    const entry: { port: string; endPort?: number; protocol?: string } = { port: String(port) };
    if (!l7 && port !== 0 && rng.chance(0.3)) {
      entry.endPort = port + rng.int(400);
      ranges.add(entry.endPort);
    }
    ranges.add(port);
    const protocol = l7 === 'http' ? 'TCP' : rng.pick(['TCP', 'UDP', 'SCTP', 'ANY', undefined]);
    if (protocol) entry.protocol = protocol;
    ports.push(entry);
  }
  return ports;
}

function randomItem(rng: Rng, ingress: boolean, deny: boolean, ranges: Set<number>) {
  const item: Record<string, unknown> = {};
  const side = ingress ? 'from' : 'to';
  switch (rng.int(6)) {
    case 0:
      item[`${side}Endpoints`] = [{ matchLabels: { app: rng.pick(['a', 'b', 'c']) } }];
      break;
    case 1:
      item[`${side}Endpoints`] = [rng.pick([{}, { matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'n2' } }, { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['a'] }] }])];
      break;
    case 2:
      item[`${side}Entities`] = [rng.pick(['world', 'cluster', 'host', 'all', 'remote-node', 'kube-apiserver'])];
      break;
    case 3: {
      const c = rng.pick(CIDRS);
      if (rng.chance(0.5)) item[`${side}CIDRSet`] = [{ cidr: c.cidr, except: c.except }];
      else item[`${side}CIDR`] = [c.cidr];
      break;
    }
    default:
      break; // no peer: any peer (with ports) or nothing (without)
  }
  const l7 = !deny && rng.chance(0.25) ? (ingress ? 'http' : 'dns') : undefined;
  if (rng.chance(0.15) && !l7) {
    item.icmps = [{ fields: [{ type: rng.pick([0, 8, 'DestinationUnreachable']) }] }];
  } else if (rng.chance(0.7) || l7) {
    const ports = randomPorts(rng, ranges, l7);
    const portRule: Record<string, unknown> = { ports };
    if (l7 === 'http') portRule.rules = { http: [{ method: 'GET' }] };
    if (l7 === 'dns') {
      for (const p of ports) delete p.endPort;
      portRule.rules = { dns: [{ matchPattern: '*' }] };
    }
    item.toPorts = [portRule];
  }
  return item;
}

function randomRule(rng: Rng, ranges: Set<number>) {
  const rule: Record<string, unknown> = {
    endpointSelector: rng.pick([{}, { matchLabels: { app: 'a' } }, { matchLabels: { app: 'b' } }, { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'c'] }] }]),
  };
  for (const section of ['ingress', 'egress', 'ingressDeny', 'egressDeny']) {
    if (!rng.chance(section.endsWith('Deny') ? 0.3 : 0.6)) continue;
    const n = rng.int(3) + (rng.chance(0.1) ? 0 : 1);
    rule[section] = Array.from({ length: n }, () => randomItem(rng, section.startsWith('ingress'), section.endsWith('Deny'), ranges));
  }
  if (rng.chance(0.15)) rule.enableDefaultDeny = { [rng.pick(['ingress', 'egress'])]: rng.chance(0.5) };
  return rule;
}

function randomKnp(rng: Rng, name: string, ranges: Set<number>) {
  const peer = () =>
    rng.pick([
      { podSelector: { matchLabels: { app: rng.pick(['a', 'b', 'c']) } } },
      { namespaceSelector: { matchLabels: { team: rng.pick(['x', 'y']) } } },
      { namespaceSelector: {} },
      { ipBlock: { cidr: '10.0.0.0/8', except: ['10.96.0.0/12'] } },
      { podSelector: { matchLabels: { app: 'a' } }, namespaceSelector: { matchLabels: { team: 'y' } } },
    ]);
  const ports = () => {
    const port = rng.pick([22, 53, 80, 443, 8080]);
    ranges.add(port);
    const p: Record<string, unknown> = { port, protocol: rng.pick(['TCP', 'UDP', 'SCTP']) };
    if (rng.chance(0.3)) {
      p.endPort = port + rng.int(200);
      ranges.add(p.endPort as number);
    }
    if (rng.chance(0.15)) {
      delete p.port;
      delete p.endPort;
    }
    return p;
  };
  const rules = (side: string) =>
    Array.from({ length: rng.int(3) }, () => ({
      ...(rng.chance(0.7) ? { [side]: Array.from({ length: 1 + rng.int(2) }, peer) } : {}),
      ...(rng.chance(0.6) ? { ports: Array.from({ length: 1 + rng.int(2) }, ports) } : {}),
    }));
  const spec: Record<string, unknown> = { podSelector: rng.pick([{}, { matchLabels: { app: 'a' } }]) };
  if (rng.chance(0.8)) spec.ingress = rules('from');
  if (rng.chance(0.5)) spec.egress = rules('to');
  if (rng.chance(0.4)) spec.policyTypes = rng.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]);
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: rng.pick(['n1', 'n2']) }, spec };
}

function randomPolicies(rng: Rng, ranges: Set<number>): unknown[] {
  const policies: unknown[] = [];
  for (let i = 0, n = 1 + rng.int(4); i < n; i++) {
    const name = `p${i}`;
    const kind = rng.pick(['CiliumNetworkPolicy', 'CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy']);
    if (kind === 'NetworkPolicy') policies.push(randomKnp(rng, name, ranges));
    else {
      const metadata = kind === 'CiliumNetworkPolicy' ? { name, namespace: rng.pick(['n1', 'n2']) } : { name };
      const body = rng.chance(0.2) ? { specs: [randomRule(rng, ranges), randomRule(rng, ranges)] } : { spec: randomRule(rng, ranges) };
      policies.push({ apiVersion: 'cilium.io/v2', kind, metadata, ...body });
    }
  }
  return policies;
}

/** The key shapes the BPF map can hold (policy-map.ts): protocol exact unless prefix 0, no stray port bits. */
function expectWellFormed(entry: PolicyMapEntry): void {
  const { prefixLength, protocol, port } = entry;
  const ok =
    Number.isInteger(prefixLength) &&
    (prefixLength === 0 ? protocol === 0 && port === 0 : prefixLength >= 8 && prefixLength <= 24) &&
    protocol >= 0 &&
    protocol <= 255 &&
    (port & ~(0xffff << (16 - Math.max(0, prefixLength - 8))) & 0xffff) === 0 &&
    !(entry.deny && entry.proxyPort !== 0);
  if (!ok) throw new Error(`malformed policy-map entry ${JSON.stringify(entry)}`);
}

const PODS = [
  { name: 'a', namespace: 'n1', labels: { app: 'a' } },
  { name: 'b', namespace: 'n1', labels: { app: 'b' } },
  { name: 'a', namespace: 'n2', labels: { app: 'a' } },
  { name: 'c', namespace: 'n2', labels: { app: 'c' } },
];

describe('compiled policy map ≡ reference semantics', () => {
  it('agrees on every probe for 80 random policy sets', () => {
    let probes = 0;
    const kinds = new Map<string, number>();
    let validSets = 0;
    for (let seed = 1; seed <= 80; seed++) {
      const rng = prng(seed);
      const ranges = new Set<number>();
      const policies = randomPolicies(rng, ranges).filter((p) => validatePolicy(p) === undefined);
      if (policies.length > 0) validSets++;
      const cluster = new TestCluster({
        namespaces: [
          { name: 'n1', labels: { team: 'x' } },
          { name: 'n2', labels: { team: 'y' } },
        ],
        pods: PODS,
      });
      expect(Object.fromEntries(cluster.apply(policies))).toEqual({});
      const ports = new Set<number>([0, 1, 65535]);
      for (const p of [...ranges, ...BASE_PORTS]) for (const d of [-1, 0, 1]) if (p + d >= 0 && p + d <= 65535) ports.add(p + d);
      const identities = cluster.allocator.identities();
      for (const pod of PODS) {
        const endpoint = `${pod.namespace}/${pod.name}`;
        for (const entry of policyMapEntries(cluster.compiledFor(endpoint))) expectWellFormed(entry);
        for (const identity of identities) {
          const peerName = cluster.nameOf(identity.id);
          for (const direction of ['ingress', 'egress'] as const) {
            for (const protocol of [Protocol.TCP, Protocol.UDP, Protocol.SCTP, 47]) {
              for (const port of ports) {
                const v = cluster.verdict(endpoint, peerName, direction, protocol, port);
                if (JSON.stringify(v.map) !== JSON.stringify(v.reference)) {
                  throw new Error(
                    `seed ${seed}: ${endpoint} ${direction} peer ${identity.id} proto ${protocol} port ${port}: map ${JSON.stringify(v.map)} ≠ semantics ${JSON.stringify(v.reference)}\n${JSON.stringify(policies, null, 1)}`,
                  );
                }
                probes++;
                const kind = v.map.kind === 'deny' ? v.map.reason : v.map.kind;
                kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
              }
            }
            for (const icmp of [0, 8 << 8, (3 << 8) | 1, 11 << 8]) {
              const v = cluster.verdict(endpoint, peerName, direction, Protocol.ICMP, icmp);
              expect(v.map).toEqual(v.reference);
              probes++;
            }
          }
        }
      }
    }
    expect(validSets).toBeGreaterThan(70);
    expect(probes).toBeGreaterThan(100_000);
    // The random sets exercise every outcome, not just "open".
    for (const kind of ['allow', 'redirect', 'denied-by-rule', 'no-match']) expect(kinds.get(kind) ?? 0).toBeGreaterThan(1000);
  });
});
