import { normalizeDnsName } from '@tendril/policy';
import { isIpv4Address } from './cluster-ips';

/** The part of a DNS answer the cache reads (dns-packet's decoded shape). */
export interface DnsAnswerMessage {
  readonly questions?: readonly { readonly name: string }[];
  readonly answers?: readonly { readonly type: string; readonly name: string; readonly ttl?: number; readonly data?: unknown }[];
}

/**
 * The node's DNS cache for toFQDNs (policy-semantics §5.3): which names each IPv4 address was
 * learned for, until when (the answer's TTL, at least `minTtlSeconds`). Node-wide, as Cilium's: an
 * address one pod resolved serves every endpoint whose toFQDNs selects the name. An A record
 * reached through CNAMEs counts for the question's name too, so a selector on the name the pod
 * asked for opens the address it got.
 */
export class FqdnCache {
  /** address → name → expiry (ms since the epoch). */
  private readonly entries = new Map<string, Map<string, number>>();

  constructor(private readonly minTtlSeconds = 0) {}

  /** Records the A answers of a response; true when an address or name is new or lives longer now. */
  record(message: DnsAnswerMessage, nowMs: number): boolean {
    const asked = message.questions?.[0]?.name;
    let changed = false;
    for (const answer of message.answers ?? []) {
      if (answer.type !== 'A' || typeof answer.data !== 'string' || !isIpv4Address(answer.data)) continue;
      const expires = nowMs + Math.max(answer.ttl ?? 0, this.minTtlSeconds) * 1000;
      const names = new Set([normalizeDnsName(answer.name), ...(asked ? [normalizeDnsName(asked)] : [])]);
      let byName = this.entries.get(answer.data);
      if (!byName) this.entries.set(answer.data, (byName = new Map()));
      for (const name of names) {
        if ((byName.get(name) ?? 0) >= expires) continue;
        byName.set(name, expires);
        changed = true;
      }
    }
    return changed;
  }

  /** Forgets what expired by `nowMs`; true when anything did. */
  expire(nowMs: number): boolean {
    let changed = false;
    for (const [address, byName] of [...this.entries]) {
      for (const [name, expires] of [...byName]) {
        if (expires > nowMs) continue;
        byName.delete(name);
        changed = true;
      }
      if (byName.size === 0) this.entries.delete(address);
    }
    return changed;
  }

  /** The live names of each address. */
  addresses(): Map<string, string[]> {
    return new Map([...this.entries].map(([address, byName]) => [address, [...byName.keys()].sort()]));
  }

  /** When the next entry expires (ms since the epoch), or undefined when the cache is empty. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const byName of this.entries.values()) for (const expires of byName.values()) if (next === undefined || expires < next) next = expires;
    return next;
  }
}
