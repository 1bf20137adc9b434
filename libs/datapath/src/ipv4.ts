/** IPv4 text ⇄ the bytes the BPF maps store (network byte order). */

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIpv4(text: string): Buffer {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) throw new Error(`invalid IPv4 address: ${JSON.stringify(text)}`);
  return Buffer.from(parts.map(Number));
}

export function formatIpv4(bytes: Buffer, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

export interface Ipv4Prefix {
  /** Network address with the host bits cleared. */
  readonly address: Buffer;
  readonly length: number;
}

/** Parses `a.b.c.d/n` or a bare address (a /32). Host bits set past the prefix are an error. */
export function parseIpv4Prefix(text: string): Ipv4Prefix {
  const [addressText, lengthText, extra] = text.split('/');
  if (extra !== undefined || addressText === undefined) throw new Error(`invalid IPv4 prefix: ${JSON.stringify(text)}`);
  const address = parseIpv4(addressText);
  const length = lengthText === undefined ? 32 : /^(3[0-2]|[12]?\d)$/.test(lengthText) ? Number(lengthText) : NaN;
  if (Number.isNaN(length)) throw new Error(`invalid IPv4 prefix length in ${JSON.stringify(text)}: must be 0..32`);
  const value = address.readUInt32BE(0);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  if ((value & ~mask) >>> 0 !== 0) throw new Error(`IPv4 prefix ${text} has host bits set past /${length}`);
  return { address, length };
}

export function formatIpv4Prefix(prefix: Ipv4Prefix): string {
  return `${formatIpv4(prefix.address)}/${prefix.length}`;
}
