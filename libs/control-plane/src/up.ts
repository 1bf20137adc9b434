import * as path from 'node:path';
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
  const supervisor = new Supervisor({ write });
  const agent = entryPointCommand('agent');
  const proxy = entryPointCommand('proxy');
  supervisor.start({
    name: 'agent',
    command: agent.command,
    args: [...agent.args, '--config', configDir, '--xds-address', opts.xdsAddress, '--admin-address', opts.adminAddress],
    env: agent.env,
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
