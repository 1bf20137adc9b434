import { CNI_ERROR_CODES, CniError, parseCniEnvironment, parseNetworkConfig } from '../src';

const valid = {
  cniVersion: '1.0.0',
  name: 'tendril',
  type: 'tendril-cni',
  ipam: { subnet: '10.250.0.0/24', gateway: '10.250.0.1', dataDir: '/var/lib/tendril/ipam' },
};

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CniError) return err.code;
    throw err;
  }
  return undefined;
}

describe('parseNetworkConfig', () => {
  it('accepts a complete config and normalises the subnet', () => {
    const config = parseNetworkConfig(JSON.stringify(valid));
    expect(config).toEqual({
      cniVersion: '1.0.0',
      name: 'tendril',
      type: 'tendril-cni',
      ipam: { subnet: { network: 0x0afa0000, prefixLength: 24 }, gateway: '10.250.0.1', dataDir: '/var/lib/tendril/ipam' },
    });
  });

  it('reports non-JSON stdin as a decoding failure (6)', () => {
    expect(codeOf(() => parseNetworkConfig('{not json'))).toBe(CNI_ERROR_CODES.decodingFailure);
    expect(codeOf(() => parseNetworkConfig('[]'))).toBe(CNI_ERROR_CODES.decodingFailure);
  });

  it('reports an unsupported cniVersion as incompatible (1)', () => {
    expect(codeOf(() => parseNetworkConfig(JSON.stringify({ ...valid, cniVersion: '0.2.0' })))).toBe(
      CNI_ERROR_CODES.incompatibleVersion,
    );
  });

  it.each([
    ['wrong type', { ...valid, type: 'bridge' }],
    ['missing name', { ...valid, name: undefined }],
    ['missing ipam', { ...valid, ipam: undefined }],
    ['bad subnet', { ...valid, ipam: { ...valid.ipam, subnet: '10.250.0.0' } }],
    ['subnet with host bits', { ...valid, ipam: { ...valid.ipam, subnet: '10.250.0.5/24' } }],
    ['gateway outside subnet', { ...valid, ipam: { ...valid.ipam, gateway: '10.251.0.1' } }],
    ['relative dataDir', { ...valid, ipam: { ...valid.ipam, dataDir: 'ipam' } }],
    ['subnet too small', { ...valid, ipam: { ...valid.ipam, subnet: '10.250.0.0/31', gateway: '10.250.0.0' } }],
  ])('reports %s as invalid network config (7)', (_label, config) => {
    expect(codeOf(() => parseNetworkConfig(JSON.stringify(config)))).toBe(CNI_ERROR_CODES.invalidNetworkConfig);
  });
});

describe('parseCniEnvironment', () => {
  const base = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc123', CNI_NETNS: '/var/run/netns/pod', CNI_IFNAME: 'eth0' };

  it('reads the CNI_* variables, including CNI_ARGS pairs and CNI_PATH', () => {
    expect(parseCniEnvironment({ ...base, CNI_ARGS: 'K8S_POD_NAME=web;K8S_POD_NAMESPACE=default', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' })).toEqual({
      command: 'ADD',
      containerId: 'abc123',
      netns: '/var/run/netns/pod',
      ifname: 'eth0',
      args: { K8S_POD_NAME: 'web', K8S_POD_NAMESPACE: 'default' },
      path: ['/opt/cni/bin', '/usr/lib/cni'],
    });
  });

  it.each([
    ['an unknown command', { ...base, CNI_COMMAND: 'FOO' }],
    ['a missing container id', { ...base, CNI_CONTAINERID: '' }],
    ['a too long ifname', { ...base, CNI_IFNAME: 'a-very-long-interface' }],
    ['a relative netns on ADD', { ...base, CNI_NETNS: 'pod' }],
    ['a malformed CNI_ARGS', { ...base, CNI_ARGS: 'novalue' }],
  ])('rejects %s as invalid environment (4)', (_label, env) => {
    expect(codeOf(() => parseCniEnvironment(env))).toBe(CNI_ERROR_CODES.invalidEnvironment);
  });

  it('lets DEL run without a netns (the namespace may already be gone)', () => {
    expect(parseCniEnvironment({ ...base, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns).toBe('');
  });

  it('needs nothing but the command for VERSION', () => {
    expect(parseCniEnvironment({ CNI_COMMAND: 'VERSION' }).command).toBe('VERSION');
  });
});
