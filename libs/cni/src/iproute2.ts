import { execFile } from 'node:child_process';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';
import { CniError, CNI_ERROR_CODES } from './errors';

/*
 * Links, addresses and routes are programmed with iproute2 through execFile (no shell, arguments
 * passed as an array). Node has no netlink API, and a hand-written netlink client would be a large,
 * root-only surface to maintain; `ip` is the tool the kernel's networking maintainers ship alongside
 * the kernel, and its `-j` JSON output gives us a stable, parseable read side.
 */
const run = promisify(execFile);
export const IP_BINARY = '/usr/sbin/ip';
const NSENTER_BINARY = '/usr/bin/nsenter';
const NAMED_NETNS_DIRS = ['/var/run/netns', '/run/netns'];

export class IpCommandError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
  ) {
    super(`ip ${args.join(' ')} failed: ${stderr.trim()}`);
    this.name = 'IpCommandError';
  }

  /** iproute2 reports absent links and namespaces with these messages. */
  get notFound(): boolean {
    return /Cannot find device|does not exist|No such file or directory|Cannot open network namespace/i.test(this.stderr);
  }
}

async function exec(file: string, args: string[], displayArgs: string[]): Promise<string> {
  try {
    const { stdout } = await run(file, args, { timeout: 10_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new IpCommandError(displayArgs, e.stderr || e.message);
  }
}

/** Runs `ip ARGS` in the host namespace. */
export function ip(args: string[]): Promise<string> {
  return exec(IP_BINARY, args, args);
}

/**
 * Runs `ip ARGS` inside the namespace at netnsPath. Named namespaces (/var/run/netns/NAME) use
 * `ip -n NAME`; `ip -n` only accepts names, so other paths (e.g. /proc/PID/ns/net, which a kubelet
 * may pass) go through nsenter.
 */
export function ipInNetns(netnsPath: string, args: string[]): Promise<string> {
  if (NAMED_NETNS_DIRS.includes(dirname(netnsPath))) {
    const full = ['-n', basename(netnsPath), ...args];
    return exec(IP_BINARY, full, full);
  }
  return exec(NSENTER_BINARY, [`--net=${netnsPath}`, IP_BINARY, ...args], ['(nsenter)', netnsPath, ...args]);
}

export interface IpLink {
  ifname: string;
  address: string;
  operstate: string;
  flags: string[];
}

export interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
}

export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

export function parseJson<T>(stdout: string, what: string): T {
  try {
    return JSON.parse(stdout === '' ? '[]' : stdout) as T;
  } catch (err) {
    throw new CniError(CNI_ERROR_CODES.datapathFailure, `cannot parse ip -j output for ${what}`, String(err));
  }
}
