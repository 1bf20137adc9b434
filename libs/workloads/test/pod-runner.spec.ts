import * as path from 'node:path';
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
