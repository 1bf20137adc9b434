import { formatIpAddress, parseIpAddress, parseIpPrefix, type IpPrefix } from '@tendril/identity';

/** kube-apiserver's default --service-cluster-ip-range, narrowed to one /16. */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';

/**
 * ClusterIPs for Services that do not name one, as the API server would allocate them (a file has
 * no API server to do it). An address stays with its Service for the allocator's lifetime, so a
 * Service edit does not move it; the network and broadcast addresses and any address a Service
 * names itself are never handed out.
 */
export class ClusterIpAllocator {
  private readonly range: IpPrefix;
  private readonly byService = new Map<string, string>();
  private readonly taken = new Set<string>();

  constructor(serviceCidr: string = DEFAULT_SERVICE_CIDR) {
    let range: IpPrefix;
    try {
      range = parseIpPrefix(serviceCidr);
    } catch (err) {
      throw new Error(`service CIDR ${serviceCidr}: ${(err as Error).message}`);
    }
    if (range.family !== 4 || range.length > 30) throw new Error(`service CIDR ${serviceCidr} must be an IPv4 prefix of at most /30`);
    this.range = range;
  }

  /**
   * The ClusterIP of every Service key in `wanted` (key → the address it names, or undefined to get
   * one allocated). Addresses of keys no longer wanted are released.
   */
  assign(wanted: ReadonlyMap<string, string | undefined>): Map<string, string> {
    for (const key of [...this.byService.keys()]) {
      if (!wanted.has(key) || (wanted.get(key) !== undefined && wanted.get(key) !== this.byService.get(key))) this.release(key);
    }
    const named = new Set([...wanted.values()].filter((ip): ip is string => ip !== undefined));
    const result = new Map<string, string>();
    for (const [key, explicit] of wanted) {
      if (explicit !== undefined) {
        result.set(key, explicit);
        continue;
      }
      let ip = this.byService.get(key);
      if (ip === undefined || named.has(ip)) {
        if (ip !== undefined) this.release(key);
        ip = this.next(named);
        if (ip === undefined) continue;
        this.byService.set(key, ip);
        this.taken.add(ip);
      }
      result.set(key, ip);
    }
    return result;
  }

  private release(key: string): void {
    const ip = this.byService.get(key);
    if (ip !== undefined) this.taken.delete(ip);
    this.byService.delete(key);
  }

  private next(named: ReadonlySet<string>): string | undefined {
    const size = 2n ** BigInt(32 - this.range.length);
    for (let offset = 1n; offset < size - 1n; offset++) {
      const ip = formatIpAddress(4, this.range.address + offset);
      if (!this.taken.has(ip) && !named.has(ip)) return ip;
    }
    return undefined;
  }
}

/** Whether a Service's spec.clusterIP is an IPv4 address the load balancer can serve. */
export function isIpv4Address(text: string): boolean {
  try {
    return parseIpAddress(text).family === 4;
  } catch {
    return false;
  }
}
