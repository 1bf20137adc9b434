import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { hairpinDevicesFor, removeHairpin } from '../src';

/**
 * Test pods for the root suites: network namespaces wired like the CNI plugin wires them (pod IP
 * /32 on eth0, a default route via a gateway /32 that the host-side veth holds, a host /32 route
 * to the pod), each running one Node process that serves TCP/UDP echo and dials probes on request.
 * Every name starts with `tdp` so leftovers of a crashed run can be found and removed.
 */

export const NAME_PREFIX = 'tdp';

export function sh(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 15_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout),
    ),
  );
}

/** Removes namespaces, links and bpffs pins left by an earlier (possibly crashed) run. */
export async function removeLeftovers(): Promise<void> {
  const namespaces = (await sh('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '');
  for (const ns of namespaces.filter((n) => n.startsWith(NAME_PREFIX))) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  const links = JSON.parse(await sh('ip', ['-j', 'link', 'show'])) as { ifname: string }[];
  for (const { ifname } of links.filter((l) => l.ifname.startsWith(NAME_PREFIX))) await sh('ip', ['link', 'del', ifname]).catch(() => undefined);
  for (const entry of (await readdir('/sys/fs/bpf')).filter((e) => e.startsWith(NAME_PREFIX))) {
    await removeHairpin(hairpinDevicesFor(`/sys/fs/bpf/${entry}`));
    await rm(`/sys/fs/bpf/${entry}`, { recursive: true, force: true });
  }
  for (const entry of (await readdir(CGROUP_ROOT)).filter((e) => e.startsWith(NAME_PREFIX))) {
    await removeCgroup(`${CGROUP_ROOT}/${entry}`);
  }
}

/** Test cgroups live under the cgroup v2 root, so the socket load balancer touches no one else's sockets. */
export const CGROUP_ROOT = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';

export async function createCgroup(name: string): Promise<string> {
  const path = `${CGROUP_ROOT}/${NAME_PREFIX}-${name}`;
  await mkdir(path, { recursive: true });
  return path;
}

export async function moveToCgroup(path: string, pid: number): Promise<void> {
  await writeFile(`${path}/cgroup.procs`, `${pid}\n`);
}

/** Moves any process left inside back to the root, then removes the cgroup. */
async function removeCgroup(path: string): Promise<void> {
  const pids = (await readFile(`${path}/cgroup.procs`, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  for (const pid of pids) await writeFile(`${CGROUP_ROOT}/cgroup.procs`, `${pid}\n`).catch(() => undefined);
  await rmdir(path).catch(() => undefined);
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** The script each pod runs: echo servers, plus probes asked for as JSON lines on stdin. */
const POD_SCRIPT = `
const net = require('net'), dgram = require('dgram'), readline = require('readline');
const [tcpPorts, udpPorts] = JSON.parse(process.argv[1]);
let pending = tcpPorts.length + udpPorts.length;
const ready = () => { if (--pending === 0) console.log(JSON.stringify({ ready: true })); };
for (const port of tcpPorts) net.createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(port, ready);
for (const port of udpPorts) { const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(m, r.port, r.address)); u.bind(port, ready); }
if (pending === 0) console.log(JSON.stringify({ ready: true }));
const reply = (id, ok, detail) => console.log(JSON.stringify({ id, ok, detail }));
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, proto, host, port, timeoutMs } = JSON.parse(line);
  let done = false;
  const finish = (ok, detail, close) => { if (done) return; done = true; clearTimeout(timer); close(); reply(id, ok, detail); };
  let timer;
  if (proto === 'tcp') {
    const s = net.connect(port, host, () => s.write('ping'));
    timer = setTimeout(() => finish(false, 'timeout', () => s.destroy()), timeoutMs);
    s.on('data', (d) => finish(d.toString() === 'ping', 'echo ' + d, () => s.destroy()));
    s.on('error', (e) => finish(false, e.message, () => s.destroy()));
  } else {
    const u = dgram.createSocket('udp4');
    timer = setTimeout(() => finish(false, 'timeout', () => u.close()), timeoutMs);
    u.on('message', (m, r) => finish(m.toString() === 'ping', 'echo ' + m + ' from ' + r.address + ':' + r.port, () => u.close()));
    u.send('ping', port, host);
  }
});
`;

export interface PodSpec {
  /** Short name; the namespace is tdp-<name>, the host veth tdp-<name>-h. */
  readonly name: string;
  readonly ip: string;
  readonly gateway: string;
  readonly tcpPorts: readonly number[];
  readonly udpPorts: readonly number[];
}

export class TestPod {
  /** The pod's Node process (the one that dials probes). */
  readonly pid: number;
  private nextId = 0;
  private readonly waiting = new Map<number, (result: ProbeResult) => void>();

  private constructor(
    readonly spec: PodSpec,
    readonly netns: string,
    readonly hostVeth: string,
    private readonly process: ChildProcess,
  ) {
    this.pid = process.pid!;
    createInterface({ input: process.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as { id?: number; ok: boolean; detail: string };
      if (message.id === undefined) return;
      this.waiting.get(message.id)?.({ ok: message.ok, detail: message.detail });
      this.waiting.delete(message.id);
    });
  }

  static async create(spec: PodSpec): Promise<TestPod> {
    const netns = `${NAME_PREFIX}-${spec.name}`;
    const hostVeth = `${netns}-h`;
    const podTemp = `${netns}-p`;
    await sh('ip', ['netns', 'add', netns]);
    await sh('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', podTemp]);
    await sh('ip', ['link', 'set', podTemp, 'netns', netns]);
    const inPod = (args: string[]): Promise<string> => sh('ip', ['netns', 'exec', netns, 'ip', ...args]);
    await inPod(['link', 'set', podTemp, 'name', 'eth0']);
    await inPod(['addr', 'add', `${spec.ip}/32`, 'dev', 'eth0']);
    await inPod(['link', 'set', 'eth0', 'up']);
    await inPod(['link', 'set', 'lo', 'up']);
    await inPod(['route', 'add', `${spec.gateway}/32`, 'dev', 'eth0', 'scope', 'link']);
    await inPod(['route', 'add', 'default', 'via', spec.gateway, 'dev', 'eth0']);
    await sh('ip', ['addr', 'add', `${spec.gateway}/32`, 'dev', hostVeth]);
    await sh('ip', ['link', 'set', hostVeth, 'up']);
    await sh('ip', ['route', 'replace', `${spec.ip}/32`, 'dev', hostVeth, 'scope', 'link']);

    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', POD_SCRIPT, JSON.stringify([spec.tcpPorts, spec.udpPorts])], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', () => resolve());
      child.once('exit', (code) => reject(new Error(`pod ${spec.name} exited with ${code}`)));
    });
    return new TestPod(spec, netns, hostVeth, child);
  }

  /** Dials host:port from inside the pod; ok when the echo came back within timeoutMs. */
  probe(proto: 'tcp' | 'udp', host: string, port: number, timeoutMs = 1500): Promise<ProbeResult> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.process.stdin!.write(`${JSON.stringify({ id, proto, host, port, timeoutMs })}\n`);
    });
  }

  async destroy(): Promise<void> {
    this.process.kill();
    await sh('ip', ['link', 'del', this.hostVeth]).catch(() => undefined);
    await sh('ip', ['netns', 'del', this.netns]).catch(() => undefined);
  }
}
