import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import type { Pod } from '@tendril/api-k8s';
import { eventually, freePort } from '@tendril/testing';
import type { PodRuntimeInfo } from '@tendril/workloads';
import { findLocalPod, type Agent } from '../src';
import { runEntryPoint, tendril, type Proc } from './harness';
import { NetnsAgentNode } from './netns-agent';

/*
 * `tendril up` as root, in one process: the Agent runs the config's Deployment in network namespaces
 * through the CNI plugin, and a node proxy in the host namespace serves the Gateway, reaching the
 * pods over their veth routes. The CLI runs as a separate process against the agent's admin API.
 */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('tendril up in netns mode (end to end) skipped: creating network namespaces and veths needs root');

jest.setTimeout(60_000);

(isRoot ? describe : describe.skip)('tendril up with pods in network namespaces (needs root)', () => {
  const node = new NetnsAgentNode('e2e');
  const { namePrefix, octets } = node;
  let agent: Agent;
  let proxy: Proc | undefined;
  let adminAddress = '';
  let gatewayPort = 0;
  let pods: PodRuntimeInfo[] = [];

  beforeAll(async () => {
    gatewayPort = await freePort();
    const proxyAdminPort = await freePort();
    node.write(
      'app.yaml',
      `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: echo, image: ignored, command: [tendril, echo], ports: [{ name: http, containerPort: 3000 }] }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 8080, targetPort: http }]
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
  listeners: [{ name: http, protocol: HTTP, port: ${gatewayPort} }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules: [{ backendRefs: [{ name: web, port: 8080 }] }]
`,
    );
    const { xdsPort } = await node.startAgent();
    agent = node.agent!;
    adminAddress = node.adminAddress;
    proxy = runEntryPoint('proxy', ['--xds-address', `127.0.0.1:${xdsPort}`, '--admin-address', `127.0.0.1:${proxyAdminPort}`, '--node-id', 'netns-e2e']);
    pods = await eventually(async () => {
      const res = await request(`http://${adminAddress}/api/v1/pods`);
      const { items } = (await res.body.json()) as { items: PodRuntimeInfo[] };
      expect(items.filter((p) => p.ready)).toHaveLength(2);
      return items;
    }, 40_000, 100);
  });

  afterAll(async () => {
    await proxy?.stop();
    await node.cleanup();
  });

  it('serves a request through the Gateway from a pod in its own network namespace', async () => {
    for (const p of pods) expect(p).toMatchObject({ network: 'netns', netns: expect.stringMatching(new RegExp(`^${namePrefix}`)), ip: expect.stringMatching(new RegExp(`^10\\.${octets.replace('.', '\\.')}\\.`)) });
    // The EndpointSlice the proxy's cluster is built from carries the namespace IPs.
    const slice = agent.store.list({ kind: 'EndpointSlice', group: 'discovery.k8s.io' }, 'default')[0] as unknown as { endpoints: Array<{ addresses: string[] }> };
    expect(slice.endpoints.map((e) => e.addresses[0]).sort()).toEqual(pods.map((p) => p.ip).sort());
    const served = new Set<string>();
    await eventually(async () => {
      const res = await request(`http://127.0.0.1:${gatewayPort}/through-the-gateway`);
      const body = (await res.body.json()) as { pod: string; path: string };
      expect(res.statusCode).toBe(200);
      expect(body.path).toBe('/through-the-gateway');
      served.add(body.pod);
      expect(served.size).toBe(2);
    }, 20_000, 50);
    expect([...served].sort()).toEqual(pods.map((p) => p.name).sort());
  });

  it('tendril exec runs the command in the pod namespace and passes its exit code through', async () => {
    const pod = pods[0]!;
    const addr = await tendril(['exec', pod.name, '-n', 'default', '--agent', adminAddress, '--', 'sh', '-c', 'ip -o -4 addr show dev eth0; echo "$POD_NAME"; exit 3']);
    expect(addr.code).toBe(3);
    expect(addr.stdout).toContain(`inet ${pod.ip}/32`);
    expect(addr.stdout).toContain(pod.name);
    await expect(findLocalPod(adminAddress, 'default', 'no-such-pod')).rejects.toThrow('pods "no-such-pod" not found in namespace "default"');
  });

  it('tendril get pods -o wide and get endpoints list the pods with their namespace IPs', async () => {
    const wide = await tendril(['get', 'pods', '-o', 'wide', '--agent', adminAddress]);
    expect(wide.code).toBe(0);
    const lines = wide.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/);
    for (const p of pods) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${p.name}\\s+1/1\\s+Running\\s+0\\s+\\d+s\\s+${p.ip.replace(/\./g, '\\.')}\\s+tendril-node\\s`)));
    const endpoints = await tendril(['get', 'endpoints', '--agent', adminAddress]);
    expect(endpoints.code).toBe(0);
    for (const p of pods) {
      expect(endpoints.stdout).toMatch(new RegExp(`^${p.endpointId}\\s+Disabled\\s+Disabled\\s+\\d+\\s+default/${p.name}\\s+${p.ip.replace(/\./g, '\\.')}\\s+${p.hostInterface}\\s+${p.netns}\\s+ready$`, 'm'));
    }
  });

  it('stopping the agent removes every pod namespace', async () => {
    const ready = agent.store.list<Pod>({ kind: 'Pod' }, 'default');
    expect(ready).toHaveLength(2);
    await agent.stop();
    expect(fs.readdirSync('/run/netns').filter((n) => n.startsWith(namePrefix))).toEqual([]);
    expect(fs.readdirSync(path.join(node.ipamDataDir, 'tendril'))).toEqual([]);
  });
});
