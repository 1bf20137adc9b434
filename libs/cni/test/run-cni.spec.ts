import { runCni } from '../src';

// The paths of runCni that never touch the kernel: they must still answer with the spec's error JSON.
describe('runCni without a datapath', () => {
  const config = JSON.stringify({
    cniVersion: '0.4.0',
    name: 'n',
    type: 'tendril-cni',
    ipam: { subnet: '10.250.0.0/24', gateway: '10.250.0.1', dataDir: '/nonexistent' },
  });

  it('answers an unknown command with code 4 and exit 1', async () => {
    const out = await runCni({ CNI_COMMAND: 'BOGUS' }, config);
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ cniVersion: '0.4.0', code: 4 });
  });

  it('answers STATUS and GC as not supported', async () => {
    for (const command of ['STATUS', 'GC']) {
      const out = await runCni({ CNI_COMMAND: command }, config);
      expect(out.exitCode).toBe(1);
      expect(JSON.parse(out.stdout)).toEqual({ cniVersion: '0.4.0', code: 4, msg: `CNI_COMMAND ${command} is not supported by tendril-cni` });
    }
  });

  it('answers undecodable stdin with code 6 in the latest version', async () => {
    const out = await runCni({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0' }, 'nope');
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ cniVersion: '1.1.0', code: 6 });
  });

  it('answers ADD into a missing namespace with code 3 before allocating anything', async () => {
    const out = await runCni(
      { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/var/run/netns/tendril-cni-does-not-exist', CNI_IFNAME: 'eth0' },
      config,
    );
    expect(JSON.parse(out.stdout)).toMatchObject({ code: 3, msg: expect.stringContaining('does not exist') });
  });
});
