import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { eventually, freePort } from '@tendril/testing';
import type { PodRuntimeInfo } from '@tendril/workloads';
import { runEntryPoint, type Proc } from './harness';
import { NetnsAgentNode } from './netns-agent';

/*
 * UDPRoutes end to end as root: the agent runs a UDP echo Deployment (the echo image's
 * UDP_ECHO_SERVER) and the coredns image (the Corefile-driven test DNS server) in network
 * namespaces, and the tendril-proxy process serves the Gateway's UDP listeners over xDS, relaying
 * datagrams to the pods over their veth routes.
 */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('UDPRoute through pods in network namespaces (end to end) skipped: creating network namespaces and veths needs root');

jest.setTimeout(90_000);

/** One datagram from a socket of its own; resolves with the first answer. */
function exchange(port: number, payload: string, timeoutMs = 1_000): Promise<string> {
  const socket = dgram.createSocket('udp4');
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer on UDP ${port}`)), timeoutMs);
    socket.once('message', (answer) => {
      clearTimeout(timer);
      resolve(answer.toString());
    });
    socket.send(payload, port, '127.0.0.1');
  }).finally(() => socket.close());
}

(isRoot ? describe : describe.skip)('UDPRoute through the node proxy to pods in network namespaces (needs root)', () => {
  const node = new NetnsAgentNode('udp');
  let proxy: Proc | undefined;
  let echoPort = 0;
  let dnsPort = 0;
  let pods: PodRuntimeInfo[] = [];

  beforeAll(async () => {
    echoPort = await freePort();
    dnsPort = await freePort();
    const proxyAdminPort = await freePort();
    node.write('Corefile', 'foo.bar.com:53 {\n  whoami\n}\n');
    node.write(
      'app.yaml',
      `apiVersion: apps/v1
kind: Deployment
metadata: { name: udp-echo, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: udp-echo } }
  template:
    metadata: { labels: { app: udp-echo } }
    spec:
      containers:
      - name: echo
        image: registry.k8s.io/gateway-api/conformance/echo-basic:v0.1.0
        env: [{ name: UDP_ECHO_SERVER, value: "1" }, { name: SERVICE_NAME, value: udp-echo }]
        ports: [{ name: udp, containerPort: 8080, protocol: UDP }]
---
apiVersion: v1
kind: Service
metadata: { name: udp-echo, namespace: default }
spec:
  selector: { app: udp-echo }
  ports: [{ name: udp, port: 8080, protocol: UDP, targetPort: udp }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: coredns, namespace: default }
spec:
  selector: { matchLabels: { app: dns } }
  template:
    metadata: { labels: { app: dns } }
    spec:
      containers: [{ name: coredns, image: registry.k8s.io/coredns/coredns:v1.14.6, args: [-conf, ${path.join(node.configDir, 'Corefile')}] }]
---
apiVersion: v1
kind: Service
metadata: { name: coredns, namespace: default }
spec:
  selector: { app: dns }
  ports: [{ name: udp-dns, port: 53, protocol: UDP, targetPort: 53 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: tendril }
spec: { controllerName: tendril.io/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: tendril
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
  - { name: echo, protocol: UDP, port: ${echoPort} }
  - { name: dns, protocol: UDP, port: ${dnsPort} }
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: { name: echo, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: echo }]
  rules: [{ backendRefs: [{ name: udp-echo, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: { name: dns, namespace: default }
spec:
  parentRefs: [{ name: gw, port: ${dnsPort} }]
  rules: [{ backendRefs: [{ name: coredns, port: 53 }] }]
`,
    );
    const { xdsPort } = await node.startAgent();
    proxy = runEntryPoint('proxy', ['--xds-address', `127.0.0.1:${xdsPort}`, '--admin-address', `127.0.0.1:${proxyAdminPort}`, '--node-id', 'udp-e2e']);
    pods = await eventually(async () => {
      const res = await request(`http://${node.adminAddress}/api/v1/pods`);
      const { items } = (await res.body.json()) as { items: PodRuntimeInfo[] };
      expect(items.filter((p) => p.ready)).toHaveLength(3);
      return items;
    }, 60_000, 100);
  });

  afterAll(async () => {
    await proxy?.stop();
    await node.cleanup();
  });

  it('relays UDP echo datagrams to both replicas, each client socket its own session', async () => {
    const echoPods = pods.filter((p) => p.name.startsWith('udp-echo-')).map((p) => p.name).sort();
    expect(echoPods).toHaveLength(2);
    const answeredBy = new Set<string>();
    await eventually(async () => {
      const answer = JSON.parse(await exchange(echoPort, 'through-the-gateway')) as { request: string; namespace: string; service: string; pod: string };
      expect(answer).toMatchObject({ request: 'through-the-gateway', namespace: 'default', service: 'udp-echo' });
      answeredBy.add(answer.pod);
      expect(answeredBy.size).toBe(2);
    }, 30_000, 50);
    expect([...answeredBy].sort()).toEqual(echoPods);
  });

  it('answers a DNS query through the Gateway from the coredns pod (whoami sees the proxy’s upstream socket)', async () => {
    const answer = await eventually(async () => {
      const { stdout } = await promisify(execFile)('dig', ['@127.0.0.1', '-p', String(dnsPort), '+noedns', '+tries=1', '+time=1', 'foo.bar.com', 'A']);
      expect(stdout).toContain('status: NOERROR');
      return stdout;
    }, 30_000, 200);
    expect(answer).toMatch(/flags: qr aa rd;/);
    // The pod answers the proxy's socket: the node's side of the pod's veth route, not dig's 127.0.0.1.
    const client = /^foo\.bar\.com\.\s+0\s+IN\s+A\s+(\S+)$/m.exec(answer)?.[1];
    expect(client).toBeDefined();
    expect(client).not.toBe('127.0.0.1');
    expect(answer).toMatch(/^_udp\.foo\.bar\.com\.\s+0\s+IN\s+SRV\s+0 0 \d+ \.$/m);
  });
});
