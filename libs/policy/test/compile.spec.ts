/**
 * The compiler's output itself: what the datapath receives for typical rules, that it depends on
 * identities only (scaling a Deployment writes nothing), and its errors.
 */
import { IdentityAllocator, IpCache, workloadLabels } from '@tendril/identity';
import {
  compileEndpointPolicy,
  diffPolicyMap,
  type EndpointPolicy,
  encodeKeySpace,
  lookupPolicyMap,
  policyMapEntries,
  type PolicyRule,
  Protocol,
  translatePolicy,
  validatePolicy,
  type PolicyObject,
  decide,
} from '../src';
import { PROXY_PORTS, testEnforcementOptions } from './support/cluster';

const { TCP, UDP, ICMP } = Protocol;
const MAX_KEY = 0xffffff;

function rulesOf(...policies: unknown[]): PolicyRule[] {
  return policies.flatMap((p) => {
    expect(validatePolicy(p)).toBeUndefined();
    return translatePolicy(p as PolicyObject);
  });
}

const store = workloadLabels({ namespace: 'shop', podLabels: { app: 'store' } });
const web = workloadLabels({ namespace: 'shop', podLabels: { app: 'web' } });

function compile(rules: PolicyRule[], allocator: IdentityAllocator, options = testEnforcementOptions()): EndpointPolicy {
  const result = compileEndpointPolicy(rules, { labels: store, namedPorts: { 'http-alt': [{ port: 8080, protocol: TCP }] } }, allocator.identities(), options);
  if (!result.ok) throw new Error(result.error);
  return result.policy;
}

const cnp = (spec: unknown) => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'p', namespace: 'shop' }, spec });

describe('compileEndpointPolicy', () => {
  it('expands a port range into aligned prefixes, as §6.2 says', () => {
    const allocator = new IdentityAllocator();
    const webId = allocator.allocate(web).id;
    allocator.allocate(store);
    const policy = compile(
      rulesOf(cnp({ endpointSelector: { matchLabels: { app: 'store' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: '8080', endPort: 8090, protocol: 'TCP' }] }] }] })),
      allocator,
    );
    const webEntries = policy.ingress.entries.filter((e) => e.identity === webId);
    // 8080..8090 = 8080/13 (8080-8087) + 8088/15 (8088-8089) + 8090/16, each with 8 protocol bits.
    expect(webEntries.map((e) => [e.protocol, e.port, e.prefixLength])).toEqual([
      [TCP, 8080, 21],
      [TCP, 8088, 23],
      [TCP, 8090, 24],
    ]);
    // Local-host probes stay allowed under default deny: identity 1, every protocol and port.
    expect(policy.ingress.entries.filter((e) => e.identity === 1)).toEqual([{ identity: 1, direction: 'ingress', protocol: 0, port: 0, prefixLength: 0, deny: false, proxyPort: 0 }]);
    expect(policy.egress.entries).toEqual([{ identity: 0, direction: 'egress', protocol: 0, port: 0, prefixLength: 0, deny: false, proxyPort: 0 }]);
  });

  it('writes a deny under a broad allow as one longer entry, not a tiling of the allow', () => {
    const allocator = new IdentityAllocator();
    const webId = allocator.allocate(web).id;
    const policy = compile(
      rulesOf(
        cnp({
          endpointSelector: { matchLabels: { app: 'store' } },
          ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }],
          ingressDeny: [{ toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] }],
        }),
      ),
      allocator,
    );
    expect(policy.ingress.entries.filter((e) => e.identity === webId)).toEqual([{ identity: webId, direction: 'ingress', protocol: 0, port: 0, prefixLength: 0, deny: false, proxyPort: 0 }]);
    expect(policy.ingress.entries.filter((e) => e.identity === 0)).toEqual([{ identity: 0, direction: 'ingress', protocol: TCP, port: 22, prefixLength: 24, deny: true, proxyPort: 0 }]);
  });

  it('redirects L7 ports to the proxy port of their parser and direction, ICMP types as type << 8', () => {
    const allocator = new IdentityAllocator();
    allocator.allocate(web);
    const policy = compile(
      rulesOf(
        cnp({
          endpointSelector: { matchLabels: { app: 'store' } },
          ingress: [{ toPorts: [{ ports: [{ port: 'http-alt', protocol: 'TCP' }], rules: { http: [{ path: '/' }] } }] }, { icmps: [{ fields: [{ type: 'EchoRequest' }] }] }],
          egress: [{ toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*' }] } }] }],
        }),
      ),
      allocator,
    );
    const wildcard = policy.ingress.entries.filter((e) => e.identity === 0);
    expect(wildcard).toEqual([
      { identity: 0, direction: 'ingress', protocol: ICMP, port: 8 << 8, prefixLength: 16, deny: false, proxyPort: 0 },
      { identity: 0, direction: 'ingress', protocol: TCP, port: 8080, prefixLength: 24, deny: false, proxyPort: PROXY_PORTS.http.ingress },
    ]);
    expect(policy.egress.entries.map((e) => [e.protocol, e.port, e.proxyPort])).toEqual([
      [TCP, 53, PROXY_PORTS.dns.egress],
      [UDP, 53, PROXY_PORTS.dns.egress],
      [Protocol.SCTP, 53, PROXY_PORTS.dns.egress],
    ]);
  });

  it('refuses two L7 parsers on one port for one peer, as Cilium does', () => {
    const allocator = new IdentityAllocator();
    allocator.allocate(web);
    const rules = rulesOf(
      cnp({
        endpointSelector: { matchLabels: { app: 'store' } },
        ingress: [
          { fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { kafka: [{ topic: 'a' }] } }] },
          { toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{}] } }] },
        ],
      }),
    );
    expect(compileEndpointPolicy(rules, { labels: store }, allocator.identities(), testEnforcementOptions())).toEqual({
      ok: false,
      error: 'cannot merge conflicting L7 parsers (http/kafka)',
    });
  });

  it('honours the enforcement modes always and never', () => {
    const allocator = new IdentityAllocator();
    const webId = allocator.allocate(web).id;
    const always = compile([], allocator, testEnforcementOptions({ enforcementMode: 'always', allowLocalhost: false }));
    expect(always.ingress).toEqual({ enforced: true, entries: [] });
    expect(lookupPolicyMap(policyMapEntries(always), { identity: webId, direction: 'egress', protocol: TCP, port: 80 })).toEqual({ kind: 'deny', reason: 'no-match' });
    const denyAll = rulesOf(cnp({ endpointSelector: {}, ingressDeny: [{ fromEntities: ['all'] }] }));
    const never = compile(denyAll, allocator, testEnforcementOptions({ enforcementMode: 'never' }));
    expect(lookupPolicyMap(policyMapEntries(never), { identity: webId, direction: 'ingress', protocol: TCP, port: 80 })).toEqual({ kind: 'allow' });
  });

  it('depends on identities only: scaling a Deployment from 1 to 100 replicas writes no policy-map entry', () => {
    const allocator = new IdentityAllocator();
    const ipcache = new IpCache();
    const rules = rulesOf(
      cnp({ endpointSelector: { matchLabels: { app: 'store' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] }] }),
    );
    const replica = (i: number) => workloadLabels({ namespace: 'shop', podLabels: { app: 'web', 'pod-template-hash': `h${i}` } });
    ipcache.upsert('10.244.0.1', allocator.allocate(replica(0)).id);
    const before = policyMapEntries(compile(rules, allocator));
    for (let i = 1; i < 100; i++) {
      const identity = allocator.allocate(replica(i));
      expect(identity.isNew).toBe(false);
      ipcache.upsert(`10.244.0.${i + 1}`, identity.id);
    }
    const after = policyMapEntries(compile(rules, allocator));
    expect(diffPolicyMap(before, after)).toEqual({ upserts: [], deletes: [] });
    expect(ipcache.size).toBe(100);
    // A new identity (another app) that no rule selects does not touch the map either.
    allocator.allocate(workloadLabels({ namespace: 'shop', podLabels: { app: 'batch' } }));
    expect(diffPolicyMap(after, policyMapEntries(compile(rules, allocator)))).toEqual({ upserts: [], deletes: [] });
  });

  it('diffs map contents into upserts and deletes', () => {
    const allocator = new IdentityAllocator();
    const webId = allocator.allocate(web).id;
    const port = (p: string) =>
      policyMapEntries(
        compile(rulesOf(cnp({ endpointSelector: { matchLabels: { app: 'store' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: p, protocol: 'TCP' }] }] }] })), allocator),
      );
    const diff = diffPolicyMap(port('80'), port('443'));
    expect(diff.upserts).toEqual([{ identity: webId, direction: 'ingress', protocol: TCP, port: 443, prefixLength: 24, deny: false, proxyPort: 0 }]);
    expect(diff.deletes).toEqual([{ identity: webId, direction: 'ingress', protocol: TCP, port: 80, prefixLength: 24, deny: false, proxyPort: 0 }]);
  });

  it('explains its verdicts through decide, naming the deciding rule', () => {
    const allocator = new IdentityAllocator();
    const webIdentity = allocator.allocate(web);
    const rules = rulesOf(
      cnp({ endpointSelector: { matchLabels: { app: 'store' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }], ingressDeny: [{ toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] }] }),
    );
    const options = testEnforcementOptions();
    expect(decide(rules, { labels: store }, { peer: webIdentity, direction: 'ingress', protocol: TCP, port: 22 }, options).reason).toBe(
      'denied by CiliumNetworkPolicy shop/p rule 0 ingressDeny[0]',
    );
    expect(decide(rules, { labels: store }, { peer: webIdentity, direction: 'ingress', protocol: TCP, port: 80 }, options).reason).toBe(
      'allowed by CiliumNetworkPolicy shop/p rule 0 ingress[0]',
    );
    expect(decide(rules, { labels: store }, { peer: webIdentity, direction: 'egress', protocol: TCP, port: 80 }, options).reason).toBe(
      'egress is not enforced: no rule with an egress section selects the endpoint',
    );
  });
});

describe('encodeKeySpace', () => {
  it('rejects segments that do not cover the key space', () => {
    expect(() => encodeKeySpace([{ lo: 0, hi: 10, value: 'x' }], (a, b) => a === b)).toThrow('key segments must cover the whole protocol/port space');
  });

  it('writes prefixes whose longest match gives every key its segment’s value (random key spaces)', () => {
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const VALUES = [undefined, 'a', 'b', 'c'];
    /** Longest-prefix lookup over the written entries, as the datapath does. */
    const lookup = (entries: ReturnType<typeof encodeKeySpace<string>>, key: number): string | undefined => {
      let best: { length: number; value: string } | undefined;
      for (const e of entries) {
        const portBits = e.prefixLength - 8;
        const covers = e.prefixLength === 0 || (e.protocol === key >>> 16 && (portBits === 0 || e.port >>> (16 - portBits) === (key & 0xffff) >>> (16 - portBits)));
        if (covers && (!best || e.prefixLength > best.length)) best = { length: e.prefixLength, value: e.value };
      }
      return best?.value;
    };
    for (let round = 0; round < 200; round++) {
      // Boundaries cluster on a few protocols and ports, as policies do; whole-protocol runs too.
      const cuts = new Set<number>();
      for (let i = 0; i < 1 + next(6); i++) {
        const protocol = [0, 1, 6, 17, 132, 255][next(6)]!;
        cuts.add(next(3) === 0 ? protocol << 16 : (protocol << 16) | next(0x10000));
      }
      const bounds = [...cuts].filter((c) => c > 0).sort((a, b) => a - b);
      const segments: { lo: number; hi: number; value: string | undefined }[] = [];
      let lo = 0;
      for (const cut of [...bounds, MAX_KEY + 1]) {
        let value = VALUES[next(VALUES.length)];
        if (segments.length > 0 && segments[segments.length - 1]!.value === value) value = VALUES[(VALUES.indexOf(value) + 1) % VALUES.length];
        segments.push({ lo, hi: cut - 1, value });
        lo = cut;
      }
      const entries = encodeKeySpace(segments, (a, b) => a === b);
      for (const segment of segments) {
        for (const key of [segment.lo, segment.hi, (segment.lo + segment.hi) >>> 1]) {
          expect({ round, key, value: lookup(entries, key) }).toEqual({ round, key, value: segment.value });
        }
      }
    }
  });
});
