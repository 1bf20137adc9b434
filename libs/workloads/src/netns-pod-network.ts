import { existsSync } from 'node:fs';
import { FileIpam, formatIpv4, parseIpv4, parseSubnet, subnetContains, type Ipv4Subnet } from '@tendril/cni';
import { CniInvoker, type CniAttachment } from './cni-invoker';
import { createNetns, deleteNetns, inNetns, killNetnsProcesses, listNetns, netnsPath, netnsPids } from './netns';
import type { PodIdentity, PodNetwork, PodSandbox } from './pod-network';

export const DEFAULT_POD_CIDR = '10.244.0.0/24';
export const DEFAULT_NETNS_PREFIX = 'tdl-';
export const DEFAULT_CNI_NETWORK_NAME = 'tendril';
/** Under /run (tmpfs) like the namespaces themselves: a reboot clears both together. */
export const DEFAULT_IPAM_DATA_DIR = '/run/tendril/ipam';
const POD_IFNAME = 'eth0';
/** How long a pod's processes get between SIGTERM and SIGKILL, as terminationGracePeriodSeconds would. */
const STOP_GRACE_MS = 5_000;

export interface NetnsPodNetworkOptions {
  /** Path of the CNI plugin executable (apps/cni/bin/tendril-cni). */
  cniPlugin: string;
  /** The node's PodCIDR (default 10.244.0.0/24). */
  podCidr?: string;
  /** The pods' default gateway, the host side of every veth (default: the PodCIDR's first address). */
  gateway?: string;
  /** Prefix of the namespaces (and CNI container ids) this network owns; leftovers with it are removed. */
  namePrefix?: string;
  /** CNI network name (the IPAM state lives in <ipamDataDir>/<networkName>/). */
  networkName?: string;
  ipamDataDir?: string;
  /** Where cleanup notices go. */
  write?: (line: string) => void;
}

/** Parses a PodCIDR, with an error that names it; exported so front ends can reject a bad flag before starting anything. */
export function validatedPodCidr(cidr: string): Ipv4Subnet {
  let subnet: Ipv4Subnet;
  try {
    subnet = parseSubnet(cidr);
  } catch (err) {
    throw new Error(`pod CIDR ${cidr}: ${(err as Error).message}`);
  }
  if (subnet.prefixLength > 30) throw new Error(`pod CIDR ${cidr} is too small for a gateway and pods (at most /30)`);
  return subnet;
}

/**
 * Pods in network namespaces of their own, the way a kubelet with a CNI plugin runs them: a named
 * namespace per pod (`ip netns add`, loopback up), wired by the CNI plugin executable (ADD: veth
 * pair, pod IP from the PodCIDR, default route via the host side; DEL: veth and address released),
 * and the container command run inside it with `ip netns exec`. Needs root.
 *
 * Everything it creates carries namePrefix, and the IPAM state records the container id, so a new
 * instance can find and remove what a crashed predecessor left behind (removeLeftovers, which the
 * first createSandbox runs).
 */
export class NetnsPodNetwork implements PodNetwork {
  readonly mode = 'netns' as const;
  readonly podCidr: string;
  readonly gateway: string;
  readonly namePrefix: string;
  readonly networkName: string;
  readonly ipamDataDir: string;
  private readonly subnet: Ipv4Subnet;
  private readonly cni: CniInvoker;
  private readonly write: (line: string) => void;
  private sequence = 0;
  private prepared: Promise<void> | undefined;
  /** The pod each sandbox belongs to, for CNI_ARGS on DEL. */
  private readonly owners = new Map<string, PodIdentity>();

  constructor(opts: NetnsPodNetworkOptions) {
    this.podCidr = opts.podCidr ?? DEFAULT_POD_CIDR;
    this.subnet = validatedPodCidr(this.podCidr);
    this.gateway = opts.gateway ?? formatIpv4(this.subnet.network + 1);
    let gw: number;
    try {
      gw = parseIpv4(this.gateway);
    } catch (err) {
      throw new Error(`pod gateway ${this.gateway}: ${(err as Error).message}`);
    }
    if (!subnetContains(this.subnet, gw)) throw new Error(`pod gateway ${this.gateway} is not inside the pod CIDR ${this.podCidr}`);
    this.namePrefix = opts.namePrefix ?? DEFAULT_NETNS_PREFIX;
    if (!/^[a-z0-9][a-z0-9-]{0,15}$/.test(this.namePrefix)) {
      throw new Error(`namespace prefix "${this.namePrefix}" must be 1-16 lowercase letters, digits or "-"`);
    }
    this.networkName = opts.networkName ?? DEFAULT_CNI_NETWORK_NAME;
    this.ipamDataDir = opts.ipamDataDir ?? DEFAULT_IPAM_DATA_DIR;
    this.write = opts.write ?? ((line) => process.stdout.write(line + '\n'));
    this.cni = new CniInvoker(opts.cniPlugin, {
      cniVersion: '1.0.0',
      name: this.networkName,
      type: 'tendril-cni',
      ipam: { subnet: this.podCidr, gateway: this.gateway, dataDir: this.ipamDataDir },
    });
  }

  /** The CNI calls this network makes, for tests and diagnostics that must call the plugin the same way. */
  get invoker(): CniInvoker {
    return this.cni;
  }

  async createSandbox(pod: PodIdentity): Promise<PodSandbox> {
    this.prepared ??= this.prepare();
    await this.prepared;
    const name = this.sandboxName(pod);
    await createNetns(name);
    this.owners.set(name, pod);
    try {
      const result = await this.cni.add(this.attachment(name, netnsPath(name)));
      const address = result.ips[0]?.address.split('/')[0];
      if (!address) throw new Error(`CNI ADD for ${name} returned no address`);
      return { ip: address, hostIp: this.gateway, netns: name, hostInterface: result.interfaces[0]?.name };
    } catch (err) {
      this.owners.delete(name);
      await deleteNetns(name).catch(() => undefined);
      throw err;
    }
  }

  wrapCommand(sandbox: PodSandbox, command: string, args: string[]): { command: string; args: string[] } {
    if (!sandbox.netns) throw new Error(`pod ${sandbox.ip} has no network namespace`);
    return inNetns(sandbox.netns, command, args);
  }

  /** Kills what still runs in the namespace, runs CNI DEL (veth and address), then removes the namespace. */
  async removeSandbox(sandbox: PodSandbox): Promise<void> {
    if (!sandbox.netns) return;
    await this.teardown(sandbox.netns, POD_IFNAME);
  }

  async pids(sandbox: PodSandbox): Promise<number[]> {
    return sandbox.netns ? netnsPids(sandbox.netns) : [];
  }

  /**
   * Removes the namespaces, veths and addresses that carry this network's prefix: those of a
   * previous run that ended without cleaning up (crash, SIGKILL). Returns the names removed.
   */
  async removeLeftovers(): Promise<string[]> {
    const ipam = new FileIpam(this.ipamDataDir, this.networkName, this.subnet, this.gateway);
    const allocations = (await ipam.list()).filter((a) => a.containerId.startsWith(this.namePrefix));
    const names = [...new Set([...allocations.map((a) => a.containerId), ...(await listNetns(this.namePrefix))])].sort();
    const removed: string[] = [];
    for (const name of names) {
      try {
        await this.teardown(name, allocations.find((a) => a.containerId === name)?.ifname ?? POD_IFNAME);
        removed.push(name);
      } catch (err) {
        // One leftover that will not go must not keep every new pod from starting; its address stays taken.
        this.write(`[pods] cannot remove ${name}, left by a previous run: ${(err as Error).message}`);
      }
    }
    return removed;
  }

  private async prepare(): Promise<void> {
    if (process.getuid?.() !== 0) {
      throw new Error('pods in network namespaces need root (creating namespaces and veths); run as root or use loopback pods');
    }
    const removed = await this.removeLeftovers();
    if (removed.length > 0) this.write(`[pods] removed ${removed.length} pod network(s) left by a previous run: ${removed.join(', ')}`);
  }

  private async teardown(name: string, ifname: string): Promise<void> {
    await killNetnsProcesses(name, STOP_GRACE_MS);
    const path = netnsPath(name);
    // DEL runs even when the namespace is already gone: the host veth and the address must still go.
    await this.cni.del(this.attachment(name, existsSync(path) ? path : '', ifname));
    await deleteNetns(name);
    this.owners.delete(name);
  }

  private attachment(name: string, path: string, ifname = POD_IFNAME): CniAttachment {
    const owner = this.owners.get(name);
    return {
      containerId: name,
      netns: path,
      ifname,
      args: owner ? { K8S_POD_NAMESPACE: owner.namespace, K8S_POD_NAME: owner.name, K8S_POD_INFRA_CONTAINER_ID: name } : {},
    };
  }

  /** `<prefix><n>-<pod name>`: unique within the run (a pod re-created under the same name gets a new one), readable in `ip netns list`. */
  private sandboxName(pod: PodIdentity): string {
    const name = `${this.namePrefix}${++this.sequence}-${pod.name}`.replace(/[^A-Za-z0-9_.-]/g, '-');
    return name.slice(0, 64);
  }
}
