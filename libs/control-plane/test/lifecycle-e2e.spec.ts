import * as net from 'node:net';
import { request } from 'undici';
import { eventually, freePort, startEchoServer, type EchoResponse, type EchoServer } from '@tendril/testing';
import { baseConfig } from './e2e-config';
import { Node, tendril } from './harness';

jest.setTimeout(90_000);

function route(name: string, path: string, backend: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: ${path} } }]
      backendRefs: [{ name: ${backend}, port: 8080 }]
`;
}

describe('live reconfiguration, agent restarts and rejected configuration', () => {
  let v1: EchoServer;
  let v2: EchoServer;
  let node: Node;
  let gatewayPort: number;

  async function get(path: string): Promise<{ status: number; pod?: string }> {
    const res = await request(`http://127.0.0.1:${gatewayPort}${path}`);
    const text = await res.body.text();
    return { status: res.statusCode, pod: res.statusCode === 200 ? (JSON.parse(text) as EchoResponse).pod : undefined };
  }

  beforeEach(async () => {
    v1 = await startEchoServer({ pod: 'v1-pod' });
    v2 = await startEchoServer({ pod: 'v2-pod' });
    gatewayPort = await freePort();
    node = await Node.create({
      'base.yaml': baseConfig({ gatewayPort, backends: { v1: { port: v1.port }, v2: { port: v2.port } } }),
      'route.yaml': route('app', '/app', 'v1'),
    });
    await node.startAgent();
    await node.startProxy();
    await eventually(async () => expect(await get('/app')).toEqual({ status: 200, pod: 'v1-pod' }), 10_000);
  });

  afterEach(async () => {
    await node.stop();
    await v1.close();
    await v2.close();
  });

  it('serves an edited route within a second, with no failed request in flight during the change', async () => {
    let stop = false;
    const results: Array<{ status: number; pod?: string }> = [];
    const load = (async () => {
      while (!stop) results.push(await get('/app'));
    })();
    await eventually(() => expect(results.length).toBeGreaterThan(10));
    const editedAt = Date.now();
    node.write('route.yaml', route('app', '/app', 'v2') + '---\n' + route('new', '/new', 'v2'));
    await eventually(async () => expect(await get('/new')).toEqual({ status: 200, pod: 'v2-pod' }), 1_000, 10);
    const servedAfterMs = Date.now() - editedAt;
    await eventually(() => expect(results[results.length - 1].pod).toBe('v2-pod'), 1_000);
    stop = true;
    await load;
    expect(servedAfterMs).toBeLessThan(1_000);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(new Set(results.map((r) => r.pod))).toEqual(new Set(['v1-pod', 'v2-pod']));
  });

  it('keeps serving while the agent is down, then converges on what changed meanwhile', async () => {
    await node.agent!.stop('SIGKILL');
    for (let i = 0; i < 5; i++) expect(await get('/app')).toEqual({ status: 200, pod: 'v1-pod' });
    node.write('route.yaml', route('app', '/app', 'v2'));
    await node.startAgent();
    await eventually(async () => expect(await get('/app')).toEqual({ status: 200, pod: 'v2-pod' }), 10_000);
    const status = await tendril(['status', '--agent', node.adminAddress]);
    expect(status.stdout).toMatch(/Proxies:\s+1\/1 connected/);
  });

  it('a configuration the proxy cannot serve is NACKed, shown by `tendril status`, and the last good one keeps serving', async () => {
    const occupied = net.createServer();
    const busyPort = await freePort();
    await new Promise<void>((r) => occupied.listen(busyPort, '127.0.0.1', () => r()));
    try {
      node.write('second-gateway.yaml', `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: second, namespace: default }
spec:
  gatewayClassName: tendril
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - { name: http, protocol: HTTP, port: ${busyPort} }
`);
      await eventually(async () => {
        const out = await tendril(['status', '--agent', node.adminAddress, '-o', 'json']);
        const nack = JSON.parse(out.stdout).nodes[0].types['type.googleapis.com/envoy.config.listener.v3.Listener'].lastNack;
        expect(nack?.message).toContain(String(busyPort));
      }, 15_000, 200);
      const table = await tendril(['status', '--agent', node.adminAddress]);
      expect(table.stdout).toMatch(new RegExp(`Listener .* version \\w+: .*${busyPort}`));
      expect(await get('/app')).toEqual({ status: 200, pod: 'v1-pod' });
    } finally {
      occupied.close();
    }
  });
});
