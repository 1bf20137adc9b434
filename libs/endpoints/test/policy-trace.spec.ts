/** `tendril policy trace` on the endpoint manager's state: the deciding rule per hop, checked against the datapath's map. */
import type { KubeObject } from '@tendril/api-k8s';
import { ResourceStore } from '@tendril/store';
import type { PodRuntimeInfo } from '@tendril/workloads';
import { EndpointManager, formatPolicyTrace, TraceError } from '../src';
import { RecordingDatapath } from './recording-datapath';

const quietLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function podObject(name: string, app: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app } }, spec: { containers: [{ name: 'main', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] }] } } as KubeObject;
}

function podInfo(name: string, endpointId: number, ip: string): PodRuntimeInfo {
  return { namespace: 'default', name, endpointId, network: 'netns', ip, netns: `ns-${name}`, hostInterface: `veth${endpointId}`, phase: 'Running', ready: true, restarts: 0, pids: [], env: {} };
}

describe('EndpointManager.trace', () => {
  const store = new ResourceStore();
  const datapath = new RecordingDatapath();
  const pods = [podInfo('server', 1, '10.244.0.10'), podInfo('client', 2, '10.244.0.11'), podInfo('other', 3, '10.244.0.12')];
  const manager = new EndpointManager({ store, datapath, localPods: () => pods, logger: quietLogger, nodeAddresses: () => ['10.244.0.1'] });

  beforeAll(async () => {
    for (const [name, app] of [['server', 'server'], ['client', 'client'], ['other', 'other']]) store.upsert(podObject(name!, app!));
    store.upsert({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: { name: 'server-ingress', namespace: 'default' },
      spec: {
        endpointSelector: { matchLabels: { app: 'server' } },
        ingress: [
          { fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }] },
          { fromCIDR: ['192.0.2.0/24'], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }] },
        ],
      },
    } as KubeObject);
    store.upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.5.5', ports: [{ name: 'http', port: 80, targetPort: 8080 }] } } as KubeObject);
    store.upsert({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-0', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.244.0.10'] }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    } as KubeObject);
    await manager.start();
  });

  const pod = (name: string) => ({ pod: { namespace: 'default', name } });

  it('names the rule that allows, and shows that the datapath map agrees', () => {
    const [path] = manager.trace({ source: pod('client'), destination: pod('server'), port: 8080, protocol: 6 });
    expect(path!.verdict).toBe('allowed');
    expect(path!.hops.map((h) => [h.direction, h.decision.reason, h.datapath.kind])).toEqual([
      ['egress', 'egress is not enforced: no rule with an egress section selects the endpoint', 'allow'],
      ['ingress', 'allowed by CiliumNetworkPolicy default/server-ingress rule 0 ingress[0]', 'allow'],
    ]);
    const text = formatPolicyTrace([path!]);
    expect(text).toContain('From: default/client (10.244.0.11), identity ');
    expect(text).toContain('Ingress of default/server: ALLOWED: allowed by CiliumNetworkPolicy default/server-ingress rule 0 ingress[0]\n  datapath policy map: allow\n');
    expect(text).toMatch(/Final verdict: ALLOWED\n$/);
    expect(text).not.toContain('DISAGREES');
  });

  it('a pod no rule names is denied by default-deny, in the rules and in the map', () => {
    const [path] = manager.trace({ source: pod('other'), destination: pod('server'), port: 8080, protocol: 6 });
    expect(path!.verdict).toBe('denied');
    expect(path!.hops[1]).toMatchObject({ decision: { reason: 'no rule allows this ingress traffic (default deny)' }, datapath: { kind: 'deny', reason: 'no-match' } });
    expect(formatPolicyTrace([path!])).toContain('Final verdict: DENIED: dropped in the datapath');
  });

  it('an address outside the cluster gets its CIDR identity; an L7 rule is a redirect to the proxy', () => {
    const [path] = manager.trace({ source: { ip: '192.0.2.7' }, destination: pod('server'), port: 8080, protocol: 6 });
    expect(path!.source.labels).toContain('cidr:192.0.2.0/24');
    expect(path!.hops).toHaveLength(1);
    expect(path!.hops[0]).toMatchObject({ direction: 'ingress', decision: { verdict: { kind: 'redirect', proxyPort: 15001 } }, datapath: { kind: 'redirect', proxyPort: 15001 } });
    expect(formatPolicyTrace([path!])).toContain('Final verdict: REDIRECTED: allowed at L3/L4, the node proxy applies the L7 rules to each request');
    const [world] = manager.trace({ source: { ip: '198.51.100.1' }, destination: pod('server'), port: 8080, protocol: 6 });
    expect(world!.source.identity).toBe(2);
    expect(world!.verdict).toBe('denied');
  });

  it('a Service is traced to each of its backends, through the ClusterIP port', () => {
    const paths = manager.trace({ source: pod('client'), destination: { service: { namespace: 'default', name: 'web' } }, port: 80, protocol: 6 });
    expect(paths.map((p) => [p.destination.pod, p.port, p.via, p.verdict])).toEqual([['default/server', 8080, 'Service default/web 10.96.5.5:80', 'allowed']]);
    // A name that is no local pod but a Service's is taken as the Service.
    expect(manager.trace({ source: pod('client'), destination: pod('web'), port: 80, protocol: 6 })).toEqual(paths);
  });

  it('says why it cannot trace', () => {
    expect(() => manager.trace({ source: pod('nobody'), destination: pod('server'), port: 80, protocol: 6 })).toThrow(new TraceError('no endpoint for pod "nobody" in namespace "default" on this node'));
    expect(() => manager.trace({ source: pod('client'), destination: { service: { namespace: 'default', name: 'web' } }, port: 81, protocol: 6 })).toThrow('Service default/web has no ClusterIP port 81 on this node');
    expect(() => manager.trace({ source: { ip: '1.1.1.1' }, destination: { ip: '8.8.8.8' }, port: 80, protocol: 6 })).toThrow(/neither the source nor the destination is a pod on this node/);
    expect(() => manager.trace({ source: pod('client'), destination: pod('server'), port: 0, protocol: 6 })).toThrow('port 0 is not a port number (1-65535)');
  });
});

describe('EndpointManager.trace with an HTTP request (--http)', () => {
  const store = new ResourceStore();
  const datapath = new RecordingDatapath();
  const pods = [podInfo('store', 1, '10.244.0.20'), podInfo('web', 2, '10.244.0.21'), podInfo('mon', 3, '10.244.0.22')];
  const manager = new EndpointManager({ store, datapath, localPods: () => pods, logger: quietLogger, nodeAddresses: () => ['10.244.0.1'] });
  const from = (app: string, http: unknown[]) => ({ fromEndpoints: [{ matchLabels: { app } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http } }] });

  beforeAll(async () => {
    for (const [name, app] of [['store', 'store'], ['web', 'web'], ['mon', 'mon']]) store.upsert(podObject(name!, app!));
    store.upsert({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pay-token', namespace: 'default' }, data: { token: Buffer.from('s3cr3t').toString('base64') } } as KubeObject);
    store.upsert({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: { name: 'store-l7', namespace: 'default' },
      spec: {
        endpointSelector: { matchLabels: { app: 'store' } },
        ingress: [from('web', [{ method: 'GET', path: '/public/.*' }, { path: '/pay', headerMatches: [{ name: 'X-Token', secret: { name: 'pay-token' } }] }]), from('mon', [{ path: '/metrics' }])],
      },
    } as KubeObject);
    await manager.start();
  });

  const pod = (name: string) => ({ pod: { namespace: 'default', name } });
  const trace = (from: string, method: string, target: string, headers?: Record<string, string>) =>
    manager.trace({ source: pod(from), destination: pod('store'), port: 8080, protocol: 6, http: { method, path: target, ...(headers ? { headers } : {}) } })[0]!;

  it('the node proxy’s verdict on the redirected hop, with the policy item and the HTTP rule that allowed it, after path normalisation', () => {
    const path = trace('web', 'GET', '/public/a/../b');
    expect(path.verdict).toBe('allowed');
    expect(path.hops[1]!.l7).toEqual({
      allowed: true,
      reason: 'allowed by CiliumNetworkPolicy default/store-l7 rule 0 ingress[0]',
      normalizedPath: '/public/b',
      httpRule: '{"path":"/public/.*","method":"GET"}',
    });
    const text = formatPolicyTrace([path]);
    expect(text).toContain('  node proxy (HTTP /public/b): ALLOWED: allowed by CiliumNetworkPolicy default/store-l7 rule 0 ingress[0]\n    HTTP rule: {"path":"/public/.*","method":"GET"}\n');
    expect(text).toMatch(/Final verdict: ALLOWED: through the node proxy\n$/);
  });

  it('a request no HTTP rule matches is denied by the proxy (403); a walk out of /public is matched as where it lands', () => {
    const path = trace('web', 'GET', '/public/../private');
    expect(path.verdict).toBe('denied-l7');
    expect(path.hops[1]!.l7).toEqual({ allowed: false, status: 403, reason: 'no HTTP rule matches', normalizedPath: '/private' });
    expect(formatPolicyTrace([path])).toMatch(/node proxy \(HTTP \/private\): DENIED \(403\): no HTTP rule matches\n[\s\S]*Final verdict: DENIED by the node proxy: 403 Access denied\n$/);
    expect(trace('web', 'POST', '/public/x').verdict).toBe('denied-l7');
    // Rules stay with the peers their item selects: mon's /metrics is not web's, and the reverse.
    expect(trace('mon', 'GET', '/metrics').verdict).toBe('allowed');
    expect(trace('mon', 'GET', '/public/x').verdict).toBe('denied-l7');
  });

  it('a target the proxy refuses as malformed is a 400', () => {
    const path = trace('web', 'GET', '/public/..;/private');
    expect(path.hops[1]!.l7).toEqual({ allowed: false, status: 400, reason: 'refused as malformed: request path has a dot segment with path parameters' });
    expect(formatPolicyTrace([path])).toContain('Final verdict: DENIED by the node proxy: 400 Bad Request');
  });

  it('header matches read the Secret the agent would send the proxy; its value is never printed', () => {
    expect(trace('web', 'GET', '/pay', { 'X-Token': 's3cr3t' }).verdict).toBe('allowed');
    const wrong = trace('web', 'GET', '/pay', { 'x-token': 'guess' });
    expect(wrong.verdict).toBe('denied-l7');
    expect(trace('web', 'GET', '/pay').verdict).toBe('denied-l7');
    const text = formatPolicyTrace([trace('web', 'GET', '/pay', { 'X-Token': 's3cr3t' })]);
    expect(text).toContain('HTTP rule: {"path":"/pay","header_matches":[{"name":"X-Token","value_sds_secret":"policy-secret/default/pay-token"}]}');
    expect(JSON.stringify(wrong)).not.toContain('s3cr3t');
  });

  it('an HTTP request needs TCP and a method token', () => {
    expect(() => manager.trace({ source: pod('web'), destination: pod('store'), port: 8080, protocol: 17, http: { method: 'GET', path: '/' } })).toThrow('an HTTP request (--http) needs protocol TCP');
    expect(() => trace('web', 'GE T', '/')).toThrow('HTTP method "GE T" is not a token');
  });
});
