import { existsSync } from 'node:fs';
import { writeFile, readFile } from 'node:fs/promises';
import { LATEST_VERSION, SUPPORTED_VERSIONS, parseNetworkConfig, type NetworkConfig } from './config';
import { parseCniEnvironment, type CniInvocation } from './env';
import { CniError, CNI_ERROR_CODES } from './errors';
import { FileIpam } from './ipam';
import { IpCommandError, ip, ipInNetns, parseJson, type IpAddrInfo, type IpLink, type IpRoute } from './iproute2';
import { hostVethName, podVethTempName } from './naming';
import { buildAddResult, buildVersionResult, type CniAddResult } from './result';

/*
 * Wiring, modelled on Cilium's veth datapath (no bridge): the pod gets its address as a /32 plus an
 * on-link route to the gateway and a default route via it; the host routes each pod IP /32 to that
 * pod's host-side veth. For the pod's ARP query for the gateway we give every host-side veth the
 * gateway address as a /32, rather than relying on proxy_arp: proxy_arp only answers when the host
 * has a forwarding route to the gateway through another interface (it depends on ip_forward and the
 * host's default route), while a local /32 is answered by the veth itself, deterministically, and
 * makes pod -> gateway traffic land on the host, where the node proxy listens. The /32 adds no prefix
 * route, so sharing it across veths does not create conflicting subnet routes.
 */

function ipam(config: NetworkConfig): FileIpam {
  return new FileIpam(config.ipam.dataDir, config.name, config.ipam.subnet, config.ipam.gateway);
}

function datapathError(step: string, err: unknown): CniError {
  const details = err instanceof IpCommandError ? err.stderr.trim() : String(err);
  return new CniError(CNI_ERROR_CODES.datapathFailure, `failed to ${step}`, details);
}

async function deleteLinkIfPresent(name: string): Promise<void> {
  try {
    await ip(['link', 'del', name]);
  } catch (err) {
    if (!(err instanceof IpCommandError && err.notFound)) throw err;
  }
}

async function linkMac(netns: string | undefined, name: string): Promise<string> {
  const args = ['-j', 'link', 'show', 'dev', name];
  const out = netns ? await ipInNetns(netns, args) : await ip(args);
  const links = parseJson<IpLink[]>(out, `link ${name}`);
  const mac = links[0]?.address;
  if (!mac) throw new CniError(CNI_ERROR_CODES.datapathFailure, `link ${name} has no MAC address`);
  return mac;
}

/** Pod -> pod traffic crosses the host's routing table, so the host must forward (as the ptp plugin does). */
async function enableIpv4Forwarding(): Promise<void> {
  const file = '/proc/sys/net/ipv4/ip_forward';
  if ((await readFile(file, 'utf8')).trim() !== '1') await writeFile(file, '1');
}

export async function cmdAdd(inv: CniInvocation, config: NetworkConfig): Promise<CniAddResult> {
  if (!existsSync(inv.netns)) {
    throw new CniError(CNI_ERROR_CODES.containerUnknown, `network namespace ${inv.netns} does not exist`);
  }
  const store = ipam(config);
  const podIp = await store.allocate(inv.containerId, inv.ifname);
  const gw = config.ipam.gateway;
  const hostName = hostVethName(inv.containerId, inv.ifname);
  const tempName = podVethTempName(inv.containerId, inv.ifname);
  const steps: [string, () => Promise<unknown>][] = [
    // A repeated ADD for the same container starts over from a clean link (its address is kept).
    ['remove a stale host veth', () => deleteLinkIfPresent(hostName)],
    ['create the veth pair', () => ip(['link', 'add', hostName, 'type', 'veth', 'peer', 'name', tempName])],
    ['move the pod end into the namespace', () => ip(['link', 'set', tempName, 'netns', inv.netns])],
    ['rename the pod interface', () => ipInNetns(inv.netns, ['link', 'set', tempName, 'name', inv.ifname])],
    ['address the pod interface', () => ipInNetns(inv.netns, ['addr', 'add', `${podIp}/32`, 'dev', inv.ifname])],
    ['bring the pod interface up', () => ipInNetns(inv.netns, ['link', 'set', inv.ifname, 'up'])],
    ['add the on-link gateway route', () => ipInNetns(inv.netns, ['route', 'replace', `${gw}/32`, 'dev', inv.ifname, 'scope', 'link'])],
    ['add the default route', () => ipInNetns(inv.netns, ['route', 'replace', 'default', 'via', gw, 'dev', inv.ifname])],
    ['give the host veth the gateway address', () => ip(['addr', 'add', `${gw}/32`, 'dev', hostName])],
    ['bring the host veth up', () => ip(['link', 'set', hostName, 'up'])],
    ['route the pod address to its veth', () => ip(['route', 'replace', `${podIp}/32`, 'dev', hostName, 'scope', 'link'])],
    ['enable IPv4 forwarding', () => enableIpv4Forwarding()],
  ];
  try {
    for (const [step, action] of steps) {
      try {
        await action();
      } catch (err) {
        throw datapathError(step, err);
      }
    }
    return buildAddResult({
      cniVersion: config.cniVersion,
      hostInterface: { name: hostName, mac: await linkMac(undefined, hostName) },
      podInterface: { name: inv.ifname, mac: await linkMac(inv.netns, inv.ifname), sandbox: inv.netns },
      podAddress: `${podIp}/32`,
      gateway: gw,
    });
  } catch (err) {
    // Leave nothing half-wired: the runtime will retry ADD or call DEL, both of which expect a clean slate.
    await deleteLinkIfPresent(hostName).catch(() => undefined);
    await deleteLinkIfPresent(tempName).catch(() => undefined);
    await store.release(inv.containerId, inv.ifname).catch(() => undefined);
    throw err instanceof CniError ? err : datapathError('wire the pod', err);
  }
}

/** DEL: removes the veth (both ends go with it) and releases the address; anything already gone is fine. */
export async function cmdDel(inv: CniInvocation, config: NetworkConfig): Promise<void> {
  try {
    await deleteLinkIfPresent(hostVethName(inv.containerId, inv.ifname));
  } catch (err) {
    throw datapathError('delete the host veth', err);
  }
  await ipam(config).release(inv.containerId, inv.ifname);
}

/** CHECK: the interface, its address, the default route and the host side must all be as ADD left them. */
export async function cmdCheck(inv: CniInvocation, config: NetworkConfig): Promise<void> {
  const fail = (msg: string, details?: string): never => {
    throw new CniError(CNI_ERROR_CODES.checkFailed, msg, details);
  };
  if (!existsSync(inv.netns)) fail(`network namespace ${inv.netns} does not exist`);
  const allocation = await ipam(config).find(inv.containerId, inv.ifname);
  if (!allocation) return fail(`no address is allocated to ${inv.containerId}/${inv.ifname}`);
  const gw = config.ipam.gateway;
  const read = async <T>(what: string, netns: string | undefined, args: string[]): Promise<T> => {
    try {
      return parseJson<T>(netns ? await ipInNetns(netns, ['-j', ...args]) : await ip(['-j', ...args]), what);
    } catch (err) {
      return fail(`cannot read ${what}`, err instanceof IpCommandError ? err.stderr.trim() : String(err));
    }
  };
  const addrs = await read<{ addr_info: IpAddrInfo[]; operstate: string; flags: string[] }[]>(
    `interface ${inv.ifname}`, inv.netns, ['addr', 'show', 'dev', inv.ifname]);
  const podIf = addrs[0];
  if (!podIf) return fail(`interface ${inv.ifname} is missing in ${inv.netns}`);
  if (!podIf.flags.includes('UP')) fail(`interface ${inv.ifname} is down`);
  if (!podIf.addr_info.some((a) => a.family === 'inet' && a.local === allocation.address && a.prefixlen === 32)) {
    fail(`interface ${inv.ifname} lacks address ${allocation.address}/32`);
  }
  const routes = await read<IpRoute[]>('pod routes', inv.netns, ['route', 'show', 'default']);
  if (!routes.some((r) => r.gateway === gw && r.dev === inv.ifname)) fail(`default route via ${gw} dev ${inv.ifname} is missing`);
  const hostName = hostVethName(inv.containerId, inv.ifname);
  const hostRoutes = await read<IpRoute[]>('host routes', undefined, ['route', 'show', `${allocation.address}/32`]);
  if (!hostRoutes.some((r) => r.dev === hostName)) fail(`host route ${allocation.address}/32 dev ${hostName} is missing`);
}

function requestedVersion(stdin: string): string | undefined {
  try {
    const version = (JSON.parse(stdin) as { cniVersion?: unknown } | null)?.cniVersion;
    return typeof version === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

export interface CniOutcome {
  /** What to print on stdout (result, version info or error JSON); empty for DEL/CHECK success. */
  stdout: string;
  exitCode: number;
}

/**
 * Runs one CNI invocation as the spec describes it: env vars select the command, stdin carries the
 * network config, stdout carries the result or the error JSON, the exit code says which.
 */
export async function runCni(env: NodeJS.ProcessEnv, stdin: string): Promise<CniOutcome> {
  // Errors answer in the caller's version whenever the config names one we speak, even if it is otherwise invalid.
  let cniVersion = requestedVersion(stdin) ?? LATEST_VERSION;
  try {
    const inv = parseCniEnvironment(env);
    if (inv.command === 'VERSION') return { stdout: JSON.stringify(buildVersionResult()), exitCode: 0 };
    const config = parseNetworkConfig(stdin);
    cniVersion = config.cniVersion;
    switch (inv.command) {
      case 'ADD':
        return { stdout: JSON.stringify(await cmdAdd(inv, config)), exitCode: 0 };
      case 'DEL':
        await cmdDel(inv, config);
        return { stdout: '', exitCode: 0 };
      case 'CHECK':
        await cmdCheck(inv, config);
        return { stdout: '', exitCode: 0 };
      default:
        throw new CniError(CNI_ERROR_CODES.invalidEnvironment, `CNI_COMMAND ${inv.command} is not supported by tendril-cni`);
    }
  } catch (err) {
    const error = err instanceof CniError ? err : new CniError(CNI_ERROR_CODES.ioFailure, 'unexpected failure', String(err));
    return { stdout: JSON.stringify(error.toResult(cniVersion)), exitCode: 1 };
  }
}
