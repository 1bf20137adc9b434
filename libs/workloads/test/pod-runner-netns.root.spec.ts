import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { eventually } from '@tendril/testing';
import { DEFAULT_CNI_NETWORK_NAME, NetnsPodNetwork, PodRunner, listNetns, netnsPids, type PodRuntimeInfo } from '../src';
import { CNI_PLUGIN, echoDeployment, httpGetFromNetns, ipamAddresses, isRoot, linkExists, processAlive, repoRoot, tendrilCommand, uniqueTestNetwork } from './netns-harness';

if (!isRoot) console.warn('PodRunner netns tests skipped: creating network namespaces and veths needs root');

function inCidr(ip: string, octets: string): boolean {
  return ip.startsWith(`10.${octets}.`) && Number(ip.split('.')[3]) > 1;
}

(isRoot ? describe : describe.skip)('PodRunner in netns mode (needs root: network namespaces)', () => {
  jest.setTimeout(60_000);
  const { namePrefix, podCidr, octets } = uniqueTestNetwork('run');
  const ipamDataDir = mkdtempSync(path.join(tmpdir(), 'tendril-pods-ipam-'));
  const lines: string[] = [];
  let runner: PodRunner;

  const newRunner = (): PodRunner =>
    new PodRunner({ tendrilCommand, network: new NetnsPodNetwork({ cniPlugin: CNI_PLUGIN, namePrefix, podCidr, ipamDataDir, write: (l) => lines.push(l) }), write: (l) => lines.push(l) });

  const readyPods = async (count: number): Promise<PodRuntimeInfo[]> =>
    eventually(async () => {
      const pods = (await runner.describe()).filter((p) => p.ready);
      if (pods.length !== count) throw new Error(`${pods.length} of ${count} pods ready; log:\n${lines.join('\n')}`);
      return pods.sort((a, b) => a.name.localeCompare(b.name));
    }, 30_000, 100);

  afterAll(async () => {
    await runner?.stop();
    rmSync(ipamDataDir, { recursive: true, force: true });
  });

  it('gives each replica a namespace of its own and an IP in the PodCIDR, reachable over HTTP from the host', async () => {
    runner = newRunner();
    runner.sync([echoDeployment('web', 2)]);
    const pods = await readyPods(2);
    expect(await listNetns(namePrefix)).toEqual(pods.map((p) => p.netns).sort());
    expect(ipamAddresses(ipamDataDir, DEFAULT_CNI_NETWORK_NAME)).toEqual(pods.map((p) => p.ip).sort());
    for (const p of pods) {
      expect(p).toMatchObject({ network: 'netns', phase: 'Running', netns: expect.stringMatching(new RegExp(`^${namePrefix}\\d+-web-`)) });
      expect(inCidr(p.ip, octets)).toBe(true);
      expect(linkExists(p.hostInterface!)).toBe(true);
      expect(p.pids.length).toBeGreaterThan(0);
      const res = await request(`http://${p.ip}:3000/hello`);
      expect(await res.body.json()).toMatchObject({ pod: p.name, namespace: 'default', path: '/hello' });
    }
    // The list the agent turns into EndpointSlices carries the same IPs.
    expect(runner.list().map((p) => p.ip).sort()).toEqual(pods.map((p) => p.ip).sort());
  });

  it('lets one pod reach the other over TCP through the host', async () => {
    const [a, b] = await readyPods(2);
    const body = JSON.parse(await httpGetFromNetns(a!.netns!, `http://${b!.ip}:3000/from-a`)) as { pod: string; path: string };
    expect(body).toMatchObject({ pod: b!.name, path: '/from-a' });
  });

  it('scaling to one replica removes the other pod: its processes, namespace, veth and address', async () => {
    const before = await readyPods(2);
    runner.sync([echoDeployment('web', 1)]);
    const kept = (await runner.describe())[0]!;
    const removed = before.find((p) => p.name !== kept.name)!;
    await eventually(async () => expect(await listNetns(namePrefix)).toEqual([kept.netns]), 20_000, 100);
    expect(linkExists(removed.hostInterface!)).toBe(false);
    expect(ipamAddresses(ipamDataDir, DEFAULT_CNI_NETWORK_NAME)).toEqual([kept.ip]);
    for (const pid of removed.pids) expect(processAlive(pid)).toBe(false);
    const res = await request(`http://${kept.ip}:3000/still-here`);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('stop removes every namespace, veth and address', async () => {
    const [kept] = await readyPods(1);
    await runner.stop();
    expect(await listNetns(namePrefix)).toEqual([]);
    expect(linkExists(kept!.hostInterface!)).toBe(false);
    expect(ipamAddresses(ipamDataDir, DEFAULT_CNI_NETWORK_NAME)).toEqual([]);
    expect(await netnsPids(kept!.netns!)).toEqual([]);
  });

  it('a new runner removes what a crashed one left behind before it starts pods', async () => {
    // The "crash": a runner in another process starts a pod and is SIGKILLed without cleaning up.
    const fixture = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'fixtures', 'abandoned-runner.ts'), CNI_PLUGIN, namePrefix, podCidr, ipamDataDir], {
      env: { ...process.env, TSX_TSCONFIG_PATH: path.join(repoRoot, 'tsconfig.json') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const orphan = await new Promise<PodRuntimeInfo>((resolve, reject) => {
      fixture.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as PodRuntimeInfo));
      fixture.once('exit', (code) => reject(new Error(`abandoned runner exited with ${code}`)));
    });
    fixture.kill('SIGKILL');
    await new Promise((r) => fixture.once('exit', r));
    expect(await listNetns(namePrefix)).toEqual([orphan.netns]);
    expect(ipamAddresses(ipamDataDir, DEFAULT_CNI_NETWORK_NAME)).toEqual([orphan.ip]);
    expect(processAlive(orphan.pids[0]!)).toBe(true);

    runner = newRunner();
    runner.sync([echoDeployment('web', 1)]);
    const [fresh] = await readyPods(1);
    expect(await listNetns(namePrefix)).toEqual([fresh!.netns]);
    expect(ipamAddresses(ipamDataDir, DEFAULT_CNI_NETWORK_NAME)).toEqual([fresh!.ip]);
    expect(linkExists(orphan.hostInterface!)).toBe(false);
    expect(processAlive(orphan.pids[0]!)).toBe(false);
    expect(lines.join('\n')).toContain(`removed 1 pod network(s) left by a previous run: ${orphan.netns}`);
  });
});
