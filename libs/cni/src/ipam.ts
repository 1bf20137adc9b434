import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CniError, CNI_ERROR_CODES } from './errors';
import { formatIpv4, parseIpv4, subnetSize, type Ipv4Subnet } from './ipv4';

/**
 * The addresses a pod may get, in allocation order: every host address of the subnet except the
 * network address, the broadcast address and the gateway. Pure so the policy is unit-testable.
 */
export function assignableAddresses(subnet: Ipv4Subnet, gateway: string): string[] {
  const gw = parseIpv4(gateway);
  const out: string[] = [];
  for (let i = 1; i < subnetSize(subnet) - 1; i++) {
    const addr = subnet.network + i;
    if (addr !== gw) out.push(formatIpv4(addr));
  }
  return out;
}

export interface Allocation {
  address: string;
  containerId: string;
  ifname: string;
}

/**
 * File-based IPAM, like the reference host-local plugin: one file per allocated address in
 * <dataDir>/<network>/, holding "<containerId>\n<ifname>\n". Creating the file with flag 'wx'
 * (O_CREAT|O_EXCL) is the lock: two concurrent ADDs cannot both create the same address file, so no
 * separate lock file or daemon is needed, and the state survives plugin restarts (each CNI call is a
 * fresh process).
 */
export class FileIpam {
  private readonly dir: string;

  constructor(
    dataDir: string,
    networkName: string,
    private readonly subnet: Ipv4Subnet,
    private readonly gateway: string,
  ) {
    this.dir = join(dataDir, networkName.replace(/[^A-Za-z0-9_.-]/g, '_'));
  }

  /** The allocation held by this container's interface, if any. */
  async find(containerId: string, ifname: string): Promise<Allocation | undefined> {
    for (const allocation of await this.list()) {
      if (allocation.containerId === containerId && allocation.ifname === ifname) return allocation;
    }
    return undefined;
  }

  async list(): Promise<Allocation[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: Allocation[] = [];
    for (const name of names.filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n))) {
      const text = await readFile(join(this.dir, name), 'utf8').catch(() => '');
      const [containerId = '', ifname = ''] = text.split('\n');
      out.push({ address: name, containerId, ifname });
    }
    return out;
  }

  /** Allocates an address for the interface; returns the existing one when the same container asks again. */
  async allocate(containerId: string, ifname: string): Promise<string> {
    const existing = await this.find(containerId, ifname);
    if (existing) return existing.address;
    await mkdir(this.dir, { recursive: true });
    for (const address of assignableAddresses(this.subnet, this.gateway)) {
      let handle;
      try {
        handle = await open(join(this.dir, address), 'wx');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw new CniError(CNI_ERROR_CODES.ioFailure, `IPAM cannot write ${this.dir}`, String(err));
      }
      try {
        await handle.writeFile(`${containerId}\n${ifname}\n`);
      } finally {
        await handle.close();
      }
      return address;
    }
    throw new CniError(
      CNI_ERROR_CODES.addressesExhausted,
      `no free address left in ${formatIpv4(this.subnet.network)}/${this.subnet.prefixLength}`,
    );
  }

  /** Releases whatever this interface holds; releasing nothing is not an error (DEL is idempotent). */
  async release(containerId: string, ifname: string): Promise<string | undefined> {
    const existing = await this.find(containerId, ifname);
    if (!existing) return undefined;
    await rm(join(this.dir, existing.address), { force: true });
    return existing.address;
  }
}
