/** NPHDS: the identities a use_nphds redirect listener gives its clients' addresses. */
import { validateConfig } from '../src';
import { HostIdentityIndex } from '../src/host-identities';

describe('HostIdentityIndex', () => {
  const { index, errors } = HostIdentityIndex.compile([
    { policy: 16777217, host_addresses: ['10.0.0.0/8'] },
    { policy: 300, host_addresses: ['10.244.0.7', '10.244.0.8/32'] },
    { policy: 1, host_addresses: ['192.168.1.10/32', 'fd00::1'] },
    { policy: 16777218, host_addresses: ['10.244.0.0/16'] },
  ]);

  it('compiles', () => expect(errors).toEqual([]));

  it('the longest prefix containing the address wins', () => {
    expect(index!.identityOf('10.244.0.7')).toBe(300);
    expect(index!.identityOf('10.244.0.8')).toBe(300);
    expect(index!.identityOf('10.244.0.9')).toBe(16777218);
    expect(index!.identityOf('10.1.2.3')).toBe(16777217);
    expect(index!.identityOf('fd00::1')).toBe(1);
  });

  it('an address no prefix covers has no identity (the listener treats it as world)', () => {
    expect(index!.identityOf('8.8.8.8')).toBeUndefined();
    expect(index!.identityOf('fd00::2')).toBeUndefined();
    expect(index!.identityOf('not an address')).toBeUndefined();
    expect(HostIdentityIndex.EMPTY.identityOf('10.244.0.7')).toBeUndefined();
  });

  it('refuses bad addresses, a missing identity and one prefix claimed by two identities, naming each', () => {
    const bad = HostIdentityIndex.compile([
      { policy: 5, host_addresses: ['10.0.0.300'] },
      { host_addresses: ['10.0.0.1'] },
      { policy: 6, host_addresses: ['10.9.0.0/16'] },
      { policy: 7, host_addresses: ['10.9.0.0/16'] },
    ]);
    expect(bad.index).toBeUndefined();
    expect(bad.errors).toEqual([
      { kind: 'NetworkPolicyHosts', resource: '5', message: expect.stringContaining('10.0.0.300') },
      { kind: 'NetworkPolicyHosts', resource: '#1', message: 'policy (the identity) must be a number from 1 to 4294967295' },
      { kind: 'NetworkPolicyHosts', resource: '7', message: 'host address 10.9.0.0/16 is also listed by identity 6' },
    ]);
  });

  it('a config with bad NPHDS is refused as a whole (NACK), naming the resource', () => {
    const config = { listeners: [], routes: [], clusters: [], endpoints: [] };
    expect(validateConfig({ ...config, networkPolicyHosts: [{ policy: 300, host_addresses: ['10.244.0.7/32'] }] })).toEqual([]);
    expect(validateConfig({ ...config, networkPolicyHosts: [{ policy: 300, host_addresses: ['not-an-ip'] }] })).toEqual([{ kind: 'NetworkPolicyHosts', resource: '300', message: expect.stringContaining('not-an-ip') }]);
  });
});
