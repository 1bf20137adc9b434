import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Pod } from '@tendril/api-k8s';
import { eventually } from '@tendril/testing';
import { silentLogger } from '@tendril/xds';
import { Agent } from '../src';

jest.setTimeout(60_000);

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('Agent with local workloads', () => {
  it('runs Deployment pods, publishes their EndpointSlices, and stops every pod with the agent', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-agent-'));
    fs.writeFileSync(
      path.join(dir, 'app.yaml'),
      `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: echo, command: [tendril, echo], ports: [{ name: http, containerPort: 3000 }] }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }]
`,
    );
    const agent = new Agent({ configDir: dir, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', logger: silentLogger, runWorkloads: true, firstPodIp: '127.11.210.1', writePodOutput: () => undefined });
    try {
      await agent.start();
      const ready = await eventually(() => {
        const pods = agent.store.list<Pod>({ kind: 'Pod' }, 'default').filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        expect(pods).toHaveLength(2);
        return pods;
      }, 30_000, 100);
      const slice = agent.store.list({ kind: 'EndpointSlice', group: 'discovery.k8s.io' }, 'default')[0] as unknown as { endpoints: Array<{ addresses: string[] }>; ports: Array<{ port: number }> };
      expect(slice.ports[0].port).toBe(3000);
      expect(slice.endpoints.map((e) => e.addresses[0]).sort()).toEqual(ready.map((p) => p.status!.podIP!).sort());
      for (const p of ready) expect(await accepts(p.status!.podIP!, 3000)).toBe(true);
      await agent.stop();
      // Nothing restarts the pods while the agent shuts down.
      await new Promise((r) => setTimeout(r, 1_500));
      for (const p of ready) expect(await accepts(p.status!.podIP!, 3000)).toBe(false);
    } finally {
      await agent.stop().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
