import { makePrefix, parseIpAddress, prefixContainsAddress, type IpPrefix } from '@tendril/identity';

/**
 * Envoy's filter chain selection for cleartext chains, on the criteria a connection carries before
 * any byte is read: destination port, destination IP and source IP (the original destination, for
 * a transparent listener). As in Envoy, each criterion in turn keeps only the most specific
 * candidates: an exact destination_port beats none; the longest prefix_ranges entry containing the
 * destination beats a shorter one, which beats a chain without prefix_ranges; the same for
 * source_prefix_ranges. Two chains with the same match are rejected when added, as Envoy rejects
 * such a Listener.
 */

/** Envoy's CidrRange: address_prefix plus prefix_len. */
export interface CidrRange {
  address_prefix?: string;
  prefix_len?: number;
}

export interface ConnectionMatch {
  destinationPort?: number;
  destinationPrefixes: readonly IpPrefix[];
  sourcePrefixes: readonly IpPrefix[];
}

export interface ConnectionAddresses {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
}

export function parseCidrRange(range: CidrRange, field: string): IpPrefix {
  const text = range.address_prefix ?? '';
  let parsed: ReturnType<typeof parseIpAddress>;
  try {
    parsed = parseIpAddress(text);
  } catch {
    throw new Error(`${field}: address_prefix ${JSON.stringify(text)} is not an IP address`);
  }
  const bits = parsed.family === 4 ? 32 : 128;
  const length = range.prefix_len ?? bits;
  if (!Number.isInteger(length) || length < 0 || length > bits) throw new Error(`${field}: prefix_len ${length} is out of range for ${text}`);
  return makePrefix(parsed.family, parsed.address, length);
}

function matchKey(match: ConnectionMatch): string {
  const prefixes = (list: readonly IpPrefix[]) =>
    list
      .map((p) => `${p.family}:${p.address}/${p.length}`)
      .sort()
      .join(',');
  return `${match.destinationPort ?? '*'}|${prefixes(match.destinationPrefixes)}|${prefixes(match.sourcePrefixes)}`;
}

/** The longest prefix of `prefixes` containing the address: -1 when the list is empty (matches anything, least specific), undefined when none contains it. */
function longestMatch(prefixes: readonly IpPrefix[], address: string): number | undefined {
  if (prefixes.length === 0) return -1;
  let parsed: ReturnType<typeof parseIpAddress>;
  try {
    parsed = parseIpAddress(address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address);
  } catch {
    return undefined;
  }
  let best: number | undefined;
  for (const prefix of prefixes) {
    if (prefixContainsAddress(prefix, parsed.family, parsed.address) && (best === undefined || prefix.length > best)) best = prefix.length;
  }
  return best;
}

/** Keeps the candidates with the highest score; a candidate scoring undefined does not match. */
function keepMostSpecific<T>(candidates: readonly { match: ConnectionMatch; value: T }[], score: (m: ConnectionMatch) => number | undefined): { match: ConnectionMatch; value: T }[] {
  let best = -Infinity;
  let kept: { match: ConnectionMatch; value: T }[] = [];
  for (const candidate of candidates) {
    const s = score(candidate.match);
    if (s === undefined) continue;
    if (s > best) {
      best = s;
      kept = [candidate];
    } else if (s === best) {
      kept.push(candidate);
    }
  }
  return kept;
}

export class ConnectionChainSelector<T> {
  private readonly chains: { match: ConnectionMatch; value: T }[] = [];
  private readonly keys = new Set<string>();

  /** Throws when another chain has the very same match. */
  add(match: ConnectionMatch, value: T): void {
    const key = matchKey(match);
    if (this.keys.has(key)) throw new Error('another filter chain has the same filter_chain_match');
    this.keys.add(key);
    this.chains.push({ match, value });
  }

  get size(): number {
    return this.chains.length;
  }

  values(): T[] {
    return this.chains.map((c) => c.value);
  }

  select(connection: ConnectionAddresses): T | undefined {
    let candidates = keepMostSpecific(this.chains, (m) => (m.destinationPort === undefined ? 0 : m.destinationPort === connection.localPort ? 1 : undefined));
    candidates = keepMostSpecific(candidates, (m) => longestMatch(m.destinationPrefixes, connection.localAddress));
    candidates = keepMostSpecific(candidates, (m) => longestMatch(m.sourcePrefixes, connection.remoteAddress));
    return candidates[0]?.value;
  }
}
