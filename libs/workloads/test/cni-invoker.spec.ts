import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CniInvocationError, CniInvoker, NetnsPodNetwork, createNetns, deleteNetns, netnsPath } from '../src';
import { CNI_PLUGIN, IP, ipamAddresses, isRoot, linkExists, sh, uniqueTestNetwork } from './netns-harness';

const config = { cniVersion: '1.0.0', name: 'unit', type: 'tendril-cni', ipam: { subnet: '10.9.0.0/24', gateway: '10.9.0.1', dataDir: '/tmp/x' } };

describe('CniInvoker', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tendril-cni-invoker-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in plugin that records its environment and stdin, and answers with the given output and exit code. */
  function fakePlugin(name: string, stdout: string, exitCode: number): string {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\nenv | grep '^CNI_' | sort > "${file}.env"\ncat > "${file}.stdin"\nprintf '%s' '${stdout}'\nexit ${exitCode}\n`);
    chmodSync(file, 0o755);
    return file;
  }

  it('passes the command and attachment in CNI_* variables and the configuration on stdin', async () => {
    const plugin = fakePlugin('ok', '', 0);
    await new CniInvoker(plugin, config).del({ containerId: 'tdl-1-web', netns: '/run/netns/tdl-1-web', ifname: 'eth0', args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'web' } });
    expect(readFileSync(`${plugin}.env`, 'utf8').trim().split('\n')).toEqual([
      'CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web',
      'CNI_COMMAND=DEL',
      'CNI_CONTAINERID=tdl-1-web',
      'CNI_IFNAME=eth0',
      'CNI_NETNS=/run/netns/tdl-1-web',
      `CNI_PATH=${dir}`,
    ]);
    expect(JSON.parse(readFileSync(`${plugin}.stdin`, 'utf8'))).toEqual(config);
  });

  it("turns the plugin's error JSON into an error naming its message and code", async () => {
    const plugin = fakePlugin('fails', '{"cniVersion":"1.0.0","code":100,"msg":"no free address left in 10.9.0.0/24"}', 1);
    const failure = new CniInvoker(plugin, config).add({ containerId: 'c', netns: '/run/netns/c', ifname: 'eth0' });
    await expect(failure).rejects.toThrow('CNI ADD failed: no free address left in 10.9.0.0/24 [code 100]');
    await expect(failure).rejects.toBeInstanceOf(CniInvocationError);
  });

  it('reports a plugin that crashes without error JSON by what it printed', async () => {
    const plugin = fakePlugin('crashes', 'segfault', 2);
    await expect(new CniInvoker(plugin, config).check({ containerId: 'c', netns: '/run/netns/c', ifname: 'eth0' })).rejects.toThrow('CNI CHECK failed: segfault');
  });

  it('reports a missing plugin executable', async () => {
    await expect(new CniInvoker(path.join(dir, 'absent'), config).add({ containerId: 'c', netns: '/run/netns/c', ifname: 'eth0' })).rejects.toThrow(/CNI ADD failed: .*ENOENT/);
  });
});

if (!isRoot) console.warn('tendril-cni through CniInvoker skipped: creating network namespaces and veths needs root');

(isRoot ? describe : describe.skip)('tendril-cni called the way PodRunner calls it (needs root)', () => {
  jest.setTimeout(30_000);
  const { namePrefix, podCidr, octets } = uniqueTestNetwork('cni');
  const ipamDataDir = mkdtempSync(path.join(tmpdir(), 'tendril-cni-invoker-ipam-'));
  const network = new NetnsPodNetwork({ cniPlugin: CNI_PLUGIN, namePrefix, podCidr, ipamDataDir, networkName: 'invoker' });
  const name = `${namePrefix}1-probe`;
  const attachment = { containerId: name, netns: netnsPath(name), ifname: 'eth0', args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'probe' } };

  beforeAll(() => createNetns(name));
  afterAll(async () => {
    await network.invoker.del(attachment).catch(() => undefined);
    await deleteNetns(name);
    rmSync(ipamDataDir, { recursive: true, force: true });
  });

  it('ADD wires the namespace and answers with the pod interface, its address and the default route', async () => {
    const result = await network.invoker.add(attachment);
    expect(result).toMatchObject({
      cniVersion: '1.0.0',
      interfaces: [{ name: expect.stringMatching(/^tdr/) }, { name: 'eth0', sandbox: netnsPath(name) }],
      ips: [{ address: `10.${octets}.2/32`, gateway: `10.${octets}.1`, interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: `10.${octets}.1` }],
    });
    const routes = JSON.parse(await sh(IP, ['-n', name, '-j', 'route', 'show', 'default'])) as Array<{ gateway: string; dev: string }>;
    expect(routes).toEqual([expect.objectContaining({ gateway: `10.${octets}.1`, dev: 'eth0' })]);
  });

  it('CHECK passes on the wired pod', async () => {
    await expect(network.invoker.check(attachment)).resolves.toBeUndefined();
  });

  it('DEL removes the veth and releases the address; CHECK then fails with the plugin error', async () => {
    const hostVeth = (await network.invoker.add(attachment)).interfaces[0]!.name;
    await network.invoker.del(attachment);
    expect(linkExists(hostVeth)).toBe(false);
    expect(ipamAddresses(ipamDataDir, 'invoker')).toEqual([]);
    await expect(network.invoker.check(attachment)).rejects.toThrow(`CNI CHECK failed: no address is allocated to ${name}/eth0 [code 102]`);
  });
});
