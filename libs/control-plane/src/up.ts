import * as path from 'node:path';
import { DEFAULT_POD_CIDR, POD_CIDR_ENV, POD_NETWORK_ENV, defaultPodNetworkMode, validatedPodCidr, type PodNetworkMode } from '@tendril/workloads';
import { getFromAgent, waitForHttpOk } from './admin-client';
import { curlExamples } from './curl-examples';
import { entryPointCommand } from './entry-points';
import type { ListedObject } from './kubectl-format';
import { Supervisor } from './supervisor';

export interface UpOptions {
  configDir: string;
  xdsAddress: string;
  adminAddress: string;
  proxyAdminAddress: string;
  xdsProtocol: 'sotw' | 'delta';
  nodeId?: string;
  /** How pods are networked; auto (the default) picks netns when running as root, loopback otherwise. */
  podNetwork?: PodNetworkMode | 'auto';
  /** The node's PodCIDR for netns pods (default 10.244.0.0/24). */
  podCidr?: string;
  /** Effective user id, for the netns decision; defaults to this process's. */
  uid?: number;
  /** Where to print; defaults to stdout. */
  write?: (line: string) => void;
}

/**
 * `tendril up`: runs the agent and the node proxy as child processes with prefixed logs, prints
 * curl commands for the routes it serves, and stops everything on Ctrl-C / SIGTERM. Resolves with
 * the exit code.
 */
export async function runUp(opts: UpOptions): Promise<number> {
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const configDir = path.resolve(opts.configDir);
  let podEnv: Record<string, string>;
  try {
    podEnv = podNetworkEnvironment(opts, write);
  } catch (err) {
    write(`[up]      ${(err as Error).message}`);
    return 2;
  }
  // The agent removes every pod's namespace, veth and address on SIGTERM (a CNI DEL per pod): give it time.
  const supervisor = new Supervisor({ write, stopTimeoutMs: podEnv[POD_NETWORK_ENV] === 'netns' ? 20_000 : undefined });
  const agent = entryPointCommand('agent');
  const proxy = entryPointCommand('proxy');
  supervisor.start({
    name: 'agent',
    command: agent.command,
    args: [...agent.args, '--config', configDir, '--xds-address', opts.xdsAddress, '--admin-address', opts.adminAddress],
    env: { ...agent.env, ...podEnv },
  });
  supervisor.start({
    name: 'proxy',
    command: proxy.command,
    args: [...proxy.args, '--xds-address', opts.xdsAddress, '--admin-address', opts.proxyAdminAddress, '--xds-protocol', opts.xdsProtocol, '--node-id', opts.nodeId ?? 'tendril-node'],
    env: proxy.env,
  });

  let stopRequested: (signal: string) => void = () => undefined;
  const stopSignal = new Promise<string>((resolve) => (stopRequested = resolve));
  const onSignal = (signal: NodeJS.Signals): void => stopRequested(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const ready = (async () => {
    await waitForHttpOk(`http://${opts.adminAddress}/healthz`, 30_000);
    await waitForHttpOk(`http://${opts.proxyAdminAddress}/ready`, 30_000);
    const [gateways, routes] = await Promise.all(
      ['Gateway', 'HTTPRoute'].map((kind) => getFromAgent<{ items: ListedObject[] }>(opts.adminAddress, `/api/v1/resources?kind=${kind}`).then((r) => r.items)),
    );
    write('');
    write(`tendril is up: agent admin on ${opts.adminAddress}, xDS on ${opts.xdsAddress}, proxy admin on ${opts.proxyAdminAddress}.`);
    write(`Serving ${configDir}. Try:`);
    for (const c of curlExamples(gateways, routes)) write(`  ${c}`);
    write('  npx tendril status');
    write('  npx tendril get httproutes -A');
    write('  npx tendril get pods -o wide');
    write('  npx tendril get endpoints');
    write('  npx tendril exec POD -- COMMAND');
    if (podEnv[POD_NETWORK_ENV] === 'netns') {
      write('  npx tendril get identities');
      write('  npx tendril bpf policy get POD');
      write('  npx tendril bpf ipcache list');
      write('  npx tendril bpf lb list');
    }
    write('Press Ctrl-C to stop.');
    write('');
  })();
  ready.catch((err: Error) => write(`[up]      ${err.message}`));

  const outcome = await Promise.race([
    stopSignal.then((signal) => ({ kind: 'signal' as const, signal })),
    supervisor.firstUnexpectedExit().then((exit) => ({ kind: 'exit' as const, exit })),
  ]);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  write(outcome.kind === 'signal' ? `[up]      ${outcome.signal}: stopping` : `[up]      ${outcome.exit.name} stopped; stopping the rest`);
  await supervisor.stop();
  return outcome.kind === 'signal' ? 0 : 1;
}

/**
 * The pod network the agent's workload runner uses, passed in its environment: network namespaces
 * wired by the CNI plugin when we can create them (root), loopback addresses otherwise, with a
 * one-line notice so nobody wonders why pods share the host's network.
 */
export function podNetworkEnvironment(opts: Pick<UpOptions, 'podNetwork' | 'podCidr' | 'uid'>, write: (line: string) => void): Record<string, string> {
  const uid = opts.uid ?? process.getuid?.();
  const requested = opts.podNetwork ?? 'auto';
  const mode = requested === 'auto' ? defaultPodNetworkMode(uid) : requested;
  if (mode === 'loopback') {
    if (requested === 'auto') write('[up]      not running as root: pods run as processes on 127.11.x.y in the host network namespace (as root, each pod gets a network namespace of its own)');
    return { [POD_NETWORK_ENV]: 'loopback' };
  }
  if (uid !== 0) throw new Error('--pod-network netns needs root: creating network namespaces and veths is privileged');
  const podCidr = opts.podCidr ?? DEFAULT_POD_CIDR;
  validatedPodCidr(podCidr);
  write(`[up]      pods run in network namespaces (tdl-*) with addresses from ${podCidr}, wired by the tendril-cni plugin`);
  write('[up]      network policy is enforced in eBPF; programs and maps stay pinned under /sys/fs/bpf/tendril when tendril up stops (`tendril down` removes them)');
  return { [POD_NETWORK_ENV]: 'netns', [POD_CIDR_ENV]: podCidr };
}
