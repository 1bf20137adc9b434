import { buildAddResult, buildVersionResult, hostVethName, podVethTempName } from '../src';

const input = {
  hostInterface: { name: 'tdr0123456789ab', mac: '02:00:00:00:00:01' },
  podInterface: { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/var/run/netns/pod' },
  podAddress: '10.250.0.2/32',
  gateway: '10.250.0.1',
};

describe('buildAddResult', () => {
  it('builds a 1.0.0 result whose ip points at the pod interface', () => {
    const result = buildAddResult({ ...input, cniVersion: '1.0.0' });
    expect(result).toEqual({
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'tdr0123456789ab', mac: '02:00:00:00:00:01' },
        { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/var/run/netns/pod' },
      ],
      ips: [{ address: '10.250.0.2/32', gateway: '10.250.0.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.250.0.1' }],
      dns: {},
    });
    expect(result.interfaces[result.ips[0]!.interface]!.sandbox).toBe('/var/run/netns/pod');
  });

  it('adds the ip version field that 0.3.x/0.4.0 results require', () => {
    expect(buildAddResult({ ...input, cniVersion: '0.4.0' }).ips[0]).toEqual({
      version: '4',
      address: '10.250.0.2/32',
      gateway: '10.250.0.1',
      interface: 1,
    });
  });
});

describe('buildVersionResult', () => {
  it('lists the supported versions', () => {
    expect(buildVersionResult().supportedVersions).toEqual(['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  });
});

describe('veth naming', () => {
  it('derives stable, distinct names within the 15-character kernel limit', () => {
    const host = hostVethName('container-a', 'eth0');
    expect(host).toMatch(/^tdr[0-9a-f]{12}$/);
    expect(hostVethName('container-a', 'eth0')).toBe(host);
    expect(hostVethName('container-b', 'eth0')).not.toBe(host);
    expect(hostVethName('container-a', 'eth1')).not.toBe(host);
    expect(podVethTempName('container-a', 'eth0')).toHaveLength(15);
  });
});
