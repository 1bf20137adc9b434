/** IPv4 arithmetic on 32-bit unsigned numbers; pure, so IPAM can be tested without root. */
export interface Ipv4Subnet {
  /** Network address as an unsigned 32-bit number. */
  network: number;
  prefixLength: number;
}

export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`"${text}" is not an IPv4 address`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function parseSubnet(cidr: string): Ipv4Subnet {
  const [addr, len, ...rest] = cidr.split('/');
  if (rest.length > 0 || len === undefined || !/^\d{1,2}$/.test(len) || Number(len) > 32) {
    throw new Error(`"${cidr}" is not an IPv4 CIDR such as 10.250.0.0/24`);
  }
  const prefixLength = Number(len);
  const base = parseIpv4(addr ?? '');
  const size = 2 ** (32 - prefixLength);
  if (base % size !== 0) throw new Error(`"${cidr}" has host bits set (network is ${formatIpv4(base - (base % size))})`);
  return { network: base, prefixLength };
}

export function subnetSize(subnet: Ipv4Subnet): number {
  return 2 ** (32 - subnet.prefixLength);
}

export function subnetContains(subnet: Ipv4Subnet, address: number): boolean {
  return address >= subnet.network && address < subnet.network + subnetSize(subnet);
}

export function formatSubnet(subnet: Ipv4Subnet): string {
  return `${formatIpv4(subnet.network)}/${subnet.prefixLength}`;
}
