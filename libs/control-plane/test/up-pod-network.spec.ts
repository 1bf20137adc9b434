import { podNetworkEnvironment, runUp } from '../src';

describe('tendril up: pod network choice', () => {
  it('runs pods in network namespaces as root, in the default or the given PodCIDR', () => {
    const lines: string[] = [];
    expect(podNetworkEnvironment({ uid: 0 }, (l) => lines.push(l))).toEqual({ TENDRIL_POD_NETWORK: 'netns', TENDRIL_POD_CIDR: '10.244.0.0/24' });
    expect(podNetworkEnvironment({ uid: 0, podNetwork: 'auto', podCidr: '10.50.0.0/16' }, (l) => lines.push(l))).toEqual({ TENDRIL_POD_NETWORK: 'netns', TENDRIL_POD_CIDR: '10.50.0.0/16' });
    expect(lines[0]).toBe('[up]      pods run in network namespaces (tdl-*) with addresses from 10.244.0.0/24, wired by the tendril-cni plugin');
  });

  it('keeps loopback pods without root, saying so in one line', () => {
    const lines: string[] = [];
    expect(podNetworkEnvironment({ uid: 1000 }, (l) => lines.push(l))).toEqual({ TENDRIL_POD_NETWORK: 'loopback' });
    expect(lines).toEqual([
      '[up]      not running as root: pods run as processes on 127.11.x.y in the host network namespace (as root, each pod gets a network namespace of its own)',
    ]);
  });

  it('uses loopback pods when asked, even as root, without the notice', () => {
    const lines: string[] = [];
    expect(podNetworkEnvironment({ uid: 0, podNetwork: 'loopback' }, (l) => lines.push(l))).toEqual({ TENDRIL_POD_NETWORK: 'loopback' });
    expect(lines).toEqual([]);
  });

  it('refuses netns without root and a bad PodCIDR before starting anything', async () => {
    const lines: string[] = [];
    const common = { configDir: 'examples/quickstart', xdsAddress: '127.0.0.1:1', adminAddress: '127.0.0.1:1', proxyAdminAddress: '127.0.0.1:1', xdsProtocol: 'delta' as const, write: (l: string) => lines.push(l) };
    expect(await runUp({ ...common, podNetwork: 'netns', uid: 1000 })).toBe(2);
    expect(await runUp({ ...common, uid: 0, podCidr: '10.0.0.0/31' })).toBe(2);
    expect(lines).toEqual([
      '[up]      --pod-network netns needs root: creating network namespaces and veths is privileged',
      '[up]      pod CIDR 10.0.0.0/31 is too small for a gateway and pods (at most /30)',
    ]);
  });
});
