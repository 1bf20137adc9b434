import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hostVethName } from '../src';

/*
 * Runs the real executable the way a kubelet does (CNI_* env + config on stdin) against real network
 * namespaces. Reachability is checked with TCP through node inside the namespaces, because this
 * machine has no ping binary; a TCP round trip proves the same L3 path (ARP, routes, forwarding).
 */
const root = process.getuid?.() === 0;
if (!root) console.warn('tendril-cni root tests skipped: creating network namespaces and veths needs root');

const BINARY = join(__dirname, '..', '..', '..', 'apps', 'cni', 'bin', 'tendril-cni');
const IP = '/usr/sbin/ip';

interface Run {
  stdout: string;
  exitCode: number;
}

function runPlugin(env: Record<string, string>, stdin: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(BINARY, [], { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 30_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ stdout, exitCode: typeof err?.code === 'number' ? err.code : 0 });
    });
    child.stdin?.end(stdin);
  });
}

function sh(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 15_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${args.join(' ')}: ${stderr}`)) : resolve(stdout))),
  );
}

/** An echo server bound to the pod's address, inside its namespace. */
function startEchoServer(ns: string, address: string, port: number): Promise<ChildProcess> {
  const script = `require('net').createServer((s) => s.pipe(s)).listen(${port}, '${address}', () => console.log('ready'))`;
  const child = spawn(IP, ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`echo server in ${ns} exited with ${code}`)));
  });
}

const echoClientScript = (address: string, port: number): string =>
  `const s = require('net').connect(${port}, '${address}', () => s.write('hello'));` +
  `s.setTimeout(3000, () => { console.error('timeout'); process.exit(2); });` +
  `s.on('data', (d) => { process.stdout.write(d); s.end(); });` +
  `s.on('error', (e) => { console.error(e.message); process.exit(1); });`;

function echoFromHost(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, address, () => socket.write('hello'));
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.once('data', (d) => {
      resolve(d.toString());
      socket.end();
    });
    socket.once('error', reject);
  });
}

(root ? describe : describe.skip)('tendril-cni executable (needs root: network namespaces)', () => {
  const suffix = randomBytes(3).toString('hex');
  const octet = 100 + randomBytes(1)[0]! % 150;
  const subnet = `10.250.${octet}.0/24`;
  const gateway = `10.250.${octet}.1`;
  const nsA = `tendril-cni-test-${suffix}-a`;
  const nsB = `tendril-cni-test-${suffix}-b`;
  const idA = `ctr-a-${suffix}`;
  const idB = `ctr-b-${suffix}`;
  const port = 18080;
  let dataDir = '';
  let config = '';
  const servers: ChildProcess[] = [];
  const envFor = (command: string, ns: string, id: string): Record<string, string> => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: `/var/run/netns/${ns}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=test',
  });
  let resultA: { ips: { address: string }[] } & Record<string, unknown>;
  let resultB: { ips: { address: string }[] };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tendril-cni-test-'));
    config = JSON.stringify({ cniVersion: '1.0.0', name: 'tendril-test', type: 'tendril-cni', ipam: { subnet, gateway, dataDir } });
    await sh(IP, ['netns', 'add', nsA]);
    await sh(IP, ['netns', 'add', nsB]);
  });

  afterAll(async () => {
    for (const server of servers) server.kill();
    for (const [ns, id] of [[nsA, idA], [nsB, idB]] as const) {
      await sh(IP, ['link', 'del', hostVethName(id, 'eth0')]).catch(() => undefined);
      await sh(IP, ['netns', 'del', ns]).catch(() => undefined);
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('ADD wires two pods and answers with a spec-shaped result', async () => {
    const a = await runPlugin(envFor('ADD', nsA, idA), config);
    expect(a.exitCode).toBe(0);
    resultA = JSON.parse(a.stdout);
    const b = await runPlugin(envFor('ADD', nsB, idB), config);
    expect(b.exitCode).toBe(0);
    resultB = JSON.parse(b.stdout);
    expect(resultA).toEqual({
      cniVersion: '1.0.0',
      interfaces: [
        { name: hostVethName(idA, 'eth0'), mac: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/) },
        { name: 'eth0', mac: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/), sandbox: `/var/run/netns/${nsA}` },
      ],
      ips: [{ address: `10.250.${octet}.2/32`, gateway, interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: gateway }],
      dns: {},
    });
    expect(resultB.ips[0]!.address).toBe(`10.250.${octet}.3/32`);
    const addrs = JSON.parse(await sh(IP, ['-n', nsA, '-j', 'addr', 'show', 'dev', 'eth0'])) as { addr_info: { local: string }[] }[];
    expect(addrs[0]!.addr_info.map((i) => i.local)).toContain(`10.250.${octet}.2`);
  });

  it('pod A reaches pod B, and the host reaches pod A', async () => {
    const ipA = resultA.ips[0]!.address.split('/')[0]!;
    const ipB = resultB.ips[0]!.address.split('/')[0]!;
    servers.push(await startEchoServer(nsB, ipB, port));
    servers.push(await startEchoServer(nsA, ipA, port));
    expect(await sh(IP, ['netns', 'exec', nsA, process.execPath, '-e', echoClientScript(ipB, port)])).toBe('hello');
    expect(await echoFromHost(ipA, port)).toBe('hello');
  });

  it('CHECK passes on a wired pod and fails once its address is removed', async () => {
    expect(await runPlugin(envFor('CHECK', nsA, idA), config)).toEqual({ stdout: '', exitCode: 0 });
    await sh(IP, ['-n', nsB, 'addr', 'del', resultB.ips[0]!.address, 'dev', 'eth0']);
    const broken = await runPlugin(envFor('CHECK', nsB, idB), config);
    expect(broken.exitCode).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({ cniVersion: '1.0.0', code: 102, msg: expect.stringContaining('lacks address') });
  });

  it('DEL removes the link and frees the address, and a second DEL still succeeds', async () => {
    expect(await runPlugin(envFor('DEL', nsB, idB), config)).toEqual({ stdout: '', exitCode: 0 });
    expect(existsSync(`/sys/class/net/${hostVethName(idB, 'eth0')}`)).toBe(false);
    await expect(sh(IP, ['-n', nsB, 'link', 'show', 'eth0'])).rejects.toThrow();
    expect(await readdir(join(dataDir, 'tendril-test'))).toEqual([`10.250.${octet}.2`]);
    expect(await runPlugin(envFor('DEL', nsB, idB), config)).toEqual({ stdout: '', exitCode: 0 });
    // Also when the runtime has already removed the namespace.
    expect(await runPlugin({ ...envFor('DEL', nsB, idB), CNI_NETNS: '' }, config)).toEqual({ stdout: '', exitCode: 0 });
  });

  it('answers an invalid config with the error JSON, code 7 and exit 1', async () => {
    const bad = JSON.stringify({ cniVersion: '1.0.0', name: 'x', type: 'bridge', ipam: { subnet, gateway, dataDir } });
    const run = await runPlugin(envFor('ADD', nsB, idB), bad);
    expect(run.exitCode).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({ cniVersion: '1.0.0', code: 7, msg: 'type must be "tendril-cni", got "bridge"' });
    expect(existsSync(`/sys/class/net/${hostVethName(idB, 'eth0')}`)).toBe(false);
  });

  it('VERSION lists the supported versions', async () => {
    const run = await runPlugin({ CNI_COMMAND: 'VERSION' }, '');
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });
});
