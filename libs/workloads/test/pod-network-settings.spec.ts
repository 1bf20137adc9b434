import { LoopbackPodNetwork, NetnsPodNetwork, createPodNetwork, defaultPodNetworkMode, podNetworkFromEnvironment } from '../src';

describe('pod network settings', () => {
  it('reads the mode and PodCIDR tendril up passes in the environment', () => {
    expect(podNetworkFromEnvironment({})).toBeUndefined();
    expect(podNetworkFromEnvironment({ TENDRIL_POD_NETWORK: 'loopback' })).toEqual({ mode: 'loopback' });
    expect(podNetworkFromEnvironment({ TENDRIL_POD_NETWORK: 'netns' })).toEqual({ mode: 'netns' });
    expect(podNetworkFromEnvironment({ TENDRIL_POD_NETWORK: 'netns', TENDRIL_POD_CIDR: '10.1.2.0/24' })).toEqual({ mode: 'netns', podCidr: '10.1.2.0/24' });
  });

  it('rejects settings that would be silently ignored', () => {
    expect(() => podNetworkFromEnvironment({ TENDRIL_POD_NETWORK: 'bridge' })).toThrow('TENDRIL_POD_NETWORK must be "loopback" or "netns", got "bridge"');
    expect(() => podNetworkFromEnvironment({ TENDRIL_POD_CIDR: '10.1.2.0/24' })).toThrow('TENDRIL_POD_CIDR is set but TENDRIL_POD_NETWORK is not');
    expect(() => podNetworkFromEnvironment({ TENDRIL_POD_NETWORK: 'loopback', TENDRIL_POD_CIDR: '10.1.2.0/24' })).toThrow('applies to netns pods only');
  });

  it('picks namespaces for root and loopback otherwise', () => {
    expect(defaultPodNetworkMode(0)).toBe('netns');
    expect(defaultPodNetworkMode(1000)).toBe('loopback');
  });

  it('builds the network the settings name', () => {
    expect(createPodNetwork({ mode: 'loopback' }, { cniPlugin: '/x', firstPodIp: '127.12.0.1' })).toBeInstanceOf(LoopbackPodNetwork);
    const netns = createPodNetwork({ mode: 'netns', podCidr: '10.7.0.0/16' }, { cniPlugin: '/x' }) as NetnsPodNetwork;
    expect(netns).toBeInstanceOf(NetnsPodNetwork);
    expect({ cidr: netns.podCidr, gateway: netns.gateway, prefix: netns.namePrefix, ipam: netns.ipamDataDir }).toEqual({ cidr: '10.7.0.0/16', gateway: '10.7.0.1', prefix: 'tdl-', ipam: '/run/tendril/ipam' });
  });

  it('explains a bad PodCIDR, gateway or prefix when the network is built, before any pod starts', () => {
    expect(() => new NetnsPodNetwork({ cniPlugin: '/x', podCidr: '10.0.0.0/33' })).toThrow(/^pod CIDR 10.0.0.0\/33: /);
    expect(() => new NetnsPodNetwork({ cniPlugin: '/x', podCidr: '10.0.0.0/31' })).toThrow('pod CIDR 10.0.0.0/31 is too small');
    expect(() => new NetnsPodNetwork({ cniPlugin: '/x', podCidr: '10.0.0.0/24', gateway: '10.0.1.1' })).toThrow('pod gateway 10.0.1.1 is not inside the pod CIDR 10.0.0.0/24');
    expect(() => new NetnsPodNetwork({ cniPlugin: '/x', namePrefix: 'Bad Prefix' })).toThrow('namespace prefix "Bad Prefix"');
    expect(() => new LoopbackPodNetwork('10.0.0.1')).toThrow('first pod IP 10.0.0.1 must be an address in 127.0.0.0/8');
  });

  it('hands out loopback addresses in order and reuses released ones first', async () => {
    const network = new LoopbackPodNetwork('127.11.250.254');
    const a = network.createSandbox();
    const b = network.createSandbox();
    expect([a.ip, b.ip]).toEqual(['127.11.250.254', '127.11.250.255']);
    await network.removeSandbox(a);
    expect(network.createSandbox().ip).toBe('127.11.250.254');
  });
});
