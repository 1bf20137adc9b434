import { formatIpv4Prefix, parseIpv4, parseIpv4Prefix } from '../src/ipv4';
import { identityFromMark, MARK_FROM_EGRESS_PROXY, MARK_FROM_INGRESS_PROXY, proxyMark } from '../src';

/* What the map writers and the proxy helpers put into kernel-visible bytes, checked without root. */

describe('IPv4 encoding for the BPF maps', () => {
  it('stores addresses in network byte order', () => {
    expect([...parseIpv4('10.213.77.20')]).toEqual([10, 213, 77, 20]);
  });

  it('rejects text that is not a dotted quad', () => {
    for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.01', 'a.b.c.d', '10.0.0.1 ', '']) {
      expect(() => parseIpv4(bad)).toThrow(`invalid IPv4 address: ${JSON.stringify(bad)}`);
    }
  });

  it('parses prefixes, a bare address being a /32, and refuses host bits past the prefix', () => {
    expect(formatIpv4Prefix(parseIpv4Prefix('10.0.0.0/8'))).toBe('10.0.0.0/8');
    expect(formatIpv4Prefix(parseIpv4Prefix('10.1.2.3'))).toBe('10.1.2.3/32');
    expect(formatIpv4Prefix(parseIpv4Prefix('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(() => parseIpv4Prefix('10.1.0.0/8')).toThrow('IPv4 prefix 10.1.0.0/8 has host bits set past /8');
    expect(() => parseIpv4Prefix('10.0.0.0/33')).toThrow('invalid IPv4 prefix length in "10.0.0.0/33": must be 0..32');
    expect(() => parseIpv4Prefix('10.0.0.0/8/1')).toThrow('invalid IPv4 prefix');
  });
});

describe('proxy marks (policy-semantics.md §6.5)', () => {
  it('put the direction in the 0x0F00 nibble and keep the identity recoverable', () => {
    expect(proxyMark('ingress', 1001) & 0xf00).toBe(MARK_FROM_INGRESS_PROXY);
    expect(proxyMark('egress', 1001) & 0xf00).toBe(MARK_FROM_EGRESS_PROXY);
    for (const identity of [0, 1, 2, 1001, 0xffff, 0x10000, 0x123456, 0xffffff]) {
      expect(identityFromMark(proxyMark('egress', identity))).toBe(identity);
    }
  });

  it('uses Cilium’s layout: identity bits 0–15 in the top half, bits 16–23 in the low byte', () => {
    expect(proxyMark('ingress', 0x123456)).toBe(0x34560a12);
  });

  it('refuses identities that do not fit in 24 bits', () => {
    expect(() => proxyMark('ingress', 2 ** 24)).toThrow('sourceIdentity must be an integer in 0..16777215');
    expect(() => proxyMark('ingress', -1)).toThrow('sourceIdentity');
  });
});
