import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { PodRuntimeInfo } from '@tendril/workloads';

const IP_BINARY = '/usr/sbin/ip';

/**
 * `tendril exec`: runs argv inside the pod's network namespace with this terminal's stdio, as
 * `kubectl exec` runs it in the container, and resolves with its exit code (128 + signal number
 * when a signal ended it, as shells report it). The command also gets the pod's POD_NAME,
 * NAMESPACE and POD_IP. A loopback pod shares the host's network namespace, so its command runs
 * on the host.
 */
export async function execInPod(pod: PodRuntimeInfo, argv: string[]): Promise<number> {
  if (argv.length === 0) throw new Error('you must specify at least one command for the container (tendril exec POD -- COMMAND [ARGS…])');
  if (pod.network === 'netns' && !pod.netns) {
    throw new Error(`pod ${pod.namespace}/${pod.name} has no network namespace yet (phase ${pod.phase}${pod.message ? `: ${pod.message}` : ''})`);
  }
  if (pod.netns && process.getuid?.() !== 0) {
    throw new Error(`entering the network namespace of pod ${pod.namespace}/${pod.name} needs root (setns); run tendril exec as root`);
  }
  const [command, args] = pod.netns ? [IP_BINARY, ['netns', 'exec', pod.netns, ...argv]] : [argv[0], argv.slice(1)];
  const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, ...pod.env } });
  // While the command runs, Ctrl-C belongs to it (it shares the terminal's process group): tendril waits for its exit code.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot run ${argv[0]}: ${err.message}`)));
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  } finally {
    process.off('SIGINT', ignore);
  }
}
