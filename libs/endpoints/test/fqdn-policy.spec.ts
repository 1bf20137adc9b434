/**
 * toFQDNs in the endpoint manager (policy-semantics §5.3) against a recording datapath: addresses of
 * DNS answers for selected names get a node-local `fqdn:` identity in the ipcache, the policy opens
 * exactly them on the rule's port, node-wide, until the TTL runs out; pod addresses keep their own
 * identity; names no selector matches allocate nothing.
 */
import type { KubeObject } from '@tendril/api-k8s';
import { lookupPolicyMap, Protocol } from '@tendril/policy';
import { ResourceStore } from '@tendril/store';
import type { PodRuntimeInfo } from '@tendril/workloads';
import { EndpointManager } from '../src';
import { RecordingDatapath } from './recording-datapath';

const quietLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function podInfo(name: string, endpointId: number, ip: string): PodRuntimeInfo {
  return { namespace: 'default', name, endpointId, network: 'netns', ip, netns: `ns-${name}`, hostInterface: `veth${endpointId}`, phase: 'Running', ready: true, restarts: 0, pids: [], env: {} };
}

const answer = (name: string, ip: string, ttl: number) => ({ questions: [{ name }], answers: [{ type: 'A', name, ttl, data: ip }] });

describe('EndpointManager toFQDNs', () => {
  let now = Date.parse('2026-01-02T03:04:05Z');
  const store = new ResourceStore();
  const datapath = new RecordingDatapath();
  const pods = [podInfo('api', 1, '10.244.0.10'), podInfo('other', 2, '10.244.0.11'), podInfo('web', 3, '10.244.0.12')];
  for (const [name, app] of [['api', 'api'], ['other', 'api'], ['web', 'web']]) {
    store.upsert({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app } }, spec: { containers: [] } } as unknown as KubeObject);
  }
  store.upsert({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name: 'fqdn', namespace: 'default' },
    spec: { endpointSelector: { matchLabels: { app: 'api' } }, egress: [{ toFQDNs: [{ matchPattern: '**.example.com' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }] },
  } as unknown as KubeObject);
  const manager = new EndpointManager({ store, datapath, localPods: () => pods, logger: quietLogger, clock: () => new Date(now) });
  const egress = (endpointId: number, ip: string, port: number): string =>
    lookupPolicyMap(datapath.policy.entries(endpointId), { identity: datapath.ipcacheMap.get(`${ip}/32`) ?? 2, direction: 'egress', protocol: Protocol.TCP, port }).kind;

  afterAll(() => manager.stop());

  it('opens a learned address on the rule’s port for every selected endpoint, once the answer is learned, until its TTL runs out', async () => {
    await manager.reconcile();
    expect(egress(1, '198.18.0.7', 443)).toBe('deny');
    await manager.learnDnsAnswer(answer('api.example.com', '198.18.0.7', 30), 'default/api');
    const id = datapath.ipcacheMap.get('198.18.0.7/32')!;
    expect(manager.identities().find((i) => i.id === id)).toMatchObject({ labels: ['fqdn:matchPattern:**.example.com'] });
    expect(id).toBeGreaterThanOrEqual(1 << 24); // node-local scope
    expect(egress(1, '198.18.0.7', 443)).toBe('allow');
    expect(egress(2, '198.18.0.7', 443)).toBe('allow');
    expect(egress(1, '198.18.0.7', 80)).toBe('deny');
    now += 31_000;
    await manager.reconcile();
    expect(datapath.ipcacheMap.has('198.18.0.7/32')).toBe(false);
    expect(egress(1, '198.18.0.7', 443)).toBe('deny');
  });

  it('names no selector matches allocate nothing; a pod address keeps its pod identity', async () => {
    const before = manager.identities().length;
    await manager.learnDnsAnswer(answer('example.org', '198.18.0.8', 30), 'default/api');
    expect(datapath.ipcacheMap.has('198.18.0.8/32')).toBe(false);
    const webIdentity = datapath.ipcacheMap.get('10.244.0.12/32');
    await manager.learnDnsAnswer(answer('web.example.com', '10.244.0.12', 30), 'default/api');
    expect(datapath.ipcacheMap.get('10.244.0.12/32')).toBe(webIdentity);
    expect(manager.identities().length).toBe(before);
    expect(egress(1, '10.244.0.12', 443)).toBe('deny');
  });
});

describe('EndpointManager toFQDNs zombies', () => {
  it('keeps an expired address open while the pod that looked it up has a connection to it in the conntrack, and closes it once that connection ended', async () => {
    let now = Date.parse('2026-01-02T03:04:05Z');
    const store = new ResourceStore();
    const datapath = new RecordingDatapath();
    store.upsert({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api', namespace: 'default', labels: { app: 'api' } }, spec: { containers: [] } } as unknown as KubeObject);
    store.upsert({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: { name: 'fqdn', namespace: 'default' },
      spec: { endpointSelector: { matchLabels: { app: 'api' } }, egress: [{ toFQDNs: [{ matchName: 'db.example.com' }], toPorts: [{ ports: [{ port: '5432', protocol: 'TCP' }] }] }] },
    } as unknown as KubeObject);
    const manager = new EndpointManager({ store, datapath, localPods: () => [podInfo('api', 1, '10.244.0.10')], logger: quietLogger, clock: () => new Date(now), fqdn: { minTtlSeconds: 10 } });
    const egress = (): string => lookupPolicyMap(datapath.policy.entries(1), { identity: datapath.ipcacheMap.get('198.18.9.1/32') ?? 2, direction: 'egress', protocol: Protocol.TCP, port: 5432 }).kind;
    const connection = (open: boolean, lastSeenMs: number) => ({ source: '10.244.0.10', destination: '198.18.9.1', sourcePort: 40000, destinationPort: 5432, protocol: 6, sourceIdentity: 0, proxyRedirect: false, open, lastSeenMs });
    try {
      await manager.reconcile();
      // TTL 1 s, but --tofqdns-min-ttl 10 s: open for 10 s.
      await manager.learnDnsAnswer(answer('db.example.com', '198.18.9.1', 1), 'default/api');
      expect(egress()).toBe('allow');
      datapath.trackedConnections = [connection(true, now + 5_000)];
      now += 11_000;
      await manager.reconcile();
      expect(egress()).toBe('allow');
      expect(manager.fqdnZombies()).toEqual([expect.objectContaining({ endpoint: 'default/api', address: '198.18.9.1', names: ['db.example.com.'] })]);
      // Another pod's connection, or one to another address, does not keep it; the ended connection neither.
      datapath.trackedConnections = [{ ...connection(true, now), source: '10.244.0.99' }, { ...connection(true, now), destination: '198.18.9.2' }, connection(false, now - 1_000)];
      now += 30_000;
      await manager.reconcile();
      expect(egress()).toBe('deny');
      expect(datapath.ipcacheMap.has('198.18.9.1/32')).toBe(false);
      expect(manager.fqdnZombies()).toEqual([]);
    } finally {
      await manager.stop();
    }
  });
});

describe('EndpointManager.identityOfAddress / dnsClientOf', () => {
  it('gives the DNS proxy the ipcache identity of a server address (world when unknown) and the pod behind a client address', async () => {
    const store = new ResourceStore();
    const datapath = new RecordingDatapath();
    store.upsert({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'dns', namespace: 'default', labels: { app: 'dns' } }, spec: { containers: [] } } as unknown as KubeObject);
    const manager = new EndpointManager({ store, datapath, localPods: () => [podInfo('dns', 1, '10.244.0.53')], logger: quietLogger });
    await manager.reconcile();
    const dns = manager.endpoint('default', 'dns')!;
    expect(manager.identityOfAddress('10.244.0.53')).toBe(dns.identity);
    expect(manager.identityOfAddress('8.8.8.8')).toBe(2);
    expect(manager.identityOfAddress('not an address')).toBe(2);
    expect(manager.dnsClientOf('10.244.0.53')).toEqual({ pod: 'default/dns', identity: dns.identity, policies: [] });
    expect(manager.dnsClientOf('10.244.0.99')).toBeUndefined();
    await manager.stop();
  });
});
