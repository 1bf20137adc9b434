import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import type { Deployment } from '@tendril/api-k8s';
import { LoopbackPodNetwork, PodRunner, type PodIdentity, type PodNetwork, type PodSandbox } from '../src';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const tendrilCommand = {
  command: process.execPath,
  args: ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'apps', 'cli', 'src', 'main.ts')],
  env: { TSX_TSCONFIG_PATH: path.join(repoRoot, 'tsconfig.json') },
};

function echoDeployment(replicas: number): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'infra-backend-v1', namespace: 'gateway-conformance-infra' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'infra-backend-v1' } },
      template: {
        metadata: { labels: { app: 'infra-backend-v1' } },
        spec: { containers: [{ name: 'echo', image: 'gcr.io/k8s-staging-gateway-api/echo-basic:v20240412', ports: [{ containerPort: 3000 }] }] },
      },
    },
  };
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('PodRunner', () => {
  jest.setTimeout(30_000);
  const lines: string[] = [];
  let runner: PodRunner;
  beforeEach(() => (runner = new PodRunner({ tendrilCommand, write: (l) => lines.push(l), firstPodIp: '127.11.200.1' })));
  afterEach(() => runner.stop());

  it('runs each replica of an echo Deployment on its own pod IP with pod-like names and the pod environment', async () => {
    runner.sync([echoDeployment(2)]);
    await waitFor(() => runner.list().filter((p) => p.ready).length === 2, 20_000);
    const pods = runner.list();
    expect(new Set(pods.map((p) => p.ip)).size).toBe(2);
    for (const p of pods) {
      expect(p.pod.metadata.name).toMatch(/^infra-backend-v1-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      const res = await request(`http://${p.ip}:3000/hello`);
      const body = (await res.body.json()) as { pod: string; namespace: string; path: string };
      expect(body).toMatchObject({ pod: p.pod.metadata.name, namespace: 'gateway-conformance-infra', path: '/hello' });
    }
  });

  it('scales down by stopping pods and reports a pod it cannot run instead of crashing', async () => {
    runner.sync([echoDeployment(2)]);
    await waitFor(() => runner.list().filter((p) => p.ready).length === 2, 20_000);
    runner.sync([echoDeployment(1)]);
    expect(runner.list()).toHaveLength(1);
    runner.sync([
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'imageonly', namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
    ]);
    const [p] = runner.list();
    expect(p.pod.status?.phase).toBe('Failed');
    expect(lines.join('\n')).toContain('tendril runs commands, not images (nginx:1.27)');
  });
  it('runs a UDP echo Deployment (UDP_ECHO_SERVER) and marks it Ready once its UDP port is bound', async () => {
    const deployment: Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'udp-backend-v1', namespace: 'gateway-conformance-infra' },
      spec: {
        selector: { matchLabels: { app: 'udp-backend-v1' } },
        template: {
          metadata: { labels: { app: 'udp-backend-v1' } },
          spec: {
            containers: [
              {
                name: 'udp-backend',
                image: 'registry.k8s.io/gateway-api/conformance/echo-basic:v0.1.0',
                env: [{ name: 'UDP_ECHO_SERVER', value: '1' }, { name: 'SERVICE_NAME', value: 'udp-backend-v1' }],
                ports: [{ containerPort: 8080, protocol: 'UDP' }],
              },
            ],
          },
        },
      },
    } as unknown as Deployment;
    runner.sync([deployment]);
    await waitFor(() => runner.list().some((p) => p.ready), 20_000);
    const [pod] = runner.list();
    const socket = dgram.createSocket('udp4');
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply')), 3_000);
        socket.once('message', (m) => {
          clearTimeout(timer);
          resolve(m.toString());
        });
        socket.send('ping', 8080, pod.ip);
      });
      expect(JSON.parse(reply)).toEqual({ request: 'ping', namespace: 'gateway-conformance-infra', ingress: '', service: 'udp-backend-v1', pod: pod.pod.metadata.name });
    } finally {
      socket.close();
    }
  });

  it('runs the coredns image as the Corefile-driven test DNS server, with the container\'s args', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tendril-corefile-'));
    writeFileSync(path.join(dir, 'Corefile'), 'foo.bar.com:53 {\n  whoami\n}\n');
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'gateway-conformance-infra' },
      spec: {
        selector: { matchLabels: { app: 'udp' } },
        template: {
          metadata: { labels: { app: 'udp' } },
          spec: { containers: [{ name: 'coredns', image: 'registry.k8s.io/coredns/coredns:v1.14.6', args: ['-conf', path.join(dir, 'Corefile'), '-dns.port', '5353'] }] },
        },
      },
    } as unknown as Deployment;
    runner.sync([deployment]);
    await waitFor(() => runner.list().some((p) => p.ready), 20_000);
    const ip = runner.list()[0].ip;
    // Ready means the process runs (no port to probe): the server may still be starting.
    let answer = '';
    for (let i = 0; i < 40 && !answer.includes('status: NOERROR'); i++) {
      answer = await promisify(execFile)('dig', [`@${ip}`, '-p', '5353', '+noedns', '+tries=1', '+time=1', 'foo.bar.com', 'A']).then((r) => r.stdout, () => '');
      if (!answer.includes('status: NOERROR')) await new Promise((r) => setTimeout(r, 250));
    }
    expect(answer).toContain('status: NOERROR');
    // whoami answers with the client's address: dig's, on the host.
    expect(answer).toMatch(/^foo\.bar\.com\.\s+0\s+IN\s+A\s+127\.0\.0\.1$/m);
  });
});

/** Loopback pods whose sandbox arrives asynchronously, as a namespace wired by CNI does. */
class AsyncLoopbackNetwork implements PodNetwork {
  readonly mode = 'netns' as const;
  private readonly loopback = new LoopbackPodNetwork('127.11.210.1');
  createSandbox(_pod: PodIdentity): Promise<PodSandbox> {
    return Promise.resolve(this.loopback.createSandbox());
  }
  wrapCommand(sandbox: PodSandbox, command: string, args: string[]): { command: string; args: string[] } {
    return this.loopback.wrapCommand(sandbox, command, args);
  }
  removeSandbox(sandbox: PodSandbox): Promise<void> {
    return this.loopback.removeSandbox(sandbox);
  }
  pids(sandbox: PodSandbox, containerPid: number | undefined): Promise<number[]> {
    return this.loopback.pids(sandbox, containerPid);
  }
}

describe('PodRunner: a pod starts only once its policy is in force (beforeFirstStart)', () => {
  jest.setTimeout(30_000);
  const lines: string[] = [];
  let runner: PodRunner | undefined;
  afterEach(() => runner?.stop());

  it('keeps the pod Pending with no process until the hook says its interface is enforced', async () => {
    let enforce!: (ready: boolean) => void;
    const asked: string[] = [];
    runner = new PodRunner({
      tendrilCommand,
      write: (l) => lines.push(l),
      network: new AsyncLoopbackNetwork(),
      beforeFirstStart: (pod) => {
        asked.push(`${pod.namespace}/${pod.name} ${pod.sandbox.ip}`);
        return new Promise((resolve) => (enforce = resolve));
      },
    });
    runner.sync([echoDeployment(1)]);
    await waitFor(() => asked.length === 1, 5_000);
    const [waiting] = await runner.describe();
    // The sandbox (IP) is visible to whoever enforces policy, but nothing runs in it yet.
    expect(waiting).toMatchObject({ phase: 'Pending', ready: false, pids: [] });
    expect(asked[0]).toBe(`gateway-conformance-infra/${waiting.name} ${waiting.ip}`);
    await new Promise((r) => setTimeout(r, 300));
    expect((await runner.describe())[0].pids).toEqual([]);
    enforce(true);
    await waitFor(() => runner!.list().filter((p) => p.ready).length === 1, 20_000);
    const [running] = await runner.describe();
    expect(running).toMatchObject({ phase: 'Running', pids: [expect.any(Number)] });
    // Without its processes (what the endpoint manager asks for on every change): no process lookup.
    expect((await runner.describe({ pids: false }))[0]).toEqual({ ...running, pids: [] });
  });

  it('fails the pod instead of starting it when its policy cannot be put in force', async () => {
    runner = new PodRunner({ tendrilCommand, write: (l) => lines.push(l), network: new AsyncLoopbackNetwork(), beforeFirstStart: () => Promise.resolve(false) });
    runner.sync([echoDeployment(1)]);
    await waitFor(() => runner!.list()[0]?.pod.status?.phase === 'Failed', 5_000);
    const [pod] = await runner.describe();
    expect(pod).toMatchObject({ phase: 'Failed', pids: [], message: 'not started: its network policy could not be put in force on its interface' });
  });
});
