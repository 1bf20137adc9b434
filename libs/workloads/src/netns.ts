import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';

/*
 * Named network namespaces (the ones `ip netns add` mounts under /run/netns), managed with iproute2
 * through execFile: Node has no setns()/unshare() API, and `ip netns` is what the CNI plugin and
 * operators already use to look at the same namespaces. Every helper takes the name, never a shell.
 */
const run = promisify(execFile);
export const IP_BINARY = '/usr/sbin/ip';
export const NETNS_DIR = '/run/netns';

async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(IP_BINARY, args, { timeout: 10_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** The path CNI_NETNS names for a namespace created by createNetns. */
export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

/** Creates the named namespace and brings its loopback up (what containerd's loopback plugin does for a pod). */
export async function createNetns(name: string): Promise<void> {
  await ip(['netns', 'add', name]);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Names of the named namespaces that start with prefix. */
export async function listNetns(prefix: string): Promise<string[]> {
  try {
    return (await readdir(NETNS_DIR)).filter((n) => n.startsWith(prefix)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** PIDs of every process whose network namespace is this one (`ip netns pids`); none when it is gone. */
export async function netnsPids(name: string): Promise<number[]> {
  try {
    return (await ip(['netns', 'pids', name])).split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
  } catch {
    return [];
  }
}

/**
 * Kills every process in the namespace: SIGTERM, then SIGKILL for those still there after graceMs.
 * A pod's process may have started children (a shell script, a supervisor): they all live in the
 * pod's namespace, so this reaches them too, as a container runtime's cgroup kill would.
 */
export async function killNetnsProcesses(name: string, graceMs: number): Promise<void> {
  const signal = (pids: number[], sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // Already gone.
      }
    }
  };
  let pids = await netnsPids(name);
  if (pids.length === 0) return;
  signal(pids, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    pids = await netnsPids(name);
    if (pids.length === 0) return;
  }
  signal(pids, 'SIGKILL');
}

/** Removes the namespace's name; absent is fine (deletion is idempotent). */
export async function deleteNetns(name: string): Promise<void> {
  try {
    await ip(['netns', 'del', name]);
  } catch (err) {
    if (!/No such file or directory|Cannot remove namespace file/.test((err as Error).message)) throw err;
  }
}

/** argv that runs command inside the namespace (setns through `ip netns exec`, which then execs the command). */
export function inNetns(name: string, command: string, args: string[]): { command: string; args: string[] } {
  return { command: IP_BINARY, args: ['netns', 'exec', name, command, ...args] };
}
