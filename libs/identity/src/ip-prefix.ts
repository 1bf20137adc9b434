/**
 * IPv4/IPv6 addresses and prefixes as numbers, so that containment and longest-prefix match are
 * integer arithmetic. Parsing follows Go's net/netip (what Cilium validates policies with): the
 * error texts are netip's, because Cilium's validation messages embed them.
 */

export type IpFamily = 4 | 6;

export interface IpPrefix {
  readonly family: IpFamily;
  /** The network address with host bits cleared. */
  readonly address: bigint;
  readonly length: number;
}

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

export class IpParseError extends Error {
  override readonly name = 'IpParseError';
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // netip rejects empty fields, signs, leading zeros ("010") and values over 255.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  if (text.includes('%')) return undefined; // zones never name a policy address
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(halves[0]);
  const right = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (!left || !right) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/** Parses a bare address; throws IpParseError worded like netip.ParseAddr. */
export function parseIpAddress(text: string): { family: IpFamily; address: bigint } {
  if (typeof text === 'string') {
    if (text.includes(':')) {
      const v6 = parseIpv6(text);
      if (v6 !== undefined) return { family: 6, address: v6 };
    } else {
      const v4 = parseIpv4(text);
      if (v4 !== undefined) return { family: 4, address: v4 };
    }
  }
  throw new IpParseError(`ParseAddr(${JSON.stringify(String(text))}): unable to parse IP`);
}

function mask(family: IpFamily, length: number): bigint {
  const bits = familyBits(family);
  return ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - length)) - 1n);
}

export function makePrefix(family: IpFamily, address: bigint, length: number): IpPrefix {
  return { family, address: address & mask(family, length), length };
}

/** Parses `a.b.c.d/n` or `v6/n`; throws IpParseError worded like netip.ParsePrefix. */
export function parseIpPrefix(text: string): IpPrefix {
  const quoted = JSON.stringify(String(text));
  const slash = typeof text === 'string' ? text.lastIndexOf('/') : -1;
  if (slash < 0) throw new IpParseError(`netip.ParsePrefix(${quoted}): no '/'`);
  let parsed: { family: IpFamily; address: bigint };
  try {
    parsed = parseIpAddress(text.slice(0, slash));
  } catch (err) {
    throw new IpParseError(`netip.ParsePrefix(${quoted}): ${(err as Error).message}`);
  }
  const bitsText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]*)$/.test(bitsText)) throw new IpParseError(`netip.ParsePrefix(${quoted}): bad bits after slash: ${JSON.stringify(bitsText)}`);
  const length = Number(bitsText);
  if (length > familyBits(parsed.family)) throw new IpParseError(`netip.ParsePrefix(${quoted}): prefix length out of range`);
  return makePrefix(parsed.family, parsed.address, length);
}

/** A prefix, or a bare address taken as a host prefix (/32, /128), as fromCIDR accepts. */
export function parseIpPrefixOrAddress(text: string): IpPrefix {
  if (typeof text === 'string' && text.includes('/')) return parseIpPrefix(text);
  const { family, address } = parseIpAddress(text);
  return makePrefix(family, address, familyBits(family));
}

export function formatIpAddress(family: IpFamily, address: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address >> shift) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((address >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (≥2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatIpPrefix(prefix: IpPrefix): string {
  return `${formatIpAddress(prefix.family, prefix.address)}/${prefix.length}`;
}

/** Whether `inner` lies entirely inside `outer` (same family, at least as long, same leading bits). */
export function prefixContains(outer: IpPrefix, inner: IpPrefix): boolean {
  if (outer.family !== inner.family || inner.length < outer.length) return false;
  return (inner.address & mask(outer.family, outer.length)) === outer.address;
}

/** Whether `outer` contains the address. */
export function prefixContainsAddress(outer: IpPrefix, family: IpFamily, address: bigint): boolean {
  return outer.family === family && (address & mask(family, outer.length)) === outer.address;
}
