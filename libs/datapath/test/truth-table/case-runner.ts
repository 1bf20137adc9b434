import { randomBytes } from 'node:crypto';
import { formatIpPrefix, IdentityAllocator, ReservedIdentity, workloadLabels } from '@tendril/identity';
import {
  compileEndpointPolicy,
  type EnforcementOptions,
  type NamedPorts,
  type PolicyEndpoint,
  PolicyRepository,
  policyMapEntries,
  type PolicyRule,
  Protocol,
  referencedCidrs,
} from '@tendril/policy';
import type { Datapath } from '../../src';
import { GATEWAY, type Lab, type LabPod, type ProbeAgent } from './lab';
import type { ProbeKind, ProbeReply, ProbeRequest } from './probe-agent';
import { podKey, type ProbeBlock, type TruthTable } from './table-file';

/**
 * Replays one truth table on the lab: identities from the pods' labels (libs/identity), the
 * policies through the policy repository and compiler exactly as the agent uses them
 * (libs/policy), the results written to the BPF maps (libs/datapath), then every cell of every
 * matrix probed with real packets.
 */

/** A denied SYN (or datagram, or echo request) is dropped silently: this long is "no answer". */
export const BLOCKED_TIMEOUT_MS = 400;
/** A cell that should pass but timed out is probed once more with this much patience (a busy machine, not a verdict). */
export const RETRY_TIMEOUT_MS = 2500;
const ICMP_ECHO_REQUEST = 8;

export interface CellResult {
  readonly block: ProbeBlock;
  readonly row: number;
  readonly column: number;
  readonly expected: boolean;
  readonly got: boolean;
  /** The probe's own words: `echo …`, `timeout`, a socket error. */
  readonly detail: string;
}

export interface CaseResult {
  /** Policies the repository refused: name → error. */
  readonly rejected: ReadonlyMap<string, string>;
  readonly cells: readonly CellResult[];
  /** Why some cells could not be probed (one line per probe block or end). */
  readonly notes: readonly string[];
  /** Policy-map entries written with a proxy port (L7 rules): their connections must reach the proxy. */
  readonly redirectEntries: number;
}

export interface ProxyPorts {
  readonly ingress: number;
  readonly egress: number;
}

/** Where a probe starts (an agent and, for externals, the source address) or ends (an address). */
interface ProbeEnd {
  readonly kind: 'pod' | 'external' | 'host';
  readonly agent: ProbeAgent | undefined;
  readonly address: string;
  /** The source address to use; externals share one namespace. */
  readonly from?: string;
}

interface Endpoints {
  readonly byPod: ReadonlyMap<string, { readonly endpoint: PolicyEndpoint; readonly identity: number }>;
  /** Every pod's named ports: egress named ports resolve against all of them. */
  readonly clusterNamedPorts: Record<string, { port: number; protocol: number }[]>;
}

/** One cell to probe; `run` can be called again (a retry). */
interface PlannedProbe {
  readonly expected: boolean;
  readonly run: (timeoutMs: number) => Promise<CellResult>;
}

function namedPortsOf(ports: TruthTable['pods'][number]['ports']): Record<string, { port: number; protocol: number }[]> {
  const named: Record<string, { port: number; protocol: number }[]> = {};
  for (const p of ports) {
    const protocol = (Protocol as Record<string, number>)[p.protocol.toUpperCase()];
    if (protocol === undefined) throw new Error(`container port ${p.name}: unknown protocol ${JSON.stringify(p.protocol)}`);
    (named[p.name] ??= []).push({ port: p.port, protocol });
  }
  return named;
}

export class TruthTableRunner {
  /** Endpoint id of each lab pod: its position in the lab, from 1. */
  private readonly endpointIds: ReadonlyMap<string, number>;

  constructor(
    private readonly lab: Lab,
    private readonly datapath: Datapath,
    private readonly proxyPorts: ProxyPorts,
    private readonly ifindexes: ReadonlyMap<string, number>,
  ) {
    this.endpointIds = new Map([...lab.pods.keys()].map((key, i) => [key, i + 1]));
  }

  async run(table: TruthTable): Promise<CaseResult> {
    const allocator = new IdentityAllocator();
    const endpoints = this.allocateIdentities(table, allocator);
    const repository = new PolicyRepository({ clusterName: table.clusterName });
    const rejected = new Map<string, string>();
    for (const policy of table.policies) {
      const result = repository.upsert(policy);
      if (!result.accepted) rejected.set((policy as { metadata?: { name?: string } }).metadata?.name ?? '(no name)', result.error);
    }
    const rules = repository.rules();
    this.syncIpcache(endpoints, rules, allocator);
    const redirectEntries = this.writePolicies(table, endpoints, rules, allocator);
    // The proxy routing rule is node-wide: another datapath's `detachAll` (a suite running beside
    // this one) may have removed it since `Datapath.open` installed it.
    if (redirectEntries > 0) await this.datapath.installProxyRouting();
    const { probes, notes } = this.plan(table);
    return { rejected, cells: await probeAll(probes), notes, redirectEntries };
  }

  /**
   * Identities from labels, as the agent allocates them: pod labels, namespace labels (with the API
   * server's kubernetes.io/metadata.name), service account, cluster. Also each pod's named ports.
   */
  private allocateIdentities(table: TruthTable, allocator: IdentityAllocator): Endpoints {
    const namespaceLabels = new Map(table.namespaces.map((ns) => [ns.name, ns.labels]));
    const clusterNamedPorts: Record<string, { port: number; protocol: number }[]> = {};
    const byPod = new Map<string, { endpoint: PolicyEndpoint; identity: number }>();
    for (const pod of table.pods) {
      const labels = workloadLabels({
        namespace: pod.namespace,
        podLabels: pod.labels,
        namespaceLabels: { 'kubernetes.io/metadata.name': pod.namespace, ...namespaceLabels.get(pod.namespace) },
        serviceAccount: pod.serviceAccount,
        clusterName: table.clusterName,
      });
      const namedPorts = namedPortsOf(pod.ports);
      for (const [name, ports] of Object.entries(namedPorts)) (clusterNamedPorts[name] ??= []).push(...ports);
      byPod.set(podKey(pod), { endpoint: { labels, namedPorts: namedPorts as NamedPorts }, identity: allocator.allocate(labels).id });
    }
    return { byPod, clusterNamedPorts };
  }

  /** The ipcache: pods, the host's address, and a local identity for every CIDR a policy names; stale entries go. */
  private syncIpcache(endpoints: Endpoints, rules: readonly PolicyRule[], allocator: IdentityAllocator): void {
    const ipcache = new Map<string, number>([[`${GATEWAY}/32`, ReservedIdentity.HOST]]);
    for (const [key, { identity }] of endpoints.byPod) ipcache.set(`${this.labPod(key).ip}/32`, identity);
    for (const prefix of referencedCidrs(rules)) {
      // /0 is world, which is what a miss gives; the BPF datapath is IPv4-only.
      if (prefix.family !== 4 || prefix.length === 0) continue;
      ipcache.set(formatIpPrefix(prefix), allocator.allocateCidr(prefix).id);
    }
    for (const { cidr } of this.datapath.ipcache.list()) if (!ipcache.has(cidr)) this.datapath.ipcache.delete(cidr);
    for (const [cidr, identity] of ipcache) this.datapath.ipcache.set(cidr, identity);
  }

  /** Each pod's endpoint entry and compiled policy (deltas only); returns how many entries redirect to a proxy. */
  private writePolicies(table: TruthTable, endpoints: Endpoints, rules: readonly PolicyRule[], allocator: IdentityAllocator): number {
    const options: EnforcementOptions = { proxyPort: (_parser, direction) => this.proxyPorts[direction], clusterNamedPorts: endpoints.clusterNamedPorts };
    let redirectEntries = 0;
    for (const [key, endpointId] of this.endpointIds) {
      const pod = this.labPod(key);
      const entry = endpoints.byPod.get(key);
      if (!entry) {
        // A lab pod this table does not have: unknown to the datapath, all its traffic dropped.
        this.datapath.endpoints.delete(pod.ip);
        this.datapath.policy.clear(endpointId);
        continue;
      }
      this.datapath.endpoints.set(pod.ip, { endpointId, identity: entry.identity, ifindex: this.ifindexes.get(key)! });
      const compiled = compileEndpointPolicy(rules, entry.endpoint, allocator.identities(), options);
      if (!compiled.ok) throw new Error(`${table.name}: compiling the policy of ${key} failed: ${compiled.error}`);
      const entries = policyMapEntries(compiled.policy);
      redirectEntries += entries.filter((e) => e.proxyPort !== 0).length;
      this.datapath.policy.apply(endpointId, entries);
    }
    return redirectEntries;
  }

  private labPod(key: string): LabPod {
    const pod = this.lab.pods.get(key);
    if (!pod) throw new Error(`pod ${key} is not in the lab`);
    return pod;
  }

  private end(table: TruthTable, name: string): ProbeEnd | string {
    if (name.includes('/')) {
      if (!table.pods.some((p) => podKey(p) === name)) throw new Error(`${table.file}: probe end ${name} is not one of the table's pods`);
      const pod = this.labPod(name);
      return { kind: 'pod', agent: pod.agent, address: pod.ip };
    }
    if (name === 'host') return { kind: 'host', agent: this.lab.hostAgent, address: GATEWAY };
    const external = table.externals.find((e) => e.name === name);
    if (external) return { kind: 'external', agent: this.lab.externalsAgent, address: external.ip, from: external.ip };
    return `${name}: a reserved identity with no address in a one-node lab; its cells are not probed`;
  }

  /** One probe per evaluated cell, and a note for each kind of cell that cannot be probed here. */
  private plan(table: TruthTable): { probes: PlannedProbe[]; notes: string[] } {
    const notes = new Set<string>();
    const probes: PlannedProbe[] = [];
    for (const block of table.probes) {
      const kind = probeKind(block, this.lab.rawIcmp);
      if (typeof kind !== 'string') {
        notes.add(`${block.protocol}/${block.port}: ${kind.skip}`);
        continue;
      }
      block.from.forEach((fromName, row) =>
        block.to.forEach((toName, column) => {
          // Not evaluated (README): self traffic never leaves the pod; no pod between two non-pods.
          if (fromName === toName) return;
          const from = this.end(table, fromName);
          const to = this.end(table, toName);
          if (typeof from === 'string' || typeof to === 'string') {
            notes.add(typeof from === 'string' ? from : (to as string));
            return;
          }
          if (from.kind !== 'pod' && to.kind !== 'pod') return;
          const expected = block.expected[row][column];
          const request: Omit<ProbeRequest, 'id' | 'timeoutMs'> = { kind, host: to.address, port: block.port, from: from.from };
          probes.push({
            expected,
            run: async (timeoutMs) => {
              const reply = kind === 'icmp-send' ? await sendAndAwait(from.agent!, to.agent!, request, timeoutMs) : await from.agent!.probe({ ...request, timeoutMs });
              return { block, row, column, expected, got: reply.ok, detail: reply.detail };
            },
          });
        }),
      );
    }
    return { probes, notes: [...notes] };
  }
}

/**
 * Cells expected to be dropped go first: an exchange that is let through leaves state in the
 * connection table, and for ICMP messages without an identifier (all but echo) that state is keyed
 * by the address pair alone, so the reverse cell would then pass as a "reply" (see the known-issue
 * test in truth-tables.root.spec.ts). Probed first, each cell stands on its own. A cell that should
 * pass but got no answer is retried with more patience; an unexpected pass never is.
 */
async function probeAll(probes: readonly PlannedProbe[]): Promise<CellResult[]> {
  const blocked = await Promise.all(probes.filter((p) => !p.expected).map((p) => p.run(BLOCKED_TIMEOUT_MS)));
  const passing = await Promise.all(
    probes
      .filter((p) => p.expected)
      .map(async (p) => {
        const cell = await p.run(BLOCKED_TIMEOUT_MS);
        return cell.got ? cell : p.run(RETRY_TIMEOUT_MS);
      }),
  );
  return [...blocked, ...passing];
}

/** One ICMP message of a type ping cannot send: the source sends it, the destination says whether it arrived. */
export async function sendAndAwait(
  from: ProbeAgent,
  to: ProbeAgent,
  request: Omit<ProbeRequest, 'id' | 'timeoutMs' | 'kind'>,
  timeoutMs: number,
): Promise<ProbeReply> {
  const token = randomBytes(8).toString('hex');
  const sent = await from.probe({ ...request, kind: 'icmp-send', token, timeoutMs });
  if (!sent.ok) return sent;
  return to.probe({ kind: 'icmp-seen', host: request.host, port: request.port, token, timeoutMs });
}

function probeKind(block: ProbeBlock, rawIcmp: boolean): ProbeKind | { skip: string } {
  switch (block.protocol) {
    case 'TCP':
      return 'tcp';
    case 'UDP':
      return 'udp';
    case 'ICMP':
      if (block.port === ICMP_ECHO_REQUEST) return 'icmp-echo';
      return rawIcmp ? 'icmp-send' : { skip: `no python3 for raw ICMP sockets, and ping sends only echo requests: type ${block.port} cells are not probed` };
    case 'SCTP':
      return { skip: 'not probed: Node has no SCTP sockets and this kernel has no SCTP support (socket(…, IPPROTO_SCTP) fails)' };
  }
}

/**
 * The mismatches of a case, readable: one line per wrong cell (source → destination,
 * protocol/port, expected, got, what the probe saw), then each affected matrix as measured, with
 * `!` after each cell that differs from the file.
 */
export function formatMismatches(cells: readonly CellResult[]): string {
  const wrong = cells.filter((c) => c.expected !== c.got);
  if (wrong.length === 0) return '';
  const mark = (reachable: boolean): string => (reachable ? '.' : 'X');
  const lines = wrong.map(
    (c) =>
      `${c.block.from[c.row]} → ${c.block.to[c.column]} ${c.block.protocol}/${c.block.port}: expected ${mark(c.expected)}, got ${mark(c.got)} (${c.detail})`,
  );
  const blocks = [...new Set(wrong.map((c) => c.block))];
  for (const block of blocks) {
    const measured = new Map(cells.filter((c) => c.block === block).map((c) => [`${c.row},${c.column}`, c]));
    const width = Math.max(4, ...block.to.map((t) => t.length), ...block.from.map((f) => f.length)) + 1;
    const rows = block.from.map(
      (from, r) =>
        from.padEnd(width) +
        block.to
          .map((_, col) => {
            const cell = measured.get(`${r},${col}`);
            // Cells that were not probed show what the file says.
            const text = cell ? mark(cell.got) + (cell.got === cell.expected ? '' : '!') : mark(block.expected[r][col]);
            return text.padEnd(width);
          })
          .join('')
          .trimEnd(),
    );
    lines.push('', `${block.protocol}/${block.port} as measured (! = differs from the file):`, ''.padEnd(width) + block.to.map((t) => t.padEnd(width)).join('').trimEnd(), ...rows);
  }
  return lines.join('\n');
}
