/**
 * The ipcache model: IP prefix → security identity, looked up by longest prefix (a pod's /32 beats
 * a policy CIDR that covers it); an address nothing covers is the world. The datapath holds the
 * same table in a BPF LPM trie.
 */
import { formatIpPrefix, type IpFamily, type IpPrefix, makePrefix, parseIpAddress, parseIpPrefixOrAddress } from './ip-prefix';
import { ReservedIdentity } from './reserved';

export interface IpCacheEntry {
  readonly prefix: string;
  readonly identity: number;
}

export type IpCacheChange = 'added' | 'updated' | 'unchanged';

export class IpCache {
  /** family → prefix length → network address → identity */
  private readonly tables: Record<IpFamily, Map<number, Map<bigint, number>>> = { 4: new Map(), 6: new Map() };

  /** dualStack: unknown addresses resolve to world-ipv4 / world-ipv6 instead of world. */
  constructor(private readonly options: { dualStack?: boolean } = {}) {}

  private table(prefix: IpPrefix): Map<bigint, number> {
    const byLength = this.tables[prefix.family];
    let table = byLength.get(prefix.length);
    if (!table) {
      table = new Map();
      byLength.set(prefix.length, table);
    }
    return table;
  }

  /** Maps a prefix (or bare address = host prefix) to an identity. */
  upsert(prefix: string | IpPrefix, identity: number): IpCacheChange {
    const parsed = typeof prefix === 'string' ? parseIpPrefixOrAddress(prefix) : prefix;
    const table = this.table(parsed);
    const previous = table.get(parsed.address);
    table.set(parsed.address, identity);
    if (previous === undefined) return 'added';
    return previous === identity ? 'unchanged' : 'updated';
  }

  /** Returns whether the prefix was present. */
  delete(prefix: string | IpPrefix): boolean {
    const parsed = typeof prefix === 'string' ? parseIpPrefixOrAddress(prefix) : prefix;
    return this.tables[parsed.family].get(parsed.length)?.delete(parsed.address) ?? false;
  }

  /** The identity of an address: the longest prefix containing it, else world. */
  lookup(ip: string): number {
    const { family, address } = parseIpAddress(ip);
    const byLength = this.tables[family];
    const lengths = [...byLength.entries()].sort((a, b) => b[0] - a[0]);
    for (const [length, table] of lengths) {
      const identity = table.get(makePrefix(family, address, length).address);
      if (identity !== undefined) return identity;
    }
    if (!this.options.dualStack) return ReservedIdentity.WORLD;
    return family === 4 ? ReservedIdentity.WORLD_IPV4 : ReservedIdentity.WORLD_IPV6;
  }

  entries(): IpCacheEntry[] {
    const out: IpCacheEntry[] = [];
    for (const family of [4, 6] as const) {
      const byLength = this.tables[family];
      for (const [length, table] of byLength) {
        for (const [address, identity] of table) {
          out.push({ prefix: formatIpPrefix({ family, address, length }), identity });
        }
      }
    }
    return out.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  }

  get size(): number {
    let n = 0;
    for (const family of [4, 6] as const) for (const t of this.tables[family].values()) n += t.size;
    return n;
  }
}

