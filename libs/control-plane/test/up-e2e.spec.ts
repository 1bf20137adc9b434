import { execFile, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '@tendril/testing';
import { REPO_ROOT } from '../src';
import { Proc, tendril } from './harness';

jest.setTimeout(90_000);

const run = promisify(execFile);

function refuses(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('README command 1: `tendril up` on the bundled quickstart', () => {
  let up: Proc;
  afterAll(async () => {
    await up?.stop();
    // As root, tendril up left its eBPF datapath pinned (a restart keeps enforcing): remove it.
    if (process.getuid?.() === 0) await tendril(['down']);
  });

  it('brings up agent, proxy and backends, prints curl commands that work, and stops cleanly on SIGTERM', async () => {
    up = new Proc(spawn(process.execPath, [path.join(REPO_ROOT, 'apps/cli/bin/tendril.js'), 'up', '--config', 'examples/quickstart'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    await eventually(() => {
      if (up.child.exitCode !== null) throw new Error(`tendril up exited:\n${up.output.join('\n')}`);
      expect(up.output).toContain('Press Ctrl-C to stop.');
    }, 60_000, 100);
    const curls = up.output.filter((l) => l.trim().startsWith('curl ')).map((l) => l.trim().replace(/\s+#.*$/, ''));
    expect(curls.length).toBeGreaterThanOrEqual(5);

    // Backends become ready a moment after the proxy; every printed command then answers from an echo pod.
    for (const cmd of curls) {
      await eventually(async () => {
        const { stdout } = await run('sh', ['-c', cmd]);
        expect(JSON.parse(stdout).pod).toMatch(/^echo-v[12]-/);
      }, 20_000, 200);
    }
    const v2 = curls.find((c) => c.includes('x-version: 2'))!;
    expect(JSON.parse((await run('sh', ['-c', v2])).stdout).pod).toMatch(/^echo-v2-/);
    const split = curls.find((c) => c.includes('/split'))!;
    const pods = new Set<string>();
    for (let i = 0; i < 50; i++) pods.add(JSON.parse((await run('sh', ['-c', split])).stdout).pod.replace(/-[^-]+-[^-]+$/, ''));
    expect(pods).toEqual(new Set(['echo-v1', 'echo-v2']));

    // Pod IPs: network namespaces on 10.244.0.0/24 as root, loopback addresses otherwise.
    const podList = JSON.parse((await tendril(['get', 'pods', '-o', 'json'])).stdout) as { items: Array<{ status?: { podIP?: string } }> };
    const podIps = podList.items.map((p) => p.status?.podIP ?? '');
    expect(podIps).toHaveLength(3);
    for (const ip of podIps) expect(ip).toMatch(process.getuid?.() === 0 ? /^10\.244\.0\.\d+$/ : /^127\.11\./);

    const status = await tendril(['status']);
    expect(status.stdout).toMatch(/Proxies:\s+1\/1 connected/);
    expect(status.stdout).toMatch(/Config errors:\s+none/);

    up.child.kill('SIGTERM');
    expect(await up.exited).toBe(0);
    expect(await refuses('127.0.0.1', 8080)).toBe(true);
    if (process.getuid?.() === 0) {
      // Pods in namespaces: namespaces, veths and their /32 routes are gone. (Connecting to the old
      // pod IPs proves nothing: with their routes gone the default route takes the SYN, and some
      // networks answer any address.)
      const { stdout: namespaces } = await run('ip', ['netns', 'list']);
      expect(namespaces.split('\n').filter((l) => l.startsWith('tdl-'))).toEqual([]);
      const { stdout: routes } = await run('ip', ['-4', 'route', 'show']);
      for (const ip of podIps) expect(routes.split('\n').filter((l) => l.startsWith(`${ip} `))).toEqual([]);
    } else {
      for (const ip of podIps) expect(await refuses(ip, 3000)).toBe(true);
    }
  });
});
