import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CNI_ERROR_CODES, CniError, FileIpam, assignableAddresses, parseSubnet } from '../src';

describe('assignableAddresses', () => {
  it('skips the network, broadcast and gateway addresses', () => {
    expect(assignableAddresses(parseSubnet('10.250.3.0/29'), '10.250.3.1')).toEqual([
      '10.250.3.2',
      '10.250.3.3',
      '10.250.3.4',
      '10.250.3.5',
      '10.250.3.6',
    ]);
  });
});

describe('FileIpam', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tendril-cni-ipam-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  const small = () => new FileIpam(dataDir, 'net', parseSubnet('10.250.9.0/30'), '10.250.9.1');

  it('hands out distinct addresses and records the owner in one file per address', async () => {
    const ipam = new FileIpam(dataDir, 'net', parseSubnet('10.250.9.0/24'), '10.250.9.1');
    expect(await ipam.allocate('c1', 'eth0')).toBe('10.250.9.2');
    expect(await ipam.allocate('c2', 'eth0')).toBe('10.250.9.3');
    expect((await readdir(join(dataDir, 'net'))).sort()).toEqual(['10.250.9.2', '10.250.9.3']);
    expect(await readFile(join(dataDir, 'net', '10.250.9.3'), 'utf8')).toBe('c2\neth0\n');
  });

  it('returns the same address when the same container asks again', async () => {
    const ipam = small();
    const first = await ipam.allocate('c1', 'eth0');
    expect(await ipam.allocate('c1', 'eth0')).toBe(first);
  });

  it('fails with the exhaustion code when no address is left', async () => {
    const ipam = small();
    // A /30 with a gateway leaves exactly one pod address.
    expect(await ipam.allocate('c1', 'eth0')).toBe('10.250.9.2');
    const err = await ipam.allocate('c2', 'eth0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(CNI_ERROR_CODES.addressesExhausted);
  });

  it('releases an address so it can be reused, and releasing twice is harmless', async () => {
    const ipam = small();
    const a = await ipam.allocate('c1', 'eth0');
    expect(await ipam.release('c1', 'eth0')).toBe(a);
    expect(await ipam.release('c1', 'eth0')).toBeUndefined();
    expect(await ipam.allocate('c3', 'eth0')).toBe(a);
  });

  it('never gives one address to two concurrent allocations', async () => {
    const ipam = new FileIpam(dataDir, 'net', parseSubnet('10.250.9.0/24'), '10.250.9.1');
    const addresses = await Promise.all(Array.from({ length: 20 }, (_, i) => ipam.allocate(`c${i}`, 'eth0')));
    expect(new Set(addresses).size).toBe(20);
  });
});
