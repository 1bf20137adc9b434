import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CGROUP_ROOT, sh } from '../pod-harness';
import { hairpinDevicesFor, removeHairpin } from '../../src';
import type { AgentConfig, ProbeReply, ProbeRequest } from './probe-agent';

/**
 * The truth-table lab: pods as network namespaces wired like the CNI plugin wires them (pod /32 on
 * eth0, default route via a gateway /32 held by the host-side veth), one namespace holding every
 * external address (8.8.8.8 and friends) routed from the pods as the outside would be, and a probe
 * agent in each namespace and in the root namespace (the `host`).
 *
 * Everything is named with the prefix `tdt` (network namespaces, links, bpffs and cgroup entries)
 * so a crashed run's leftovers are found and removed (`removeLabLeftovers`) without touching the
 * `tdp` objects of the other root suite, which may run at the same time.
 */
export const LAB_PREFIX = 'tdt';
/** Inside 10.0.0.0/8, outside 10.96.0.0/12, as the truth tables require; unused by other suites. */
export const POD_CIDR = '10.219.0.0/24';
export const GATEWAY = '10.219.0.1';
/** Routes to the external addresses, consulted only for traffic from pod addresses. */
const EXTERNAL_ROUTING_TABLE = 2219;
const EXTERNAL_RULE_PRIORITY = 2219;
const EXTERNALS_NETNS = `${LAB_PREFIX}-ext`;
const EXTERNALS_VETH = `${LAB_PREFIX}xh`;

const podIp = (index: number): string => `10.219.0.${10 + index}`;

/** For ICMP types other than echo the agents need raw sockets, which Node lacks: Debian's python3 has them. */
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));
export const RAW_ICMP_AVAILABLE = PYTHON !== undefined;

/** One probe agent (see probe-agent.ts) and its control channel. */
export class ProbeAgent {
  private nextId = 0;
  private readonly waiting = new Map<number, (reply: ProbeReply) => void>();
  private exitReason: string | undefined;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const reply = JSON.parse(line) as Partial<ProbeReply>;
      if (reply.id === undefined) return;
      this.waiting.get(reply.id)?.(reply as ProbeReply);
      this.waiting.delete(reply.id);
    });
    child.once('exit', (code, signal) => {
      this.exitReason = `probe agent of ${name} exited (${signal ?? code})`;
      for (const [id, resolve] of this.waiting) resolve({ id, ok: false, detail: this.exitReason });
      this.waiting.clear();
    });
  }

  /** Starts the agent inside `netns` (the root namespace when undefined) and waits until it listens. */
  static async start(name: string, netns: string | undefined, config: AgentConfig): Promise<ProbeAgent> {
    const node = [process.execPath, '--require', require.resolve('tsx/cjs'), join(__dirname, 'probe-agent.ts'), JSON.stringify(config)];
    const [file, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...node] : node;
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        lines.close();
        const message = JSON.parse(line) as { ready: boolean; error?: string };
        if (message.ready) resolve();
        else reject(new Error(`probe agent of ${name} could not listen: ${message.error}`));
      });
      child.once('exit', (code) => reject(new Error(`probe agent of ${name} exited with ${code} before it was ready`)));
    });
    return new ProbeAgent(name, child);
  }

  probe(request: Omit<ProbeRequest, 'id'>): Promise<ProbeReply> {
    const id = this.nextId++;
    if (this.exitReason) return Promise.resolve({ id, ok: false, detail: this.exitReason });
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin!.write(`${JSON.stringify({ id, ...request })}\n`);
    });
  }

  stop(): void {
    this.child.stdin?.end();
    this.child.kill();
  }
}

export interface LabPod {
  /** `namespace/name`, as the truth tables write it. */
  readonly key: string;
  readonly ip: string;
  readonly netns: string;
  readonly hostVeth: string;
  readonly agent: ProbeAgent;
}

export interface LabExternal {
  readonly name: string;
  readonly ip: string;
}

export interface LabSpec {
  /** Pod keys (`namespace/name`); pod i gets 10.219.0.(10+i). */
  readonly pods: readonly string[];
  readonly externals: readonly LabExternal[];
  readonly tcpPorts: readonly number[];
  readonly udpPorts: readonly number[];
}

async function createPodNamespace(netns: string, hostVeth: string, ip: string): Promise<void> {
  const podVeth = `${hostVeth.slice(0, -1)}p`;
  await sh('ip', ['netns', 'add', netns]);
  await sh('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', podVeth, 'netns', netns]);
  // One batch per namespace: a handful of execs per pod instead of a dozen.
  await batch(netns, [
    `link set ${podVeth} name eth0`,
    'link set lo up',
    `addr add ${ip}/32 dev eth0`,
    'link set eth0 up',
    `route add ${GATEWAY}/32 dev eth0 scope link`,
    `route add default via ${GATEWAY} dev eth0`,
  ]);
  await batch(undefined, [`addr add ${GATEWAY}/32 dev ${hostVeth}`, `link set ${hostVeth} up`, `route replace ${ip}/32 dev ${hostVeth} scope link`]);
}

/** `ip -batch`, in a namespace or the root one. */
async function batch(netns: string | undefined, commands: readonly string[]): Promise<void> {
  const file = `/tmp/${LAB_PREFIX}-${process.pid}-${Math.random().toString(36).slice(2)}.ip`;
  await writeFile(file, `${commands.join('\n')}\n`);
  try {
    await sh('ip', [...(netns ? ['-n', netns] : []), '-batch', file]);
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

export class Lab {
  private constructor(
    readonly pods: ReadonlyMap<string, LabPod>,
    readonly externals: ReadonlyMap<string, LabExternal>,
    /** Probes from the root namespace, on the gateway address (the `host`). */
    readonly hostAgent: ProbeAgent,
    readonly externalsAgent: ProbeAgent | undefined,
    /** Whether the agents can send and detect ICMP messages of any type (python3 found). */
    readonly rawIcmp: boolean,
  ) {}

  /** Builds everything; on any failure removes what it built and rethrows. */
  static async create(spec: LabSpec): Promise<Lab> {
    const agents: ProbeAgent[] = [];
    try {
      const config: AgentConfig = { tcpPorts: spec.tcpPorts, udpPorts: spec.udpPorts, ...(PYTHON ? { rawIcmp: { python: PYTHON } } : {}) };
      const pods = new Map<string, LabPod>();
      // allSettled: on a failure, wait for the other pods too, so the cleanup below sees all of them.
      const created = await Promise.allSettled(
        spec.pods.map(async (key, index) => {
          const netns = `${LAB_PREFIX}-${index}`;
          const hostVeth = `${LAB_PREFIX}${index}h`;
          const ip = podIp(index);
          await createPodNamespace(netns, hostVeth, ip);
          const agent = await ProbeAgent.start(key, netns, config);
          agents.push(agent);
          pods.set(key, { key, ip, netns, hostVeth, agent });
        }),
      );
      const failed = created.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      // Keep the order of the spec: endpoint ids and addresses follow it.
      const ordered = new Map(spec.pods.map((key) => [key, pods.get(key)!]));
      let externalsAgent: ProbeAgent | undefined;
      if (spec.externals.length > 0) {
        await createExternals(spec.externals);
        externalsAgent = await ProbeAgent.start('externals', EXTERNALS_NETNS, { ...config, bindAddresses: spec.externals.map((e) => e.ip) });
        agents.push(externalsAgent);
      }
      const hostAgent = await ProbeAgent.start('host', undefined, { ...config, bindAddresses: [GATEWAY] });
      agents.push(hostAgent);
      return new Lab(ordered, new Map(spec.externals.map((e) => [e.name, e])), hostAgent, externalsAgent, PYTHON !== undefined);
    } catch (err) {
      for (const agent of agents) agent.stop();
      await removeLabLeftovers();
      throw err;
    }
  }

  async destroy(): Promise<void> {
    for (const pod of this.pods.values()) pod.agent.stop();
    this.externalsAgent?.stop();
    this.hostAgent.stop();
    await removeLabLeftovers();
  }
}

/**
 * One namespace holds every external address on its eth0; the root namespace routes those
 * addresses to it, but only for packets from pod addresses (a policy-routing rule), so the host's
 * own traffic to 8.8.8.8 or 1.1.1.1 still goes to the real outside.
 */
async function createExternals(externals: readonly LabExternal[]): Promise<void> {
  const peer = `${LAB_PREFIX}xp`;
  await sh('ip', ['netns', 'add', EXTERNALS_NETNS]);
  await sh('ip', ['link', 'add', EXTERNALS_VETH, 'type', 'veth', 'peer', 'name', peer, 'netns', EXTERNALS_NETNS]);
  await batch(EXTERNALS_NETNS, [
    `link set ${peer} name eth0`,
    'link set lo up',
    ...externals.map((e) => `addr add ${e.ip}/32 dev eth0`),
    'link set eth0 up',
    `route add ${GATEWAY}/32 dev eth0 scope link`,
    `route add default via ${GATEWAY} dev eth0`,
  ]);
  await batch(undefined, [
    `addr add ${GATEWAY}/32 dev ${EXTERNALS_VETH}`,
    `link set ${EXTERNALS_VETH} up`,
    ...externals.map((e) => `route replace ${e.ip}/32 dev ${EXTERNALS_VETH} scope link table ${EXTERNAL_ROUTING_TABLE}`),
    `rule add pref ${EXTERNAL_RULE_PRIORITY} from ${POD_CIDR} lookup ${EXTERNAL_ROUTING_TABLE}`,
  ]);
}

/** Removes this lab's namespaces, links, routing, bpffs pins and cgroups, from this or an earlier run. */
export async function removeLabLeftovers(): Promise<void> {
  const namespaces = (await sh('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '');
  // Deleting a namespace's name does not kill its processes: the agents exit when their stdin closes.
  for (const ns of namespaces.filter((n) => n.startsWith(LAB_PREFIX))) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  const links = JSON.parse(await sh('ip', ['-j', 'link', 'show'])) as { ifname: string }[];
  for (const { ifname } of links.filter((l) => l.ifname.startsWith(LAB_PREFIX))) await sh('ip', ['link', 'del', ifname]).catch(() => undefined);
  const rules = JSON.parse(await sh('ip', ['-j', 'rule', 'show'])) as { priority: number; table?: string }[];
  for (const rule of rules.filter((r) => r.priority === EXTERNAL_RULE_PRIORITY && r.table === String(EXTERNAL_ROUTING_TABLE))) {
    await sh('ip', ['rule', 'del', 'pref', String(rule.priority), 'lookup', String(EXTERNAL_ROUTING_TABLE)]).catch(() => undefined);
  }
  await sh('ip', ['route', 'flush', 'table', String(EXTERNAL_ROUTING_TABLE)]).catch(() => undefined);
  for (const entry of (await readdir('/sys/fs/bpf')).filter((e) => e.startsWith(LAB_PREFIX))) {
    await removeHairpin(hairpinDevicesFor(`/sys/fs/bpf/${entry}`));
    await rm(`/sys/fs/bpf/${entry}`, { recursive: true, force: true });
  }
  for (const entry of (await readdir(CGROUP_ROOT)).filter((e) => e.startsWith(LAB_PREFIX))) await removeCgroup(`${CGROUP_ROOT}/${entry}`);
}

/**
 * An empty cgroup for the datapath's socket load balancer: attached to the cgroup root it would
 * replace the programs of any other datapath on the machine (attach in override mode).
 */
export async function createLabCgroup(): Promise<string> {
  const path = `${CGROUP_ROOT}/${LAB_PREFIX}-${process.pid}`;
  await mkdir(path, { recursive: true });
  return path;
}

/** Removing a cgroup detaches its programs; any process left in it goes back to the root first. */
async function removeCgroup(path: string): Promise<void> {
  const pids = (await readFile(`${path}/cgroup.procs`, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  for (const pid of pids) await writeFile(`${CGROUP_ROOT}/cgroup.procs`, `${pid}\n`).catch(() => undefined);
  await rmdir(path).catch(() => undefined);
}
