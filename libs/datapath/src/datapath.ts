import { mkdir, readdir, readFile, rm, statfs } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { BpfMap } from './bpf-map';
import { CommandError, run, runJson } from './commands';
import { ensureHairpin, hairpinDevicesFor, removeHairpin, type HairpinDevices } from './hairpin';
import { ConfigMap } from './maps/config';
import { DropCounters } from './maps/drop-counters';
import { EndpointMap } from './maps/endpoints';
import { ConntrackMap, type TrackedConnection } from './maps/conntrack';
import { IpcacheMap } from './maps/ipcache';
import { PolicyMap } from './maps/policy';
import { ServiceMap } from './maps/services';
import { loadNative } from './native';
import { DEFAULT_PIN_DIR } from './pin-dir';

export { DEFAULT_PIN_DIR };

/** Packets steered to the proxy carry this mark; the rule below delivers them to the local stack. */
export const MARK_TO_PROXY = 0x200;
export const MARK_MAGIC_MASK = 0xf00;
export const PROXY_ROUTING_TABLE = 2004;
/** Cilium's priority for the same rule: before `main`, after `local`. */
const PROXY_RULE_PRIORITY = 9;

const FROM_CONTAINER = 'from_container';
const TO_CONTAINER = 'to_container';
const FROM_HAIRPIN = 'from_hairpin';
/** The tc filter slot our programs occupy on each hook of a veth. */
const FILTER_PREF = '1';
const FILTER_HANDLE = '1';

/** cgroup v2 hooks of the socket load balancer: program pinned name → bpftool attach type. */
const SOCK_PROGRAMS = [
  ['sock_connect4', 'connect4'],
  ['sock_sendmsg4', 'sendmsg4'],
  ['sock_recvmsg4', 'recvmsg4'],
] as const;
/** bpftool's JSON names for the same attach types. */
const SOCK_ATTACH_TYPES: Record<string, string> = {
  cgroup_inet4_connect: 'connect4',
  cgroup_udp4_sendmsg: 'sendmsg4',
  cgroup_udp4_recvmsg: 'recvmsg4',
};

const BPF_FS_MAGIC = 0xcafe4a11;
const CGROUP2_SUPER_MAGIC = 0x63677270;
const IP = 'ip';
const TC = 'tc';
const BPFTOOL = 'bpftool';

/** A pod on this node as the datapath needs it. */
export interface LocalEndpoint {
  /** The pod's host-side veth. */
  readonly ifname: string;
  readonly ip: string;
  readonly endpointId: number;
  readonly identity: number;
}

export interface DatapathOptions {
  /** bpffs directory for this datapath's pins: maps/ and progs/ inside. Default /sys/fs/bpf/tendril. */
  readonly pinDir?: string;
  /**
   * cgroup v2 directory whose sockets get ClusterIP load balancing. Default: the cgroup v2 root
   * (/sys/fs/cgroup/unified on a hybrid hierarchy, else /sys/fs/cgroup).
   */
  readonly cgroupPath?: string;
}

interface TcFilter {
  readonly pref?: number;
  readonly options?: { readonly handle?: string; readonly prog?: { readonly id: number; readonly name: string } };
}

interface BpftoolProg {
  readonly id: number;
  readonly map_ids?: readonly number[];
}

async function isFilesystem(path: string, magic: number): Promise<boolean> {
  try {
    return (await statfs(path)).type === magic;
  } catch {
    return false;
  }
}

async function cgroupV2Root(): Promise<string> {
  for (const path of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    if (await isFilesystem(path, CGROUP2_SUPER_MAGIC)) return path;
  }
  throw new Error('no cgroup v2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup: ClusterIP load balancing needs one');
}

async function ensureBpffs(dir: string): Promise<void> {
  const mountPoint = '/sys/fs/bpf';
  if (!dir.startsWith(`${mountPoint}/`)) throw new Error(`pinDir must be under ${mountPoint}, got ${dir}`);
  if (!(await isFilesystem(mountPoint, BPF_FS_MAGIC))) await run('mount', ['-t', 'bpf', 'bpf', mountPoint]);
}

/** The interface index the endpoint map needs for a host-side veth. */
export async function ifindexOf(ifname: string): Promise<number> {
  try {
    return Number((await readFile(`/sys/class/net/${ifname}/ifindex`, 'utf8')).trim());
  } catch {
    throw new Error(`network interface ${JSON.stringify(ifname)} does not exist`);
  }
}

/**
 * The loaded datapath: programs pinned under `<pinDir>/progs`, maps under `<pinDir>/maps`.
 *
 * Opening is idempotent and keeps enforcement: maps already pinned are reused with their
 * contents (libbpf checks that their shape still matches the object), the programs are loaded
 * again and re-pinned, and `attach` atomically replaces the filter on a veth that already has
 * one, so an agent restart never leaves a veth without a program or a map without its entries.
 */
export class Datapath {
  private constructor(
    readonly pinDir: string,
    /** The cgroup v2 directory the socket load balancer is attached to. */
    readonly cgroupPath: string,
    private readonly maps: BpfMap[],
    readonly ipcache: IpcacheMap,
    readonly endpoints: EndpointMap,
    readonly policy: PolicyMap,
    readonly drops: DropCounters,
    readonly services: ServiceMap,
    private readonly ct: ConntrackMap,
    private readonly config: ConfigMap,
    /** The veth pair host-side L7 redirects go around (see hairpin.ts). */
    readonly hairpin: HairpinDevices,
  ) {}

  /** The conntrack: a read is one GC pass (entries whose lifetime ran out are removed first). */
  readonly conntrack = {
    connections: (): TrackedConnection[] => this.ct.collect(),
  };

  /**
   * Builds what is out of date in bpf/, loads both objects (reusing pinned maps), attaches the
   * socket load balancer to the cgroup, installs the proxy routing, and moves veths that carry an
   * earlier load's programs to the new ones. New pod veths are attached with `attach`.
   */
  static async open(options: DatapathOptions = {}): Promise<Datapath> {
    const pinDir = options.pinDir ?? DEFAULT_PIN_DIR;
    await ensureBpffs(pinDir);
    const cgroupPath = options.cgroupPath ?? (await cgroupV2Root());
    const { tcObjectPath, sockObjectPath, addon } = await loadNative();
    await mkdir(join(pinDir, 'maps'), { recursive: true });
    await mkdir(join(pinDir, 'progs'), { recursive: true });
    for (const objectPath of [tcObjectPath, sockObjectPath]) addon.loadObject(objectPath, join(pinDir, 'maps'), join(pinDir, 'progs'));

    const maps: BpfMap[] = [];
    const openMap = (name: string, keySize: number, valueSize: number): BpfMap => {
      const map = new BpfMap(addon, join(pinDir, 'maps', name), keySize, valueSize);
      maps.push(map);
      return map;
    };
    const datapath = new Datapath(
      pinDir,
      cgroupPath,
      maps,
      IpcacheMap.open(openMap),
      EndpointMap.open(openMap),
      PolicyMap.open(openMap),
      DropCounters.open(openMap, addon.numPossibleCpus()),
      ServiceMap.open(openMap),
      ConntrackMap.open(openMap),
      ConfigMap.open(openMap),
      hairpinDevicesFor(pinDir),
    );
    await datapath.attachSocketLoadBalancer();
    await datapath.installProxyRouting();
    await datapath.attachHairpin();
    // Veths still running the previous load's programs (an agent restart) move to the new ones.
    for (const ifname of await datapath.attachedInterfaces()) await datapath.attach(ifname);
    return datapath;
  }

  /** Creates the hairpin pair if needed, attaches from_hairpin to its peer and tells to_container where it is. */
  private async attachHairpin(): Promise<void> {
    await ensureHairpin(this.hairpin);
    await run(TC, ['qdisc', 'replace', 'dev', this.hairpin.netEnd, 'clsact']);
    await run(TC, ['filter', 'replace', 'dev', this.hairpin.netEnd, 'ingress', 'pref', FILTER_PREF, 'handle', FILTER_HANDLE, 'bpf', 'da', 'object-pinned', join(this.pinDir, 'progs', FROM_HAIRPIN)]);
    this.config.setHairpinIfindex(await ifindexOf(this.hairpin.hostEnd));
  }

  /**
   * Attaches connect4/sendmsg4/recvmsg4 to the cgroup in override mode, which atomically replaces
   * the previous version of the same program: re-running it after a reload is safe.
   */
  private async attachSocketLoadBalancer(): Promise<void> {
    for (const [program, attachType] of SOCK_PROGRAMS) {
      await run(BPFTOOL, ['cgroup', 'attach', this.cgroupPath, attachType, 'pinned', join(this.pinDir, 'progs', program), 'override']);
    }
  }

  private async detachSocketLoadBalancer(): Promise<void> {
    const ours = await this.programIds();
    const attached = await runJson<{ id: number; attach_type: string }[]>(BPFTOOL, ['-j', 'cgroup', 'show', this.cgroupPath]);
    for (const { id, attach_type } of attached) {
      const attachType = SOCK_ATTACH_TYPES[attach_type];
      if (ours.has(id) && attachType) await run(BPFTOOL, ['cgroup', 'detach', this.cgroupPath, attachType, 'id', String(id)]);
    }
  }

  /** Attaches the programs to a pod's host-side veth (replacing an earlier attachment in place). */
  async attach(ifname: string): Promise<void> {
    await ifindexOf(ifname);
    await run(TC, ['qdisc', 'replace', 'dev', ifname, 'clsact']);
    for (const [hook, program] of [['ingress', FROM_CONTAINER], ['egress', TO_CONTAINER]] as const) {
      await run(TC, ['filter', 'replace', 'dev', ifname, hook, 'pref', FILTER_PREF, 'handle', FILTER_HANDLE, 'bpf', 'da', 'object-pinned', join(this.pinDir, 'progs', program)]);
    }
  }

  /**
   * Starts enforcing for a pod: attaches to its veth, then records it in the endpoint map and the
   * ipcache. Until its policy is applied (`policy.apply`) all its traffic is dropped.
   */
  async addEndpoint(endpoint: LocalEndpoint): Promise<void> {
    await this.attach(endpoint.ifname);
    this.endpoints.set(endpoint.ip, { endpointId: endpoint.endpointId, identity: endpoint.identity, ifindex: await ifindexOf(endpoint.ifname) });
    this.ipcache.set(endpoint.ip, endpoint.identity);
  }

  /** Forgets a pod: detaches from its veth if it still exists, and removes its endpoint, ipcache and policy entries. */
  async removeEndpoint(endpoint: LocalEndpoint): Promise<void> {
    if (await ifindexOf(endpoint.ifname).then(() => true, () => false)) await this.detach(endpoint.ifname);
    this.endpoints.delete(endpoint.ip);
    this.ipcache.delete(endpoint.ip);
    this.policy.clear(endpoint.endpointId);
  }

  /** Removes this datapath's programs from a veth; the clsact qdisc goes too when nothing else uses it. */
  async detach(ifname: string): Promise<void> {
    const ours = await this.programIds();
    let othersRemain = false;
    for (const hook of ['ingress', 'egress'] as const) {
      for (const filter of await this.filters(ifname, hook)) {
        const progId = filter.options?.prog?.id;
        if (progId !== undefined && ours.has(progId)) {
          await run(TC, ['filter', 'del', 'dev', ifname, hook, 'pref', String(filter.pref), 'handle', filter.options?.handle ?? FILTER_HANDLE, 'bpf']);
        } else if (filter.options) {
          othersRemain = true;
        }
      }
    }
    if (!othersRemain) await run(TC, ['qdisc', 'del', 'dev', ifname, 'clsact']).catch(ignoreMissing);
  }

  /** Pod interfaces on which a program using this datapath's maps is attached (the hairpin is not one). */
  async attachedInterfaces(): Promise<string[]> {
    const ours = await this.programIds();
    // Only interfaces with a clsact qdisc can carry a tc program: one `tc qdisc show` finds them.
    const qdiscs = await runJson<{ kind: string; dev: string }[]>(TC, ['-j', 'qdisc', 'show']);
    const candidates = [...new Set(qdiscs.filter((q) => q.kind === 'clsact' && q.dev !== this.hairpin.netEnd).map((q) => q.dev))];
    const attached: string[] = [];
    for (const ifname of candidates) {
      for (const hook of ['ingress', 'egress'] as const) {
        const filters = await this.filters(ifname, hook);
        if (filters.some((f) => f.options?.prog && ours.has(f.options.prog.id))) {
          attached.push(ifname);
          break;
        }
      }
    }
    return attached;
  }

  /**
   * `tendril down`: detaches from every interface and from the cgroup, removes the proxy routing
   * (unless another datapath on the host, under a pin directory next to this one, still uses it)
   * and unpins the programs and maps (which flushes all enforcement). The object is closed afterwards.
   */
  async detachAll(): Promise<void> {
    for (const ifname of await this.attachedInterfaces()) await this.detach(ifname);
    await removeHairpin(this.hairpin);
    await this.detachSocketLoadBalancer();
    // The proxy routing is host-wide: removing it under another loaded datapath breaks that one's redirects.
    if (!(await this.otherDatapathLoaded())) await this.removeProxyRouting();
    this.close();
    await rm(this.pinDir, { recursive: true, force: true });
  }

  /** Closes the map fds this process holds; pins, programs and entries stay. */
  close(): void {
    for (const map of this.maps) map.close();
  }

  /** The ip rule and local route that deliver MARK_TO_PROXY packets to the proxy's socket (idempotent). */
  async installProxyRouting(): Promise<void> {
    await run(IP, ['route', 'replace', 'local', 'default', 'dev', 'lo', 'table', String(PROXY_ROUTING_TABLE)]);
    if (!(await this.hasProxyRule())) {
      await run(IP, ['rule', 'add', 'pref', String(PROXY_RULE_PRIORITY), 'fwmark', `${hex(MARK_TO_PROXY)}/${hex(MARK_MAGIC_MASK)}`, 'lookup', String(PROXY_ROUTING_TABLE)]);
    }
  }

  private async removeProxyRouting(): Promise<void> {
    while (await this.hasProxyRule()) {
      await run(IP, ['rule', 'del', 'fwmark', `${hex(MARK_TO_PROXY)}/${hex(MARK_MAGIC_MASK)}`, 'lookup', String(PROXY_ROUTING_TABLE)]);
    }
    await run(IP, ['route', 'flush', 'table', String(PROXY_ROUTING_TABLE)]).catch(ignoreMissing);
  }

  /** Whether another tendril datapath is loaded on this host: a pin directory next to ours holding our tc program. */
  private async otherDatapathLoaded(): Promise<boolean> {
    const own = resolve(this.pinDir);
    const parent = dirname(own);
    for (const name of await readdir(parent).catch(() => [] as string[])) {
      const dir = join(parent, name);
      if (dir === own) continue;
      const programs = await readdir(join(dir, 'progs')).catch(() => [] as string[]);
      if (programs.includes(FROM_CONTAINER)) return true;
    }
    return false;
  }

  private async hasProxyRule(): Promise<boolean> {
    const rules = await runJson<{ fwmark?: string; fwmask?: string; table?: string }[]>(IP, ['-j', 'rule', 'show']);
    return rules.some(
      (r) => r.fwmark === hex(MARK_TO_PROXY) && r.fwmask === hex(MARK_MAGIC_MASK) && r.table === String(PROXY_ROUTING_TABLE),
    );
  }

  /** Ids of loaded programs that use this datapath's maps: every version of ours, old ones included. */
  private async programIds(): Promise<Set<number>> {
    const mapIds = new Set<number>();
    for (const name of await readdir(join(this.pinDir, 'maps'))) {
      mapIds.add((await runJson<{ id: number }>(BPFTOOL, ['-j', 'map', 'show', 'pinned', join(this.pinDir, 'maps', name)])).id);
    }
    const progs = await runJson<BpftoolProg[]>(BPFTOOL, ['-j', 'prog', 'show']);
    return new Set(progs.filter((p) => p.map_ids?.some((id) => mapIds.has(id))).map((p) => p.id));
  }

  private async filters(ifname: string, hook: 'ingress' | 'egress'): Promise<TcFilter[]> {
    try {
      return await runJson<TcFilter[]>(TC, ['-j', 'filter', 'show', 'dev', ifname, hook]);
    } catch (err) {
      // No clsact qdisc on this interface: nothing of ours is attached.
      if (err instanceof CommandError) return [];
      throw err;
    }
  }
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function ignoreMissing(err: unknown): void {
  if (!(err instanceof CommandError)) throw err;
}
