/**
 * The endpoint manager's logic against a recording datapath: identities, ipcache, per-endpoint
 * policy (written as deltas, never widened by a bad policy, fail-closed on a failed write), services.
 */
import type { KubeObject } from '@tendril/api-k8s';
import { lookupPolicyMap, Protocol } from '@tendril/policy';
import { ResourceStore } from '@tendril/store';
import type { PodRuntimeInfo } from '@tendril/workloads';
import { EndpointManager, type EndpointManagerOptions, type ObjectError } from '../src';
import { RecordingDatapath } from './recording-datapath';

const quietLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function pod(name: string, labels: Record<string, string>, namespace = 'default', ports: { name: string; containerPort: number }[] = [{ name: 'http', containerPort: 8080 }]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'app', image: 'ignored', ports }] },
  } as KubeObject;
}

const cnp = (name: string, spec: unknown): KubeObject => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: 'default' }, spec }) as KubeObject;

/** server accepts TCP 8080 from client only. */
const allowClientToServer = cnp('server-ingress', {
  endpointSelector: { matchLabels: { app: 'server' } },
  ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }] }],
});

class Node {
  readonly store = new ResourceStore();
  readonly datapath = new RecordingDatapath();
  readonly pods: PodRuntimeInfo[] = [];
  sourceErrors: ObjectError[] = [];
  readonly manager: EndpointManager;
  private nextEndpointId = 1;
  private nextIp = 10;

  constructor(options: Partial<EndpointManagerOptions> = {}) {
    this.manager = new EndpointManager({
      store: this.store,
      datapath: this.datapath,
      localPods: () => this.pods,
      logger: quietLogger,
      nodeAddresses: () => ['192.168.1.5', '10.244.0.1'],
      sourceErrors: () => this.sourceErrors,
      clock: () => new Date('2026-01-02T03:04:05Z'),
      ...options,
    });
  }

  /** Runs a pod on the node: its object in the store, its sandbox in the runner's list. */
  run(name: string, labels: Record<string, string>, namespace = 'default'): PodRuntimeInfo {
    this.store.upsert(pod(name, { ...labels, 'pod-template-hash': `h${this.nextEndpointId}` }, namespace));
    const id = this.nextEndpointId++;
    const info: PodRuntimeInfo = {
      namespace,
      name,
      endpointId: id,
      network: 'netns',
      ip: `10.244.${this.nextIp >> 8}.${this.nextIp++ & 0xff}`,
      netns: `tdl-${id}-${name}`,
      hostInterface: `veth${id}`,
      phase: 'Running',
      ready: true,
      restarts: 0,
      pids: [],
      env: {},
    };
    this.pods.push(info);
    return info;
  }

  remove(name: string): void {
    const i = this.pods.findIndex((p) => p.name === name);
    const [gone] = this.pods.splice(i, 1);
    this.store.delete(`/Pod/${gone!.namespace}/${gone!.name}`);
  }

  /** What the datapath decides for a TCP connection from one pod to another pod's port. */
  verdict(from: PodRuntimeInfo, to: PodRuntimeInfo, port: number): string {
    const fromIdentity = this.datapath.ipcacheMap.get(`${from.ip}/32`)!;
    const toIdentity = this.datapath.ipcacheMap.get(`${to.ip}/32`)!;
    const egress = lookupPolicyMap(this.datapath.policy.entries(from.endpointId), { identity: toIdentity, direction: 'egress', protocol: Protocol.TCP, port });
    if (egress.kind === 'deny') return 'deny';
    return lookupPolicyMap(this.datapath.policy.entries(to.endpointId), { identity: fromIdentity, direction: 'ingress', protocol: Protocol.TCP, port }).kind;
  }
}

describe('EndpointManager', () => {
  it('gives replicas with the same labels one identity and writes their endpoint and ipcache entries', async () => {
    const node = new Node();
    const a = node.run('server-1', { app: 'server' });
    const b = node.run('server-2', { app: 'server' });
    const c = node.run('client-1', { app: 'client' });
    await node.manager.reconcile();
    const endpoints = node.manager.listEndpoints();
    expect(endpoints.map((e) => [e.name, e.state])).toEqual([
      ['server-1', 'ready'],
      ['server-2', 'ready'],
      ['client-1', 'ready'],
    ]);
    expect(endpoints[0]!.identity).toBe(endpoints[1]!.identity);
    expect(endpoints[2]!.identity).not.toBe(endpoints[0]!.identity);
    expect(endpoints[0]!.identity).toBeGreaterThanOrEqual(256);
    expect([...node.datapath.attached.keys()].sort()).toEqual(['veth1', 'veth2', 'veth3']);
    expect(node.datapath.endpointMap.get(a.ip)).toMatchObject({ endpointId: 1, identity: endpoints[0]!.identity });
    expect(node.datapath.ipcacheMap.get(`${b.ip}/32`)).toBe(endpoints[1]!.identity);
    expect(node.datapath.ipcacheMap.get(`${c.ip}/32`)).toBe(endpoints[2]!.identity);
    // The node's own addresses are the host identity.
    expect(node.datapath.ipcacheMap.get('192.168.1.5/32')).toBe(1);
    expect(node.datapath.ipcacheMap.get('10.244.0.1/32')).toBe(1);
    // The identity's labels: filtered (no pod-template-hash), with namespace and service account.
    const identity = node.manager.identities().find((i) => i.id === endpoints[0]!.identity)!;
    expect(identity.labels).toEqual(
      expect.arrayContaining(['k8s:app=server', 'k8s:io.kubernetes.pod.namespace=default', 'k8s:io.cilium.k8s.policy.serviceaccount=default']),
    );
    expect(identity.labels.some((l) => l.includes('pod-template-hash'))).toBe(false);
    expect(identity.endpoints).toBe(2);
    expect(node.manager.identities().find((i) => i.id === 2)?.labels).toEqual(['reserved:world']);
  });

  it('enforces a CiliumNetworkPolicy: the selected identity may connect, others may not', async () => {
    const node = new Node();
    const server = node.run('server-1', { app: 'server' });
    const client = node.run('client-1', { app: 'client' });
    const other = node.run('other-1', { app: 'other' });
    await node.manager.reconcile();
    // No policy yet: everything is allowed.
    expect(node.verdict(other, server, 8080)).toBe('allow');
    node.store.upsert(allowClientToServer);
    await node.manager.reconcile();
    expect(node.verdict(client, server, 8080)).toBe('allow');
    expect(node.verdict(client, server, 9090)).toBe('deny');
    expect(node.verdict(other, server, 8080)).toBe('deny');
    // Egress is not restricted by an ingress-only policy.
    expect(node.verdict(server, client, 8080)).toBe('allow');
    expect(node.manager.endpoint('default', 'server-1')?.enforcement).toEqual({ ingress: true, egress: false });
    // The policy object is marked valid, as Cilium marks it.
    const stored = node.store.get<KubeObject & { status?: { conditions?: unknown[] } }>('cilium.io/CiliumNetworkPolicy/default/server-ingress');
    expect(stored?.status?.conditions).toEqual([
      { type: 'Valid', status: 'True', reason: 'ValidationSucceeded', message: 'Policy validation succeeded', lastTransitionTime: '2026-01-02T03:04:05Z' },
    ]);
    // Deleting the policy opens the server again.
    node.store.delete('cilium.io/CiliumNetworkPolicy/default/server-ingress');
    await node.manager.reconcile();
    expect(node.verdict(other, server, 8080)).toBe('allow');
  });

  it('scaling a Deployment from 1 to 100 replicas writes nothing to the policy of existing endpoints', async () => {
    const node = new Node();
    node.store.upsert(allowClientToServer);
    node.run('server-0', { app: 'server' });
    node.run('client-0', { app: 'client' });
    await node.manager.reconcile();
    const existing = node.manager.listEndpoints().map((e) => e.endpointId);
    const writesBefore = node.datapath.totalPolicyWrites(existing);
    const entriesBefore = existing.map((id) => node.datapath.policy.entries(id));
    expect(writesBefore).toBeGreaterThan(0);
    const ipcacheBefore = node.datapath.ipcacheMap.size;
    expect(node.manager.status().lastReconcile).toMatchObject({ compilations: 2 });

    const added = Array.from({ length: 99 }, (_, i) => node.run(`client-${i + 1}`, { app: 'client' }));
    await node.manager.reconcile();

    expect(node.datapath.totalPolicyWrites(existing)).toBe(writesBefore);
    // Compiled per identity and cached: the new replicas reuse the clients' compilation.
    expect(node.manager.status().lastReconcile).toMatchObject({ compilations: 0 });
    expect(existing.map((id) => node.datapath.policy.entries(id))).toEqual(entriesBefore);
    expect(node.manager.listEndpoints().filter((e) => existing.includes(e.endpointId)).map((e) => e.policyWrites)).toEqual(
      existing.map((id) => node.datapath.policyWrites.get(id)),
    );
    // The new pods got their endpoint and ipcache entries and, being new endpoints, their own policy.
    expect(node.datapath.ipcacheMap.size).toBe(ipcacheBefore + 99);
    for (const p of added) {
      expect(node.datapath.endpointMap.get(p.ip)?.endpointId).toBe(p.endpointId);
      expect(node.verdict(p, node.pods[0]!, 8080)).toBe('allow');
    }
    // One identity for all the clients.
    expect(new Set(node.manager.listEndpoints().filter((e) => e.name.startsWith('client')).map((e) => e.identity)).size).toBe(1);
  });

  it('a new identity a policy selects changes the selecting endpoint only by the entries for it', async () => {
    const node = new Node();
    node.store.upsert(allowClientToServer);
    const server = node.run('server-0', { app: 'server' });
    node.run('other-0', { app: 'other' });
    await node.manager.reconcile();
    const before = node.datapath.policyWrites.get(server.endpointId)!;
    const client = node.run('client-0', { app: 'client' });
    await node.manager.reconcile();
    expect(node.verdict(client, server, 8080)).toBe('allow');
    const delta = node.datapath.policyWrites.get(server.endpointId)! - before;
    expect(delta).toBeGreaterThan(0);
    expect(delta).toBeLessThanOrEqual(2);
  });

  it('an invalid update keeps the last valid policy in force and reports Cilium’s error; a new invalid policy adds nothing', async () => {
    const node = new Node();
    const server = node.run('server-1', { app: 'server' });
    const other = node.run('other-1', { app: 'other' });
    node.store.upsert(allowClientToServer);
    await node.manager.reconcile();
    const writes = node.datapath.totalPolicyWrites([1, 2]);

    // An edit that would allow everyone, but is invalid: mixing fromEndpoints and fromCIDR.
    node.store.upsert(
      cnp('server-ingress', {
        endpointSelector: { matchLabels: { app: 'server' } },
        ingress: [{ fromEndpoints: [{}], fromCIDR: ['0.0.0.0/0'] }],
      }),
    );
    // A brand-new invalid policy that would open the server to the world.
    node.store.upsert(cnp('open-all', { endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEntities: ['galaxy'] }] }));
    await node.manager.reconcile();

    expect(node.datapath.totalPolicyWrites([1, 2])).toBe(writes);
    expect(node.verdict(other, server, 8080)).toBe('deny');
    const status = node.manager.status();
    expect(status.invalidPolicies).toEqual([
      { policy: 'CiliumNetworkPolicy default/open-all', error: 'Invalid CiliumNetworkPolicy spec: unsupported entity: galaxy' },
      { policy: 'CiliumNetworkPolicy default/server-ingress', error: 'Invalid CiliumNetworkPolicy spec: combining FromEndpoints and FromCIDR is not supported yet' },
    ].sort((a, b) => a.policy.localeCompare(b.policy)));
    const condition = (name: string) =>
      node.store.get<KubeObject & { status?: { conditions?: { type: string; status: string; message: string }[] } }>(`cilium.io/CiliumNetworkPolicy/default/${name}`)?.status?.conditions?.[0];
    expect(condition('open-all')).toMatchObject({ type: 'Valid', status: 'False', message: 'Invalid CiliumNetworkPolicy spec: unsupported entity: galaxy' });
    expect(condition('server-ingress')).toMatchObject({ type: 'Valid', status: 'False', reason: 'ValidationFailed' });
  });

  it('marks a policy the source kept (its new version was rejected) as not valid, with the source’s error', async () => {
    const node = new Node();
    node.run('server-1', { app: 'server' });
    node.store.upsert(allowClientToServer);
    node.sourceErrors = [{ object: 'CiliumNetworkPolicy default/server-ingress', message: 'Invalid CiliumNetworkPolicy spec: unsupported entity: galaxy' }];
    await node.manager.reconcile();
    const stored = node.store.get<KubeObject & { status?: { conditions?: { status: string; message: string }[] } }>('cilium.io/CiliumNetworkPolicy/default/server-ingress');
    expect(stored?.status?.conditions?.[0]).toMatchObject({ status: 'False', message: 'Invalid CiliumNetworkPolicy spec: unsupported entity: galaxy' });
    expect(node.manager.status().invalidPolicies).toEqual([{ policy: 'CiliumNetworkPolicy default/server-ingress', error: 'Invalid CiliumNetworkPolicy spec: unsupported entity: galaxy' }]);
    // The kept (valid) version is enforced.
    expect(node.manager.endpoint('default', 'server-1')?.enforcement?.ingress).toBe(true);
    node.sourceErrors = [];
    await node.manager.reconcile();
    expect(node.store.get<KubeObject & { status?: { conditions?: { status: string }[] } }>('cilium.io/CiliumNetworkPolicy/default/server-ingress')?.status?.conditions?.[0]?.status).toBe('True');
  });

  it('a failed policy write leaves the endpoint with no entries (fail closed) and reports it until a write succeeds', async () => {
    const node = new Node();
    const server = node.run('server-1', { app: 'server' });
    const client = node.run('client-1', { app: 'client' });
    await node.manager.reconcile();
    node.datapath.failingEndpoints.add(server.endpointId);
    node.store.upsert(allowClientToServer);
    await node.manager.reconcile();
    expect(node.datapath.policy.entries(server.endpointId)).toEqual([]);
    expect(node.verdict(client, server, 8080)).toBe('deny');
    expect(node.manager.endpoint('default', 'server-1')).toMatchObject({ state: 'failed', error: expect.stringContaining('all its traffic is dropped') });
    expect(node.manager.status().failedEndpoints).toEqual([{ endpoint: 'default/server-1', error: expect.stringContaining('map full') }]);
    node.datapath.failingEndpoints.clear();
    await node.manager.reconcile();
    expect(node.manager.endpoint('default', 'server-1')).toMatchObject({ state: 'ready' });
    expect(node.manager.endpoint('default', 'server-1')?.error).toBeUndefined();
    expect(node.verdict(client, server, 8080)).toBe('allow');
  });

  it('removes everything of a deleted pod and releases its identity', async () => {
    const node = new Node();
    const server = node.run('server-1', { app: 'server' });
    node.run('client-1', { app: 'client' });
    await node.manager.reconcile();
    const identity = node.manager.endpoint('default', 'server-1')!.identity;
    node.remove('server-1');
    await node.manager.reconcile();
    expect(node.datapath.attached.has(server.hostInterface!)).toBe(false);
    expect(node.datapath.endpointMap.has(server.ip)).toBe(false);
    expect(node.datapath.ipcacheMap.has(`${server.ip}/32`)).toBe(false);
    expect(node.datapath.policy.entries(server.endpointId)).toEqual([]);
    expect(node.manager.identities().some((i) => i.id === identity)).toBe(false);
    expect(node.manager.listEndpoints().map((e) => e.name)).toEqual(['client-1']);
  });

  it('a pod whose labels change moves to another identity', async () => {
    const node = new Node();
    const server = node.run('server-1', { app: 'server' });
    const client = node.run('client-1', { app: 'client' });
    node.store.upsert(allowClientToServer);
    await node.manager.reconcile();
    expect(node.verdict(client, server, 8080)).toBe('allow');
    node.store.upsert(pod('client-1', { app: 'intruder' }));
    await node.manager.reconcile();
    expect(node.verdict(client, server, 8080)).toBe('deny');
    expect(node.datapath.endpointMap.get(client.ip)?.identity).toBe(node.manager.endpoint('default', 'client-1')!.identity);
  });

  it('gives the CIDRs a policy names node-local identities in the ipcache, and removes them with the policy', async () => {
    const node = new Node();
    node.run('server-1', { app: 'server' });
    node.store.upsert(cnp('egress-cidr', { endpointSelector: { matchLabels: { app: 'server' } }, egress: [{ toCIDRSet: [{ cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] }] }] }));
    await node.manager.reconcile();
    const ipcache = node.manager.ipcache();
    const outer = ipcache.find((e) => e.cidr === '203.0.113.0/24')!;
    const except = ipcache.find((e) => e.cidr === '203.0.113.128/25')!;
    expect(outer.identity).toBeGreaterThan(0x01000000);
    expect(outer.labels).toEqual(['cidr:203.0.113.0/24', 'reserved:world']);
    expect(except.identity).not.toBe(outer.identity);
    const server = node.manager.endpoint('default', 'server-1')!;
    const entries = node.datapath.policy.entries(server.endpointId);
    expect(lookupPolicyMap(entries, { identity: outer.identity, direction: 'egress', protocol: Protocol.TCP, port: 443 }).kind).toBe('allow');
    expect(lookupPolicyMap(entries, { identity: except.identity, direction: 'egress', protocol: Protocol.TCP, port: 443 }).kind).toBe('deny');
    node.store.delete('cilium.io/CiliumNetworkPolicy/default/egress-cidr');
    await node.manager.reconcile();
    expect(node.manager.ipcache().some((e) => e.cidr.startsWith('203.0.113.'))).toBe(false);
  });

  it('load-balances ClusterIP Services to their ready endpoints, allocating a ClusterIP when none is set', async () => {
    const node = new Node();
    node.store.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.5.5', ports: [{ name: 'http', port: 80, targetPort: 8080 }] } } as KubeObject);
    node.store.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'default' }, spec: { ports: [{ port: 9000, protocol: 'UDP' }] } } as KubeObject);
    node.store.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'headless', namespace: 'default' }, spec: { clusterIP: 'None', ports: [{ port: 1 }] } } as KubeObject);
    node.store.upsert({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-0', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.244.0.20'], conditions: { ready: true } },
        { addresses: ['10.244.0.21'], conditions: { ready: false } },
        { addresses: ['10.244.0.22'] },
      ],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    } as KubeObject);
    await node.manager.reconcile();
    const services = node.manager.services();
    expect(services).toEqual(
      expect.arrayContaining([
        { service: 'default/web', portName: 'http', frontend: { vip: '10.96.5.5', port: 80, protocol: 'TCP' }, backends: [{ ip: '10.244.0.20', port: 8080 }, { ip: '10.244.0.22', port: 8080 }] },
        { service: 'default/api', portName: '', frontend: { vip: '10.96.0.1', port: 9000, protocol: 'UDP' }, backends: [] },
      ]),
    );
    expect(services).toHaveLength(2);
    const writes = node.datapath.serviceWrites;
    await node.manager.reconcile();
    expect(node.datapath.serviceWrites).toBe(writes);
    node.store.delete('/Service/default/web');
    await node.manager.reconcile();
    expect(node.manager.services().map((s) => s.service)).toEqual(['default/api']);
  });

  it('hands the frontends with mesh routes to the node proxy (L7 load-balanced) and reports ClusterIP changes', async () => {
    let ipChanges = 0;
    const node = new Node({ meshProxyPort: 15008, onClusterIpsChange: () => ipChanges++ });
    node.store.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'mesh' }, spec: { ports: [{ name: 'http', port: 80 }, { name: 'grpc', port: 7070 }, { name: 'dns', port: 53, protocol: 'UDP' }] } } as KubeObject);
    await node.manager.reconcile();
    expect(node.manager.serviceClusterIps()).toEqual({ 'mesh/echo': '10.96.0.1' });
    expect(ipChanges).toBe(1);
    expect(node.manager.services().some((s) => s.l7ProxyPort !== undefined)).toBe(false);
    // Port 80 gets mesh routes; 7070 has none; a UDP port is never L7 load-balanced.
    node.manager.setMeshFrontends(['mesh/echo/80', 'mesh/echo/53']);
    await node.manager.reconcile();
    const byPort = new Map(node.manager.services().map((s) => [s.frontend.port, s.l7ProxyPort]));
    expect([...byPort]).toEqual(expect.arrayContaining([[80, 15008], [7070, undefined], [53, undefined]]));
    // The routes go away: the socket LB balances port 80 again.
    node.manager.setMeshFrontends([]);
    await node.manager.reconcile();
    expect(node.manager.services().find((s) => s.frontend.port === 80)?.l7ProxyPort).toBeUndefined();
    expect(ipChanges).toBe(1);
  });

  it('adopts a previous run’s maps: stale endpoints, ipcache and service entries are removed', async () => {
    const node = new Node();
    await node.datapath.addEndpoint({ ifname: 'gone0', ip: '10.244.0.99', endpointId: 7, identity: 300 });
    node.datapath.policy.apply(7, [{ identity: 0, direction: 'ingress', protocol: 0, port: 0, prefixLength: 0, deny: false, proxyPort: 0 }]);
    node.datapath.ipcache.set('198.51.100.0/24', 16777300);
    node.datapath.services.set({ vip: '10.96.9.9', port: 80, protocol: 'TCP' }, [{ ip: '10.244.0.99', port: 80 }]);
    await node.manager.start();
    expect(node.datapath.endpointMap.size).toBe(0);
    expect(node.datapath.policy.entries(7)).toEqual([]);
    expect(node.datapath.ipcacheMap.has('198.51.100.0/24')).toBe(false);
    expect(node.datapath.serviceMap.size).toBe(0);
    // The node's addresses are written again.
    expect(node.datapath.ipcacheMap.get('192.168.1.5/32')).toBe(1);
  });

  it('stop removes the endpoints it added and closes the datapath, keeping the other entries', async () => {
    const node = new Node();
    const server = node.run('server-1', { app: 'server' });
    await node.manager.reconcile();
    await node.manager.stop();
    expect(node.datapath.endpointMap.has(server.ip)).toBe(false);
    expect(node.datapath.ipcacheMap.get('192.168.1.5/32')).toBe(1);
    expect(node.datapath.closed).toBe(true);
  });

  it('waits for a pod’s object (its labels) before giving it an identity', async () => {
    const node = new Node();
    const server = node.run('server-1', { app: 'server' });
    node.store.delete('/Pod/default/server-1');
    await node.manager.reconcile();
    expect(node.manager.listEndpoints()).toEqual([]);
    expect(node.datapath.attached.size).toBe(0);
    node.store.upsert(pod('server-1', { app: 'server' }));
    await node.manager.reconcile();
    expect(node.manager.endpoint('default', 'server-1')?.labels.map((l) => `${l.key}=${l.value}`)).toContain('app=server');
    expect(node.datapath.endpointMap.get(server.ip)).toBeDefined();
  });

  it('skips pods it cannot enforce on: loopback pods and pods without an address yet', async () => {
    const node = new Node();
    const p = node.run('server-1', { app: 'server' });
    p.network = 'loopback';
    const q = node.run('server-2', { app: 'server' });
    q.ip = '';
    await node.manager.reconcile();
    expect(node.manager.listEndpoints()).toEqual([]);
    expect(node.datapath.attached.size).toBe(0);
  });

  it('untilEnforced resolves once the pod’s interface carries its policy, and false when it never does', async () => {
    const node = new Node();
    node.store.upsert(allowClientToServer);
    await node.manager.start();
    const server = node.run('server-1', { app: 'server' });
    node.store.delete('/Pod/default/server-1');
    // No Pod object yet: no identity, so the endpoint cannot be enforced and the pod must wait.
    const waiting = node.manager.untilEnforced('default', 'server-1', 5_000);
    let settled: boolean | undefined;
    void waiting.then((v) => (settled = v));
    await node.manager.reconcile();
    expect(settled).toBeUndefined();
    node.store.upsert(pod('server-1', { app: 'server' }));
    node.manager.schedule({ podsChanged: true });
    expect(await waiting).toBe(true);
    expect(node.datapath.attached.has(server.hostInterface!)).toBe(true);
    expect(node.datapath.policy.entries(server.endpointId).length).toBeGreaterThan(0);
    expect(await node.manager.untilEnforced('default', 'server-1')).toBe(true);
    expect(await node.manager.untilEnforced('default', 'nobody', 50)).toBe(false);
    const pending = node.manager.untilEnforced('default', 'never', 60_000);
    await node.manager.stop();
    expect(await pending).toBe(false);
  });
});
