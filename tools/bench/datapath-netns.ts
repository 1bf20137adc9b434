/**
 * The datapath bench's plumbing: two pods as network namespaces behind host-side veths (wired as
 * the CNI plugin wires them: pod /32 on eth0, default route via a gateway /32 on the host veth),
 * and the iptables baseline (one ACCEPT rule per allowed pair in a chain jumped to from FORWARD).
 * Every object is named with the prefix `tdb`, so leftovers of a killed run are found and removed.
 */
import { execFile } from 'node:child_process';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hairpinDevicesFor, removeHairpin } from '@tendril/datapath';

export const BENCH_PREFIX = 'tdb';
/** Inside 10.0.0.0/8 and used by no test suite. */
export const BENCH_CIDR = '10.218.0.0/24';
export const GATEWAY = '10.218.0.1';
/** The chain holding the iptables equivalent of the policy; FORWARD jumps to it for bench traffic. */
export const IPTABLES_CHAIN = 'TDB-BENCH';

export function sh(file: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout),
    ),
  );
}

export interface BenchPod {
  readonly name: string;
  readonly netns: string;
  readonly hostVeth: string;
  readonly ip: string;
}

/** `ip -batch` in a namespace (or the root one): one exec for a list of commands. */
async function ipBatch(netns: string | undefined, commands: readonly string[]): Promise<void> {
  const file = join(tmpdir(), `${BENCH_PREFIX}-${process.pid}-${Math.random().toString(36).slice(2)}.ip`);
  writeFileSync(file, `${commands.join('\n')}\n`);
  try {
    await sh('ip', [...(netns ? ['-n', netns] : []), '-batch', file]);
  } finally {
    unlinkSync(file);
  }
}

export async function createBenchPod(name: string, ip: string): Promise<BenchPod> {
  const netns = `${BENCH_PREFIX}-${name}`;
  const hostVeth = `${BENCH_PREFIX}-${name}-h`;
  const podVeth = `${BENCH_PREFIX}-${name}-p`;
  await sh('ip', ['netns', 'add', netns]);
  await sh('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', podVeth, 'netns', netns]);
  await ipBatch(netns, [
    `link set ${podVeth} name eth0`,
    'link set lo up',
    `addr add ${ip}/32 dev eth0`,
    'link set eth0 up',
    `route add ${GATEWAY}/32 dev eth0 scope link`,
    `route add default via ${GATEWAY} dev eth0`,
  ]);
  await ipBatch(undefined, [`addr add ${GATEWAY}/32 dev ${hostVeth}`, `link set ${hostVeth} up`, `route replace ${ip}/32 dev ${hostVeth} scope link`]);
  // Closing tens of thousands of connections: the client needs the whole port range.
  await sh('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1']);
  return { name, netns, hostVeth, ip };
}

/** The cgroup v2 root (/sys/fs/cgroup/unified on a hybrid hierarchy). */
export const CGROUP_ROOT = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';

/** An empty cgroup for the socket load balancer, so attaching it touches no other process's sockets. */
export async function createBenchCgroup(): Promise<string> {
  const path = `${CGROUP_ROOT}/${BENCH_PREFIX}-${process.pid}`;
  await mkdir(path, { recursive: true });
  return path;
}

/** Removes namespaces, links, bpffs pins, cgroups and iptables rules left by this or an earlier run. */
export async function removeBenchLeftovers(): Promise<void> {
  const namespaces = (await sh('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '');
  for (const ns of namespaces.filter((n) => n.startsWith(BENCH_PREFIX))) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  const links = JSON.parse(await sh('ip', ['-j', 'link', 'show'])) as { ifname: string }[];
  for (const { ifname } of links.filter((l) => l.ifname.startsWith(BENCH_PREFIX))) await sh('ip', ['link', 'del', ifname]).catch(() => undefined);
  for (const entry of (await readdir('/sys/fs/bpf').catch(() => [] as string[])).filter((e) => e.startsWith(BENCH_PREFIX))) {
    await removeHairpin(hairpinDevicesFor(`/sys/fs/bpf/${entry}`));
    await rm(`/sys/fs/bpf/${entry}`, { recursive: true, force: true });
  }
  for (const entry of (await readdir(CGROUP_ROOT).catch(() => [] as string[])).filter((e) => e.startsWith(BENCH_PREFIX))) {
    await rmdir(`${CGROUP_ROOT}/${entry}`).catch(() => undefined);
  }
  await removeIptablesPolicy();
}

/**
 * The iptables equivalent of an identity policy, as iptables-based network-policy implementations
 * build it: replies of tracked connections pass first (as the BPF conntrack lets replies pass), then
 * one ACCEPT rule per allowed (source, destination, port) — `pairs` of them, the probed pair last —
 * then DROP. Installed in one `iptables-restore --noflush` transaction.
 */
export async function installIptablesPolicy(pairs: number, client: string, server: string, port: number): Promise<void> {
  if (pairs < 1 || pairs > 65_000) throw new Error(`iptables pairs must be 1..65000, got ${pairs}`);
  const lines = ['*filter', `:${IPTABLES_CHAIN} - [0:0]`, `-A ${IPTABLES_CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED --ctdir REPLY -j ACCEPT`];
  // Other pairs: sources in 10.220.0.0/16, never the client.
  for (let i = 0; i < pairs - 1; i++) {
    lines.push(`-A ${IPTABLES_CHAIN} -s 10.220.${i >> 8}.${i & 0xff}/32 -d ${server}/32 -p tcp -m tcp --dport ${port} -j ACCEPT`);
  }
  lines.push(`-A ${IPTABLES_CHAIN} -s ${client}/32 -d ${server}/32 -p tcp -m tcp --dport ${port} -j ACCEPT`);
  lines.push(`-A ${IPTABLES_CHAIN} -j DROP`);
  lines.push(`-I FORWARD 1 -s ${BENCH_CIDR} -j ${IPTABLES_CHAIN}`);
  lines.push('COMMIT');
  const file = join(tmpdir(), `${BENCH_PREFIX}-${process.pid}-iptables.rules`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  try {
    await sh('iptables-restore', ['--noflush', file], 120_000);
  } finally {
    unlinkSync(file);
  }
}

/** Removes the FORWARD jump and the chain (every rule this bench adds); a no-op when absent. */
export async function removeIptablesPolicy(): Promise<void> {
  if (!(await sh('iptables', ['-V']).then(() => true, () => false))) return;
  // -D removes one matching rule per call: repeat until none is left (a crashed run may have added two).
  while (await sh('iptables', ['-D', 'FORWARD', '-s', BENCH_CIDR, '-j', IPTABLES_CHAIN]).then(() => true, () => false));
  await sh('iptables', ['-F', IPTABLES_CHAIN]).catch(() => undefined);
  await sh('iptables', ['-X', IPTABLES_CHAIN]).catch(() => undefined);
}

/** How many rules the bench's chain holds now (0 when it does not exist). */
export async function iptablesRuleCount(): Promise<number> {
  const out = await sh('iptables', ['-S', IPTABLES_CHAIN]).catch(() => '');
  return out.split('\n').filter((l) => l.startsWith('-A ')).length;
}
