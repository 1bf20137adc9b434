import { CniError, CNI_ERROR_CODES } from './errors';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';
const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'];

export interface CniInvocation {
  command: CniCommand;
  containerId: string;
  /** Path of the pod's network namespace, e.g. /var/run/netns/NAME; may be empty on DEL. */
  netns: string;
  ifname: string;
  /** CNI_ARGS as key/value pairs (K1=V1;K2=V2). */
  args: Record<string, string>;
  path: string[];
}

function envError(msg: string): CniError {
  return new CniError(CNI_ERROR_CODES.invalidEnvironment, msg);
}

/** Reads the CNI_* variables a runtime (kubelet, containerd) sets; which are required depends on the command. */
export function parseCniEnvironment(env: NodeJS.ProcessEnv): CniInvocation {
  const command = env['CNI_COMMAND'] ?? '';
  if (!COMMANDS.includes(command)) {
    throw envError(`CNI_COMMAND must be one of ${COMMANDS.join(', ')}, got "${command}"`);
  }
  const containerId = env['CNI_CONTAINERID'] ?? '';
  const netns = env['CNI_NETNS'] ?? '';
  const ifname = env['CNI_IFNAME'] ?? '';
  const needsContainer = command === 'ADD' || command === 'DEL' || command === 'CHECK';
  if (needsContainer) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId)) {
      throw envError('CNI_CONTAINERID must be set to alphanumerics, "_", "." or "-"');
    }
    if (ifname === '' || ifname.length > 15 || /[\s/:]/.test(ifname)) {
      throw envError('CNI_IFNAME must be a valid interface name (1-15 chars, no spaces, "/" or ":")');
    }
    // DEL may come after the namespace is gone, and the spec lets the runtime omit it then.
    if (command !== 'DEL' && !netns.startsWith('/')) {
      throw envError('CNI_NETNS must be the absolute path of the network namespace');
    }
  }
  const args: Record<string, string> = {};
  for (const pair of (env['CNI_ARGS'] ?? '').split(';').filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw envError(`CNI_ARGS entry "${pair}" is not KEY=VALUE`);
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const path = (env['CNI_PATH'] ?? '').split(':').filter((p) => p !== '');
  return { command: command as CniCommand, containerId, netns, ifname, args, path };
}
