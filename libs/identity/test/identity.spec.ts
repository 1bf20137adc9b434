import {
  cidrOfIdentity,
  defaultLabelFilter,
  formatLabelSet,
  IdentityAllocator,
  IpCache,
  label,
  LabelFilter,
  labelSet,
  MIN_LOCAL_IDENTITY,
  parseIpPrefix,
  parseIpPrefixOrAddress,
  formatIpPrefix,
  formatLabel,
  isLocalIdentity,
  isReservedIdentity,
  parseLabel,
  podLabels,
  prefixContains,
  RESERVED_IDENTITIES,
  ReservedIdentity,
  reservedIdentityByName,
  reservedIdentityName,
  workloadLabels,
} from '../src';
import type { Pod } from '@tendril/api-k8s';

describe('label filter', () => {
  it('drops per-replica and Kubernetes-internal labels and keeps the rest', () => {
    const labels = workloadLabels({
      namespace: 'shop',
      podLabels: {
        app: 'web',
        'app.kubernetes.io/name': 'web',
        'pod-template-hash': '7d9f8',
        'controller-revision-hash': 'abc',
        'statefulset.kubernetes.io/pod-name': 'web-0',
        'apps.kubernetes.io/pod-index': '0',
        'batch.kubernetes.io/job-completion-index': '3',
        'kubernetes.io/hostname': 'n1',
        'topology.beta.kubernetes.io/zone': 'z',
        'k8s.io/x': 'y',
        'io.kubernetes.container.name': 'c',
        'annotation.foo': 'bar',
        tier: 'front',
      },
      namespaceLabels: { team: 'a', 'kubernetes.io/metadata.name': 'shop' },
      serviceAccount: 'web-sa',
    });
    expect(formatLabelSet(labels)).toBe(
      [
        'k8s:app=web',
        'k8s:app.kubernetes.io/name=web',
        'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop',
        'k8s:io.cilium.k8s.namespace.labels.team=a',
        'k8s:io.cilium.k8s.policy.cluster=default',
        'k8s:io.cilium.k8s.policy.serviceaccount=web-sa',
        'k8s:io.kubernetes.pod.namespace=shop',
        'k8s:tier=front',
      ].join(', '),
    );
  });

  it('keeps reserved labels whatever the patterns say', () => {
    const filter = new LabelFilter(['!.*']);
    expect(filter.keeps(label('reserved', 'host'))).toBe(true);
    expect(filter.keeps(label('k8s', 'app', 'x'))).toBe(false);
  });

  it('lets the longer include win over a shorter exclusion', () => {
    expect(defaultLabelFilter.keeps(label('k8s', 'io.kubernetes.pod.namespace', 'a'))).toBe(true);
    expect(defaultLabelFilter.keeps(label('k8s', 'io.kubernetes.pod.name', 'a'))).toBe(false);
  });

  it('keeps only included labels when asked to', () => {
    const filter = new LabelFilter(['team', 'io\\.kubernetes\\.pod\\.namespace'], true);
    expect(filter.filter([label('k8s', 'team', 'a'), label('k8s', 'app', 'x')]).map((l) => l.key)).toEqual(['team']);
  });

  it('rejects a pattern that is not a regular expression with a clear error', () => {
    expect(() => new LabelFilter(['(unclosed'])).toThrow(/invalid label filter pattern "\(unclosed"/);
  });

  it('derives the label set of a Pod object, defaulting the service account and namespace name label', () => {
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-1', namespace: 'shop', labels: { app: 'web' } },
      spec: { containers: [] },
    };
    const labels = podLabels(pod, undefined, { clusterName: 'east' });
    expect(formatLabelSet(labels)).toContain('k8s:io.cilium.k8s.policy.serviceaccount=default');
    expect(formatLabelSet(labels)).toContain('k8s:io.cilium.k8s.policy.cluster=east');
    expect(formatLabelSet(labels)).toContain('k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop');
  });
});

describe('identity allocator', () => {
  const web = (extra: Record<string, string> = {}) => workloadLabels({ namespace: 'shop', podLabels: { app: 'web', ...extra } });

  it('has the reserved identities with their fixed numbers', () => {
    const byName = Object.fromEntries(RESERVED_IDENTITIES.map((r) => [r.labels[0].key, r.id]));
    expect(byName).toEqual({
      host: 1,
      world: 2,
      unmanaged: 3,
      health: 4,
      init: 5,
      'remote-node': 6,
      'kube-apiserver': 7,
      ingress: 8,
      'world-ipv4': 9,
      'world-ipv6': 10,
    });
    const allocator = new IdentityAllocator();
    expect(allocator.allocate(labelSet([label('reserved', 'host')])).id).toBe(ReservedIdentity.HOST);
  });

  it('gives identical label sets one identity from 256 up, whatever the replica-specific labels', () => {
    const allocator = new IdentityAllocator();
    const first = allocator.allocate(web({ 'pod-template-hash': 'aaa' }));
    const second = allocator.allocate(web({ 'pod-template-hash': 'bbb' }));
    const other = allocator.allocate(workloadLabels({ namespace: 'shop', podLabels: { app: 'db' } }));
    expect(first).toMatchObject({ id: 256, isNew: true });
    expect(second).toMatchObject({ id: 256, isNew: false });
    expect(other.id).toBe(257);
    expect(allocator.references(256)).toBe(2);
  });

  it('releases an identity on its last reference only, and gives the same set its old number back', () => {
    const allocator = new IdentityAllocator();
    const a = allocator.allocate(web());
    allocator.allocate(web());
    expect(allocator.release(a.id)).toBe(false);
    expect(allocator.get(a.id)).toBeDefined();
    expect(allocator.release(a.id)).toBe(true);
    expect(allocator.get(a.id)).toBeUndefined();
    allocator.allocate(workloadLabels({ namespace: 'shop', podLabels: { app: 'db' } }));
    expect(allocator.allocate(web()).id).toBe(a.id);
  });

  it('recycles released numbers when the range is exhausted and fails clearly when none are left', () => {
    const allocator = new IdentityAllocator({ minGlobal: 256, maxGlobal: 257 });
    const sets = ['a', 'b', 'c'].map((app) => workloadLabels({ namespace: 'x', podLabels: { app } }));
    const a = allocator.allocate(sets[0]);
    allocator.allocate(sets[1]);
    expect(() => allocator.allocate(sets[2])).toThrow('global identity space 256..257 is exhausted');
    allocator.release(a.id);
    expect(allocator.allocate(sets[2]).id).toBe(a.id);
  });

  it('gives CIDR prefixes node-local identities from 16777217 and maps /0 to world', () => {
    const allocator = new IdentityAllocator();
    const ten = allocator.allocateCidr('10.0.0.0/8');
    expect(ten.id).toBe(MIN_LOCAL_IDENTITY);
    expect(ten.id).toBe(16777217);
    expect(allocator.allocateCidr('10.0.0.0/8').id).toBe(ten.id);
    expect(allocator.allocateCidr('10.96.0.0/12').id).toBe(16777218);
    expect(formatLabelSet(ten.labels)).toBe('cidr:10.0.0.0/8, reserved:world');
    expect(formatIpPrefix(cidrOfIdentity(ten)!)).toBe('10.0.0.0/8');
    expect(allocator.allocateCidr('0.0.0.0/0').id).toBe(ReservedIdentity.WORLD);
    expect(allocator.allocateCidr('1.2.3.4').labels[0].key).toBe('1.2.3.4/32');
    expect(allocator.release(ten.id)).toBe(false);
    expect(allocator.release(ten.id)).toBe(true);
  });

  it('lists reserved and allocated identities for the policy compiler', () => {
    const allocator = new IdentityAllocator();
    allocator.allocate(web());
    expect(allocator.identities().map((i) => i.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 256]);
  });
});

describe('IP prefixes', () => {
  it('parses and formats IPv4 and IPv6 prefixes, clearing host bits', () => {
    expect(formatIpPrefix(parseIpPrefix('10.1.2.3/8'))).toBe('10.0.0.0/8');
    expect(formatIpPrefix(parseIpPrefix('2001:db8::1/32'))).toBe('2001:db8::/32');
    expect(formatIpPrefix(parseIpPrefixOrAddress('::ffff:1.2.3.4'))).toBe('::ffff:102:304/128');
    expect(formatIpPrefix(parseIpPrefixOrAddress('fe80:0:0:1::'))).toBe('fe80:0:0:1::/128');
  });

  it('gives netip-worded errors', () => {
    expect(() => parseIpPrefix('10.0.0.0')).toThrow(`netip.ParsePrefix("10.0.0.0"): no '/'`);
    expect(() => parseIpPrefix('10.0.0.0/33')).toThrow('netip.ParsePrefix("10.0.0.0/33"): prefix length out of range');
    expect(() => parseIpPrefix('10.0.0.256/8')).toThrow('netip.ParsePrefix("10.0.0.256/8"): ParseAddr("10.0.0.256"): unable to parse IP');
    expect(() => parseIpPrefix('10.0.0.0/x')).toThrow('bad bits after slash: "x"');
    expect(() => parseIpPrefixOrAddress('1::2::3')).toThrow('ParseAddr("1::2::3"): unable to parse IP');
  });

  it('tells containment', () => {
    expect(prefixContains(parseIpPrefix('10.0.0.0/8'), parseIpPrefix('10.96.0.0/12'))).toBe(true);
    expect(prefixContains(parseIpPrefix('10.96.0.0/12'), parseIpPrefix('10.0.0.0/8'))).toBe(false);
    expect(prefixContains(parseIpPrefix('10.0.0.0/8'), parseIpPrefix('11.0.0.0/8'))).toBe(false);
    expect(prefixContains(parseIpPrefix('0.0.0.0/0'), parseIpPrefix('::/0'))).toBe(false);
  });
});

describe('ipcache', () => {
  it('resolves by longest prefix and falls back to world', () => {
    const cache = new IpCache();
    expect(cache.upsert('10.0.0.0/8', 16777217)).toBe('added');
    cache.upsert('10.96.0.0/12', 16777218);
    cache.upsert('10.244.1.5', 256);
    expect(cache.lookup('10.1.2.3')).toBe(16777217);
    expect(cache.lookup('10.96.0.10')).toBe(16777218);
    expect(cache.lookup('10.244.1.5')).toBe(256);
    expect(cache.lookup('10.244.1.6')).toBe(16777217);
    expect(cache.lookup('8.8.8.8')).toBe(ReservedIdentity.WORLD);
    expect(cache.lookup('2001:db8::1')).toBe(ReservedIdentity.WORLD);
    expect(cache.upsert('10.244.1.5/32', 256)).toBe('unchanged');
    expect(cache.upsert('10.244.1.5/32', 257)).toBe('updated');
    expect(cache.delete('10.244.1.5')).toBe(true);
    expect(cache.lookup('10.244.1.5')).toBe(16777217);
    expect(cache.entries()).toEqual([
      { prefix: '10.0.0.0/8', identity: 16777217 },
      { prefix: '10.96.0.0/12', identity: 16777218 },
    ]);
  });

  it('splits world by family in dual-stack mode', () => {
    const cache = new IpCache({ dualStack: true });
    expect(cache.lookup('1.1.1.1')).toBe(ReservedIdentity.WORLD_IPV4);
    expect(cache.lookup('::1')).toBe(ReservedIdentity.WORLD_IPV6);
  });

  it('rejects an unparseable address with a clear error', () => {
    expect(() => new IpCache().lookup('not-an-ip')).toThrow('ParseAddr("not-an-ip"): unable to parse IP');
  });
});

describe('labels', () => {
  it('parses and formats source:key=value, defaulting the source', () => {
    expect(parseLabel('k8s:app=web')).toEqual({ source: 'k8s', key: 'app', value: 'web' });
    expect(parseLabel('reserved:host')).toEqual({ source: 'reserved', key: 'host', value: '' });
    expect(parseLabel('app.kubernetes.io/name=db', 'k8s')).toEqual({ source: 'k8s', key: 'app.kubernetes.io/name', value: 'db' });
    expect(parseLabel('a=b=c')).toEqual({ source: 'unspec', key: 'a', value: 'b=c' });
    expect(formatLabel(parseLabel('k8s:app=web'))).toBe('k8s:app=web');
  });

  it('canonicalises label sets: order does not matter, a later duplicate wins', () => {
    const a = labelSet([label('k8s', 'b', '2'), label('k8s', 'a', '1')]);
    const b = labelSet([label('k8s', 'a', '0'), label('k8s', 'a', '1'), label('k8s', 'b', '2')]);
    expect(formatLabelSet(a)).toBe('k8s:a=1, k8s:b=2');
    expect(b).toEqual(a);
  });

  it('tells identity scopes apart', () => {
    expect(isLocalIdentity(16777217)).toBe(true);
    expect(isLocalIdentity(256)).toBe(false);
    expect(isReservedIdentity(7)).toBe(true);
    expect(isReservedIdentity(256)).toBe(false);
    expect(reservedIdentityByName('kube-apiserver')).toBe(7);
    expect(reservedIdentityName(8)).toBe('ingress');
  });
});
