import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { AccessLogEntry } from '@tendril/proxy';
import { eventually } from '@tendril/testing';
import type { EndpointView } from '../src';
import { NetnsAgentNode, sh } from './netns-agent';
import { NodeProxyHarness } from './node-proxy-harness';

/*
 * East-west routing (GAMMA) end to end, as root: an Agent runs echo-v1 and echo-v2 pods behind the
 * Services echo (both versions), echo-v1 and echo-v2, and a client pod, in network namespaces with
 * the eBPF datapath; a node proxy (ProxyRuntime over xDS, as apps/proxy runs it) serves the mesh
 * listener. The client always dials the `echo` ClusterIP. Without a route the socket load balancer
 * picks a pod; with an HTTPRoute whose parentRef is the Service, the connection goes to the node
 * proxy, which routes each request as the route says.
 */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('Mesh (GAMMA) routing end to end skipped: network namespaces and eBPF programs need root');

jest.setTimeout(240_000);

/** One HTTP request from inside a pod, printed as JSON: status, response headers and the echo's body (or error); gives up after argv[5] ms. */
const PROBE = `const t = setTimeout(() => { console.log(JSON.stringify({ error: 'timeout' })); process.exit(0); }, +process.argv[5]);
const headers = JSON.parse(process.argv[4] || '{}');
const r = require('http').request({ host: process.argv[1], port: +process.argv[2], path: process.argv[3], headers, agent: false }, (res) => {
  let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => { clearTimeout(t); console.log(JSON.stringify({ status: res.statusCode, headers: res.headers, body })); process.exit(0); }); });
r.on('error', (e) => { clearTimeout(t); console.log(JSON.stringify({ error: e.code })); process.exit(0); });
r.end();`;

/**
 * argv[3] HTTP/2 (h2c prior knowledge) requests from inside a pod, each on a session of its own that
 * the client ends once answered as a gRPC client closing its channel does: GOAWAY first, the socket
 * a moment later; prints the statuses.
 */
const H2_PROBE = `const http2 = require('http2');
const one = () => new Promise((resolve) => {
  const session = http2.connect('http://' + process.argv[1] + ':' + process.argv[2]);
  session.on('error', (e) => resolve('error ' + e.code));
  const req = session.request({ ':path': '/h2-close' });
  req.on('response', (h) => { req.resume(); req.on('end', () => { session.goaway(0); setTimeout(() => session.close(() => resolve(h[':status'])), 300); }); });
  req.on('error', (e) => resolve('error ' + e.code));
  req.end();
});
(async () => { const out = []; for (let i = 0; i < +process.argv[3]; i++) out.push(await one()); console.log(out.join(' ')); })();`;

interface ProbeResult {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  error?: string;
}

/** The echo backend's answer: which pod, and the request headers it saw (canonical names). */
function echoOf(result: ProbeResult): { pod: string; headers: Record<string, string[]> } {
  return JSON.parse(result.body ?? '{}') as { pod: string; headers: Record<string, string[]> };
}

const echoDeployment = (version: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: { name: echo-${version}, namespace: default }
spec:
  replicas: 1
  selector: { matchLabels: { app: echo, version: ${version} } }
  template:
    metadata: { labels: { app: echo, version: ${version} } }
    spec:
      containers: [{ name: echo, image: ignored, command: [tendril, echo, --port, "8080", --h2c-port, "0"], ports: [{ name: http, containerPort: 8080 }] }]
`;

/** A pod that only sends probes (`ip netns exec`), labelled app: <name>. */
const clientDeployment = (name: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: default }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers: [{ name: main, image: ignored, command: [sleep, infinity] }]
`;

const service = (name: string, selector: string, clusterIp: string): string => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec:
  clusterIP: ${clusterIp}
  selector: ${selector}
  ports: [{ name: http, port: 80, targetPort: http }]
`;

(isRoot ? describe : describe.skip)('mesh routes through the node proxy (needs root)', () => {
  const node = new NetnsAgentNode('mesh');
  const third = randomBytes(1)[0]!;
  const echoIp = `172.30.${third}.10`;
  const proxy = new NodeProxyHarness(node.pinDir);
  const { accessLog, nacks } = proxy;
  let client: EndpointView;
  let intruder: EndpointView;

  // A request gets 10 s: on a loaded machine a probe's answer can take seconds (the tests' clocks are the eventually() bounds).
  const probeFrom = async (from: EndpointView, urlPath: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<ProbeResult> =>
    JSON.parse((await sh('ip', ['netns', 'exec', from.netns!, process.execPath, '-e', PROBE, echoIp, '80', urlPath, JSON.stringify(headers), String(timeoutMs)])).trim()) as ProbeResult;
  const probe = (urlPath: string, headers: Record<string, string> = {}): Promise<ProbeResult> => probeFrom(client, urlPath, headers);
  /** The pods (by version) that answered `count` requests for the path. */
  const versionsAnswering = async (urlPath: string, count: number): Promise<string[]> => {
    const seen: string[] = [];
    for (let i = 0; i < count; i++) {
      const result = await probe(urlPath);
      expect(result.status).toBe(200);
      seen.push(echoOf(result).pod.replace(/^echo-(v\d)-.*$/, '$1'));
    }
    return seen;
  };
  const meshLog = (urlPath: string): AccessLogEntry[] => accessLog.filter((e) => e.listener === 'tendril-mesh' && e.path === urlPath);

  beforeAll(async () => {
    node.joinCgroup();
    node.write(
      'apps.yaml',
      [
        echoDeployment('v1'),
        echoDeployment('v2'),
        clientDeployment('client'),
        clientDeployment('intruder'),
        service('echo', '{ app: echo }', echoIp),
        service('echo-v1', '{ app: echo, version: v1 }', `172.30.${third}.11`),
        service('echo-v2', '{ app: echo, version: v2 }', `172.30.${third}.12`),
      ].join('---\n'),
    );
    const { xdsPort } = await node.startAgent();
    await proxy.start(xdsPort);
    await node.enforcedPods('echo-v1', 1);
    await node.enforcedPods('echo-v2', 1);
    client = (await node.enforcedPods('client', 1))[0]!;
    intruder = (await node.enforcedPods('intruder', 1))[0]!;
  });

  afterEach(() => {
    // A policy a failed test left behind must not decide the tests after it.
    if (existsSync(path.join(node.configDir, 'policy.yaml'))) node.remove('policy.yaml');
  });

  afterAll(async () => {
    await proxy.stop();
    await node.cleanup();
  });

  it('without a route the Service is load-balanced by the socket LB as before: both versions answer, the proxy sees nothing', async () => {
    const seen = await eventually(async () => {
      const versions = await versionsAnswering('/plain', 16);
      expect(new Set(versions)).toEqual(new Set(['v1', 'v2']));
      return versions;
    }, 30_000, 200);
    expect(seen).toHaveLength(16);
    expect(meshLog('/plain')).toEqual([]);
  });

  it('an HTTPRoute with the Service as parentRef routes the client’s requests to the ClusterIP: path match, request and response header modifiers', async () => {
    node.write(
      'route.yaml',
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo-routes, namespace: default }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /v2 } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: X-Mesh, value: to-v2 }], remove: [X-Drop-Me] }
        - type: ResponseHeaderModifier
          responseHeaderModifier: { add: [{ name: X-Routed-By, value: tendril-mesh }] }
      backendRefs: [{ name: echo-v2, port: 80 }]
    - matches: [{ headers: [{ name: X-Version, value: v2 }] }]
      backendRefs: [{ name: echo-v2, port: 80 }]
    - backendRefs: [{ name: echo-v1, port: 80 }]
`,
    );
    // Everything not matched otherwise goes to v1 only, once the route is in force.
    await eventually(async () => expect(new Set(await versionsAnswering('/default', 8))).toEqual(new Set(['v1'])), 30_000, 200);
    const v2 = await probe('/v2/page', { 'X-Drop-Me': 'yes', 'X-Mesh': 'from-client' });
    expect(v2.status).toBe(200);
    expect(echoOf(v2).pod).toMatch(/^echo-v2-/);
    expect(echoOf(v2).headers['X-Mesh']).toEqual(['to-v2']);
    expect(echoOf(v2).headers['X-Drop-Me']).toBeUndefined();
    expect(v2.headers?.['x-routed-by']).toBe('tendril-mesh');
    const byHeader = await probe('/other', { 'X-Version': 'v2' });
    expect(echoOf(byHeader).pod).toMatch(/^echo-v2-/);
    expect(byHeader.headers?.['x-routed-by']).toBeUndefined();
    // The node proxy served them on its mesh listener, with the route's rule and the backend it picked.
    const [entry] = meshLog('/v2/page');
    expect(entry).toMatchObject({ route_name: 'HTTPRoute/default/echo-routes/rule/0/match/0', upstream_cluster: 'default/echo-v2/80', response_code: 200 });
    // The route is accepted for its Service parent.
    const routes = node.agent!.resources('httproute', 'default') as { items: Array<{ status?: { parents?: Array<{ parentRef: { kind: string; name: string }; conditions: Array<{ type: string; status: string }> }> } }> };
    const parent = routes.items[0]?.status?.parents?.find((p) => p.parentRef.kind === 'Service');
    expect(parent?.parentRef.name).toBe('echo');
    expect(parent?.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'ResolvedRefs=True']);
    expect(nacks).toEqual([]);
  });

  it('weights split the requests between the backends; a redirect rule answers from the proxy', async () => {
    node.write(
      'route.yaml',
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo-routes, namespace: default }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]
  rules:
    - matches: [{ path: { type: Exact, value: /moved } }]
      filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplaceFullPath, replaceFullPath: /new-place }, statusCode: 301 } }]
    - backendRefs: [{ name: echo-v1, port: 80, weight: 1 }, { name: echo-v2, port: 80, weight: 1 }]
`,
    );
    const moved = await eventually(async () => {
      const result = await probe('/moved');
      expect(result.status).toBe(301);
      return result;
    }, 30_000, 200);
    expect(moved.headers?.location).toMatch(/\/new-place$/);
    const versions = await versionsAnswering('/split', 24);
    expect(new Set(versions)).toEqual(new Set(['v1', 'v2']));
    expect(meshLog('/split')).toHaveLength(24);
  });

  /*
   * Policy on mesh connections, as Cilium applies it to traffic its L7 load balancer handles: the
   * client's egress policy is checked against the backend the proxy picked (a denial is Cilium's 403
   * `Access denied`, never a silent allow), and the proxy's connection to the backend carries the
   * client's identity in its mark, so the backend's ingress policy sees the client, not the node.
   */
  it('the client’s egress policy is checked against the backend the proxy picks: a backend it does not allow gets 403 Access denied', async () => {
    node.write(
      'policy.yaml',
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: client-egress, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: client } }
  egress:
    - toEndpoints: [{ matchLabels: { app: echo, version: v1 } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }] }]
`,
    );
    // Half of the requests go to v1, which the client may reach, half to v2, which it may not.
    const denied = await eventually(async () => {
      const result = await probe('/egress-split');
      expect(result).toMatchObject({ status: 403, body: 'Access denied\r\n' });
      return result;
    }, 30_000, 200);
    expect(denied.status).toBe(403);
    const outcomes = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const result = await probe('/egress-split');
      outcomes.add(result.status === 200 ? echoOf(result).pod.replace(/^echo-(v\d)-.*$/, '$1') : `${result.status ?? result.error}`);
    }
    // v2 never answers: its requests are refused by the proxy, v1's go through.
    expect(outcomes).toEqual(new Set(['v1', '403']));
    const refused = meshLog('/egress-split').filter((e) => e.response_code === 403);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e.l7_policy?.verdict === 'denied' && /does not allow/.test(e.l7_policy.reason))).toBe(true);
    // A client without an egress policy is not affected.
    const other = await probeFrom(intruder, '/egress-split');
    expect(other.status).toBe(200);
  });

  it('the backend’s ingress policy sees the client’s identity on the proxy’s connection: the selected client is allowed, another client is refused', async () => {
    node.write(
      'route.yaml',
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo-routes, namespace: default }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]
  rules:
    - backendRefs: [{ name: echo-v2, port: 80 }]
`,
    );
    node.write(
      'policy.yaml',
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: echo-v2-ingress, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: echo, version: v2 } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }] }]
`,
    );
    // The route sends everything to v2; the client is allowed in by v2's ingress policy although the connection comes from the node proxy.
    await eventually(async () => {
      const result = await probe('/ingress-check');
      expect(result.status).toBe(200);
      expect(echoOf(result).pod).toMatch(/^echo-v2-/);
    }, 30_000, 200);
    // The intruder's requests take the same route, but v2's tc program drops the proxy's connection made on its behalf: 503 after the connect timeout.
    const refused = await eventually(async () => {
      const result = await probeFrom(intruder, '/ingress-check', {}, 15_000);
      expect(result.status).toBe(503);
      return result;
    }, 60_000, 200);
    expect(refused.body).toMatch(/upstream connect error|connection failure/);
    const intruderLog = meshLog('/ingress-check').filter((e) => e.response_code === 503);
    expect(intruderLog[0]).toMatchObject({ upstream_cluster: 'default/echo-v2/80' });
    // The client still gets through.
    expect((await probe('/ingress-check')).status).toBe(200);
  });

  it('HTTP/2 sessions the client closes leave no TIME_WAIT on the host for the pod’s own 4-tuple (the proxy waits for the client to close first)', async () => {
    await eventually(async () => expect((await probe('/before-h2')).status).toBe(200), 30_000, 200);
    const statuses = (await sh('ip', ['netns', 'exec', client.netns!, process.execPath, '-e', H2_PROBE, echoIp, '80', '5'])).trim();
    expect(statuses).toBe('200 200 200 200 200');
    // A TIME_WAIT socket on the host with the ClusterIP as local address would catch the pod's next SYN from that port.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lingering = (await sh('ss', ['-Htan', 'state', 'time-wait', 'src', echoIp])).split('\n').filter((l) => l.includes(client.ip));
    expect(lingering).toEqual([]);
  });

  it('once the route is gone the Service is load-balanced by the socket LB again', async () => {
    node.remove('route.yaml');
    await eventually(async () => {
      expect((await probe('/moved')).status).toBe(200);
    }, 30_000, 200);
    const before = accessLog.length;
    expect(new Set(await versionsAnswering('/after', 16))).toEqual(new Set(['v1', 'v2']));
    expect(accessLog.slice(before).filter((e) => e.path === '/after')).toEqual([]);
  });
});
