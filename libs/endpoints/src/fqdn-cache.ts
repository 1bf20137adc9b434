import { normalizeDnsName } from '@tendril/policy';
import { isIpv4Address } from './cluster-ips';

/** The part of a DNS answer the cache reads (dns-packet's decoded shape). */
export interface DnsAnswerMessage {
  readonly questions?: readonly { readonly name: string }[];
  readonly answers?: readonly { readonly type: string; readonly name: string; readonly ttl?: number; readonly data?: unknown }[];
}

/** Cilium's toFQDNs knobs (cilium-agent flags of the same names, and their defaults). */
export interface FqdnCacheOptions {
  /** `--tofqdns-min-ttl` (seconds): a learned address lives at least this long, whatever the answer's TTL. Default 0. */
  readonly minTtlSeconds?: number;
  /** `--tofqdns-endpoint-max-ip-per-hostname`: addresses one endpoint keeps per name; beyond, the soonest to expire go first (to the zombies). 0: no limit. Default 50. */
  readonly maxIpsPerHostname?: number;
  /**
   * `--tofqdns-idle-connection-grace-period` (ms): an expired address stays while a connection to
   * it was active this recently, so one idle between two connections keeps it. Default 0.
   */
  readonly idleConnectionGracePeriodMs?: number;
  /** `--tofqdns-max-deferred-connection-deletes`: expired addresses kept for live connections at most; beyond, the longest idle go first. Default 10000. */
  readonly maxDeferredConnectionDeletes?: number;
}

export const DEFAULT_FQDN_CACHE_OPTIONS: Required<FqdnCacheOptions> = {
  minTtlSeconds: 0,
  maxIpsPerHostname: 50,
  idleConnectionGracePeriodMs: 0,
  maxDeferredConnectionDeletes: 10_000,
};

/** What the datapath's conntrack says about an endpoint's connections to an address: one is open, one was last active at a time (ms since the epoch), or there is none. */
export type ConnectionActivity = 'open' | number | undefined;

/** An address that expired (or was evicted) while an endpoint may still be connected to it: Cilium's DNS "zombie". */
export interface FqdnZombie {
  readonly endpoint: string;
  readonly address: string;
  readonly names: readonly string[];
  /** When it stopped being a live lookup (ms since the epoch). */
  readonly deletePendingAt: number;
  /** Until when a connection keeps it (ms since the epoch); before any was seen, 0. */
  readonly aliveUntil: number;
}

/** One address an endpoint's lookup of a name returned, and when it expires (ms since the epoch). */
export interface FqdnLookup {
  readonly endpoint: string;
  readonly name: string;
  readonly address: string;
  readonly expiresMs: number;
}

interface MutableZombie {
  readonly names: Set<string>;
  deletePendingAt: number;
  aliveUntil: number;
}

/**
 * The toFQDNs DNS cache (policy-semantics §5.3), as Cilium keeps it: per endpoint, the addresses
 * each name was answered with and until when (the answer's TTL, at least the minimum TTL), at most
 * `maxIpsPerHostname` per name. The union over endpoints is what the node selects: an address one
 * pod resolved serves every endpoint whose toFQDNs selects the name. An A record reached through
 * CNAMEs counts for the question's name too, so a selector on the name the pod asked for opens the
 * address it got.
 *
 * An address that expires or is evicted is not dropped at once: it becomes a zombie of the
 * endpoint, still selected, until a conntrack check (collectZombies) finds no connection of that
 * endpoint to it, so a connection opened while the name was valid survives the TTL, as in Cilium.
 * Looking the name up again brings the address back to life.
 */
export class FqdnCache {
  private readonly options: Required<FqdnCacheOptions>;
  /** endpoint → name → address → expiry (ms since the epoch). */
  private readonly lookups = new Map<string, Map<string, Map<string, number>>>();
  /** endpoint → address → zombie. */
  private readonly zombieMap = new Map<string, Map<string, MutableZombie>>();

  constructor(options: FqdnCacheOptions = {}) {
    this.options = { ...DEFAULT_FQDN_CACHE_OPTIONS, ...definedOnly(options) };
    checkOptions(this.options);
  }

  /** Records the A answers of a response one endpoint got; true when an address or name is new or lives longer now. */
  record(endpoint: string, message: DnsAnswerMessage, nowMs: number): boolean {
    const asked = message.questions?.[0]?.name;
    let changed = false;
    let byName = this.lookups.get(endpoint);
    for (const answer of message.answers ?? []) {
      if (answer.type !== 'A' || typeof answer.data !== 'string' || !isIpv4Address(answer.data)) continue;
      const expires = nowMs + Math.max(answer.ttl ?? 0, this.options.minTtlSeconds) * 1000;
      const names = new Set([normalizeDnsName(answer.name), ...(asked ? [normalizeDnsName(asked)] : [])]);
      if (!byName) this.lookups.set(endpoint, (byName = new Map()));
      for (const name of names) {
        let addresses = byName.get(name);
        if (!addresses) byName.set(name, (addresses = new Map()));
        this.revive(endpoint, answer.data, name);
        if ((addresses.get(answer.data) ?? 0) >= expires) continue;
        addresses.set(answer.data, expires);
        this.evictOverLimit(endpoint, name, addresses, nowMs);
        changed = true;
      }
    }
    return changed;
  }

  /** Turns what expired by `nowMs` into zombies; true when anything expired. */
  expire(nowMs: number): boolean {
    let changed = false;
    for (const [endpoint, byName] of this.lookups) {
      for (const [name, addresses] of byName) {
        for (const [address, expires] of addresses) {
          if (expires > nowMs) continue;
          addresses.delete(address);
          this.bury(endpoint, address, name, expires);
          changed = true;
        }
        if (addresses.size === 0) byName.delete(name);
      }
      if (byName.size === 0) this.lookups.delete(endpoint);
    }
    return changed;
  }

  /**
   * One conntrack pass (Cilium's CT GC marking zombies alive): a zombie whose endpoint has an open
   * connection to it stays, as does one whose connection was active within the idle grace period;
   * the others are deleted, and beyond `maxDeferredConnectionDeletes` the longest idle go too.
   * True when any was deleted (the address may no longer be selected).
   */
  collectZombies(nowMs: number, activity: (endpoint: string, address: string) => ConnectionActivity): boolean {
    const grace = this.options.idleConnectionGracePeriodMs;
    let deleted = false;
    for (const [endpoint, byAddress] of this.zombieMap) {
      for (const [address, zombie] of byAddress) {
        const seen = activity(endpoint, address);
        if (seen !== undefined) zombie.aliveUntil = Math.max(zombie.aliveUntil, (seen === 'open' ? nowMs : seen) + grace);
        if (zombie.aliveUntil >= nowMs) continue;
        byAddress.delete(address);
        deleted = true;
      }
      if (byAddress.size === 0) this.zombieMap.delete(endpoint);
    }
    const over = this.zombieCount() - this.options.maxDeferredConnectionDeletes;
    if (over > 0) {
      const oldest = this.zombies()
        .sort((a, b) => a.aliveUntil - b.aliveUntil || a.deletePendingAt - b.deletePendingAt)
        .slice(0, over);
      for (const z of oldest) this.dropZombie(z.endpoint, z.address);
      deleted = true;
    }
    return deleted;
  }

  /** Forgets the endpoints not in `present` (their pods are gone, and their connections with them). True when any was known. */
  retainEndpoints(present: ReadonlySet<string>): boolean {
    let changed = false;
    for (const map of [this.lookups, this.zombieMap] as Map<string, unknown>[]) {
      for (const endpoint of [...map.keys()]) {
        if (present.has(endpoint)) continue;
        map.delete(endpoint);
        changed = true;
      }
    }
    return changed;
  }

  /** The names of each address some endpoint holds, live or zombie: what toFQDNs selects. */
  addresses(): Map<string, string[]> {
    const names = new Map<string, Set<string>>();
    const add = (address: string, name: string): void => {
      let set = names.get(address);
      if (!set) names.set(address, (set = new Set()));
      set.add(name);
    };
    for (const byName of this.lookups.values()) for (const [name, addresses] of byName) for (const address of addresses.keys()) add(address, name);
    for (const byAddress of this.zombieMap.values()) for (const [address, zombie] of byAddress) for (const name of zombie.names) add(address, name);
    return new Map([...names].sort(([a], [b]) => a.localeCompare(b)).map(([address, set]) => [address, [...set].sort()]));
  }

  /** Every live lookup, sorted by endpoint, name and address (what `cilium fqdn cache list` shows). */
  entries(): FqdnLookup[] {
    const list: FqdnLookup[] = [];
    for (const [endpoint, byName] of this.lookups) {
      for (const [name, addresses] of byName) for (const [address, expiresMs] of addresses) list.push({ endpoint, name, address, expiresMs });
    }
    return list.sort((a, b) => a.endpoint.localeCompare(b.endpoint) || a.name.localeCompare(b.name) || a.address.localeCompare(b.address));
  }

  /** The live lookups of one endpoint: name → addresses. */
  lookupsOf(endpoint: string): Map<string, string[]> {
    return new Map([...(this.lookups.get(endpoint) ?? [])].map(([name, addresses]) => [name, [...addresses.keys()].sort()]));
  }

  zombies(): FqdnZombie[] {
    const list: FqdnZombie[] = [];
    for (const [endpoint, byAddress] of this.zombieMap) {
      for (const [address, z] of byAddress) list.push({ endpoint, address, names: [...z.names].sort(), deletePendingAt: z.deletePendingAt, aliveUntil: z.aliveUntil });
    }
    return list;
  }

  /** When the next live lookup expires (ms since the epoch), or undefined when there is none. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const byName of this.lookups.values()) {
      for (const addresses of byName.values()) for (const expires of addresses.values()) if (next === undefined || expires < next) next = expires;
    }
    return next;
  }

  /** How many zombies wait for a conntrack check. */
  zombieCount(): number {
    let n = 0;
    for (const byAddress of this.zombieMap.values()) n += byAddress.size;
    return n;
  }

  /** Cilium's per-host limit: the addresses of `name` that expire soonest leave the live cache, as zombies. */
  private evictOverLimit(endpoint: string, name: string, addresses: Map<string, number>, nowMs: number): void {
    const over = addresses.size - this.options.maxIpsPerHostname;
    if (this.options.maxIpsPerHostname === 0 || over <= 0) return;
    const soonest = [...addresses].sort(([, a], [, b]) => a - b).slice(0, over);
    for (const [address] of soonest) {
      addresses.delete(address);
      this.bury(endpoint, address, name, nowMs);
    }
  }

  private bury(endpoint: string, address: string, name: string, at: number): void {
    let byAddress = this.zombieMap.get(endpoint);
    if (!byAddress) this.zombieMap.set(endpoint, (byAddress = new Map()));
    const zombie = byAddress.get(address);
    if (zombie) {
      zombie.names.add(name);
      zombie.deletePendingAt = Math.max(zombie.deletePendingAt, at);
    } else byAddress.set(address, { names: new Set([name]), deletePendingAt: at, aliveUntil: 0 });
  }

  /** A new answer for `name` with `address`: the zombie no longer needs to hold that name. */
  private revive(endpoint: string, address: string, name: string): void {
    const zombie = this.zombieMap.get(endpoint)?.get(address);
    if (!zombie) return;
    zombie.names.delete(name);
    if (zombie.names.size === 0) this.dropZombie(endpoint, address);
  }

  private dropZombie(endpoint: string, address: string): void {
    const byAddress = this.zombieMap.get(endpoint);
    byAddress?.delete(address);
    if (byAddress?.size === 0) this.zombieMap.delete(endpoint);
  }
}

function definedOnly(options: FqdnCacheOptions): FqdnCacheOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

/** Bad knob values are refused with the flag's name, never silently used. */
function checkOptions(o: Required<FqdnCacheOptions>): void {
  const nonNegative: [string, number][] = [
    ['tofqdns-min-ttl', o.minTtlSeconds],
    ['tofqdns-idle-connection-grace-period', o.idleConnectionGracePeriodMs],
    ['tofqdns-max-deferred-connection-deletes', o.maxDeferredConnectionDeletes],
  ];
  for (const [flag, value] of nonNegative) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${flag} must be a non-negative number, not ${value}`);
  }
  if (!Number.isInteger(o.maxIpsPerHostname) || o.maxIpsPerHostname < 0) throw new Error(`--tofqdns-endpoint-max-ip-per-hostname must be a non-negative integer, not ${o.maxIpsPerHostname}`);
}
