/**
 * Port and protocol syntax of toPorts / icmps / NetworkPolicy ports, shared by validation (which
 * reports Cilium's errors) and translation (which turns valid input into PortMatch ranges).
 */
import type { ICMPField, PortProtocol } from './api-types';
import { Protocol } from './policy-map';
import type { PortMatch } from './policy-ir';

/** ANY (or nothing) is TCP + UDP + SCTP; never ICMP (policy-semantics §1.9). */
export const ANY_L4_PROTOCOLS: readonly number[] = [Protocol.TCP, Protocol.UDP, Protocol.SCTP];

const protocolNumbers: Record<string, readonly number[]> = {
  ANY: ANY_L4_PROTOCOLS,
  TCP: [Protocol.TCP],
  UDP: [Protocol.UDP],
  SCTP: [Protocol.SCTP],
};

/** Cilium's ParseL4Proto: case-insensitive, empty = ANY; undefined for anything else. */
export function l4Protocols(protocol: string | undefined): readonly number[] | undefined {
  if (protocol === undefined || protocol === '') return ANY_L4_PROTOCOLS;
  return protocolNumbers[String(protocol).toUpperCase()];
}

export function invalidProtocolMessage(protocol: string): string {
  return `invalid protocol ${JSON.stringify(String(protocol).toUpperCase())}, must be { tcp | udp | sctp | any }`;
}

/** IANA service names (RFC 6335 §5.1), which Cilium treats as named ports. */
export function isServiceName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 15 &&
    /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(name) &&
    !name.includes('--') &&
    /[a-zA-Z]/.test(name)
  );
}

/**
 * A numeric port the way Go's strconv.ParseUint(s, 0, 16) reads it (decimal; a leading 0 means
 * octal); a message worded like Go's when it is not one.
 */
export function parsePortNumber(text: string): number | { error: string } {
  const quoted = JSON.stringify(text);
  let value: number;
  if (/^0[0-7]+$/.test(text)) value = parseInt(text, 8);
  else if (/^(0|[1-9][0-9]*)$/.test(text)) value = Number(text);
  else return { error: `strconv.ParseUint: parsing ${quoted}: invalid syntax` };
  if (value > 0xffff) return { error: `strconv.ParseUint: parsing ${quoted}: value out of range` };
  return value;
}

/** What a valid PortProtocol matches: a port range per protocol, or a named port. */
export function portMatches(pp: PortProtocol): PortMatch[] {
  const protocols = l4Protocols(pp.protocol) ?? [];
  const text = String(pp.port ?? '');
  if (isServiceName(text)) return [{ kind: 'named', name: text.toLowerCase(), protocols }];
  const port = parsePortNumber(text);
  if (typeof port !== 'number') return [];
  // Port 0 is every port; an endPort not past the port is ignored (a single port).
  const first = port;
  const last = port === 0 ? 0xffff : Math.max(port, Math.min(pp.endPort ?? port, 0xffff));
  return protocols.map((protocol) => ({ kind: 'range', protocol, first, last }));
}

/** Cilium's ICMP type names (pkg/policy/api/icmp.go). */
const icmpV4Types: Record<string, number> = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  Redirect: 5,
  Echo: 8,
  EchoRequest: 8,
  RouterAdvertisement: 9,
  RouterSelection: 10,
  TimeExceeded: 11,
  ParameterProblem: 12,
  Timestamp: 13,
  TimestampReply: 14,
  Photuris: 40,
  ExtendedEchoRequest: 42,
  ExtendedEchoReply: 43,
};

const icmpV6Types: Record<string, number> = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  MulticastListenerQuery: 130,
  MulticastListenerReport: 131,
  MulticastListenerDone: 132,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  RedirectMessage: 137,
  RouterRenumbering: 138,
  ICMPNodeInformationQuery: 139,
  ICMPNodeInformationResponse: 140,
  InverseNeighborDiscoverySolicitation: 141,
  InverseNeighborDiscoveryAdvertisement: 142,
  HomeAgentAddressDiscoveryRequest: 144,
  HomeAgentAddressDiscoveryReply: 145,
  MobilePrefixSolicitation: 146,
  MobilePrefixAdvertisement: 147,
  DuplicateAddressRequestCodeSuffix: 157,
  DuplicateAddressConfirmationCodeSuffix: 158,
  ExtendedEchoRequest: 160,
  ExtendedEchoReply: 161,
};

/** The ICMP type number of a field, or an error message. IPv4 is the default family. */
export function icmpType(field: ICMPField): number | { error: string } {
  const v6 = field.family === 'IPv6';
  const type = field.type;
  if (typeof type === 'number' || (typeof type === 'string' && /^[0-9]+$/.test(type))) {
    const n = Number(type);
    if (!Number.isInteger(n) || n < 0 || n > 255) return { error: `invalid ICMP type ${JSON.stringify(type)}: must be 0-255` };
    return n;
  }
  if (typeof type === 'string') {
    const n = (v6 ? icmpV6Types : icmpV4Types)[type];
    if (n !== undefined) return n;
    return { error: `ICMP type ${JSON.stringify(type)} not found in ${v6 ? 'IPv6' : 'IPv4'} type names` };
  }
  return { error: 'ICMP type must be specified' };
}

/** The ICMP protocol and type as a port range covering every code of the type. */
export function icmpMatch(field: ICMPField): PortMatch | undefined {
  const type = icmpType(field);
  if (typeof type !== 'number') return undefined;
  const protocol = field.family === 'IPv6' ? Protocol.ICMPV6 : Protocol.ICMP;
  return { kind: 'range', protocol, first: type << 8, last: (type << 8) | 0xff };
}
