import type { tendril } from '@tendril/api-envoy';
import { IpParseError, parseIpAddress, parseIpPrefixOrAddress, type IpFamily, type IpPrefix } from '@tendril/identity';
import type { ConfigError } from './config';

type NetworkPolicyHosts = tendril.policy.v1.NetworkPolicyHosts;

/**
 * The identities of addresses as NPHDS (Tendril's NetworkPolicyHosts, after Cilium's) hands them
 * to the proxy: the agent's ipcache as one resource per identity listing its prefixes. A redirect
 * listener whose bpf_metadata sets use_nphds resolves its clients' (and, for egress, the
 * destinations') identities here instead of in the pinned BPF ipcache, as the datapath does:
 * the longest prefix containing the address wins; an address no prefix covers is world.
 */
export class HostIdentityIndex {
  static readonly EMPTY = new HostIdentityIndex(new Map());

  /** Per family, per prefix length (longest first), network address → identity. */
  private readonly byLength: ReadonlyMap<IpFamily, readonly { length: number; networks: ReadonlyMap<bigint, number> }[]>;

  private constructor(byFamily: ReadonlyMap<IpFamily, Map<number, Map<bigint, number>>>) {
    const out = new Map<IpFamily, { length: number; networks: ReadonlyMap<bigint, number> }[]>();
    for (const [family, lengths] of byFamily) {
      out.set(family, [...lengths].sort(([a], [b]) => b - a).map(([length, networks]) => ({ length, networks })));
    }
    this.byLength = out;
  }

  /** Every problem is reported; with any, the config is refused (NACK) and the previous index stays. */
  static compile(resources: readonly NetworkPolicyHosts[]): { index: HostIdentityIndex | undefined; errors: ConfigError[] } {
    const byFamily = new Map<IpFamily, Map<number, Map<bigint, number>>>();
    const owners = new Map<string, number>();
    const errors: ConfigError[] = [];
    resources.forEach((resource, i) => {
      const identity = resource.policy;
      const name = identity === undefined ? `#${i}` : String(identity);
      const fail = (message: string): void => void errors.push({ kind: 'NetworkPolicyHosts', resource: name, message });
      if (identity === undefined || !Number.isInteger(identity) || identity < 1 || identity > 0xffffffff) return fail('policy (the identity) must be a number from 1 to 4294967295');
      for (const text of resource.host_addresses ?? []) {
        let prefix: IpPrefix;
        try {
          prefix = parseIpPrefixOrAddress(text);
        } catch (err) {
          fail(err instanceof IpParseError ? err.message : `host address ${JSON.stringify(text)}: ${(err as Error).message}`);
          continue;
        }
        const key = `${prefix.family}/${prefix.address}/${prefix.length}`;
        const owner = owners.get(key);
        if (owner !== undefined && owner !== identity) {
          fail(`host address ${text} is also listed by identity ${owner}`);
          continue;
        }
        owners.set(key, identity);
        const lengths = byFamily.get(prefix.family) ?? new Map<number, Map<bigint, number>>();
        byFamily.set(prefix.family, lengths);
        const networks = lengths.get(prefix.length) ?? new Map<bigint, number>();
        lengths.set(prefix.length, networks);
        networks.set(prefix.address, identity);
      }
    });
    return { index: errors.length === 0 ? new HostIdentityIndex(byFamily) : undefined, errors };
  }

  /** The identity of the longest prefix containing `address`; undefined when none does (or it is not an IP address). */
  identityOf(address: string): number | undefined {
    let parsed: { family: IpFamily; address: bigint };
    try {
      parsed = parseIpAddress(address);
    } catch {
      return undefined;
    }
    const bits = parsed.family === 4 ? 32 : 128;
    for (const { length, networks } of this.byLength.get(parsed.family) ?? []) {
      const shift = BigInt(bits - length);
      const network = length === 0 ? 0n : (parsed.address >> shift) << shift;
      const identity = networks.get(network);
      if (identity !== undefined) return identity;
    }
    return undefined;
  }
}
