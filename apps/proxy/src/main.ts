import { Command, Option } from 'commander';
import pino from 'pino';
import { DEFAULT_PIN_DIR, proxyDatapathAccess } from '@tendril/datapath';
import { runtimeNodeProxy } from '@tendril/node-proxy';
import { ProxyRuntime } from '@tendril/proxy';

const program = new Command('tendril-proxy')
  .description("tendril's node proxy: serves the Listeners, Routes, Clusters and Endpoints the agent sends over xDS")
  .option('--xds-address <host:port>', "the agent's xDS server", '127.0.0.1:18000')
  .option('--node-id <id>', 'xDS node id', 'tendril-node')
  .option('--admin-address <host:port>', 'admin endpoint (/ready, /config_dump, /stats)', '127.0.0.1:9901')
  .addOption(new Option('--xds-protocol <protocol>', 'State-of-the-World or Delta xDS').choices(['sotw', 'delta']).default('delta'))
  .option('--bpf-root <dir>', "the eBPF datapath's pinned maps, read by the transparent L7 redirect listeners (root only)", DEFAULT_PIN_DIR)
  .parse();

const opts = program.opts();
const logger = pino({ name: 'proxy', base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
// As root the proxy can serve the transparent listeners the datapath steers L7 traffic to; without
// root a Listener with transparent: true is refused (NACK) with the reason.
const transparentNetwork = process.getuid?.() === 0 ? proxyDatapathAccess(opts.bpfRoot as string) : undefined;
const runtime = new ProxyRuntime({ logger, transparentNetwork });
const proxy = runtimeNodeProxy({
  xdsAddress: opts.xdsAddress as string,
  runtime,
  logger,
  nodeId: opts.nodeId as string,
  protocol: opts.xdsProtocol as 'sotw' | 'delta',
  adminAddress: opts.adminAddress as string,
  afterClose: () => transparentNetwork?.close(),
});

proxy.start().catch((err: Error) => {
  logger.error({ err: err.message }, 'proxy failed to start');
  process.exit(1);
});

const stop = (signal: string): void => {
  logger.info({ signal }, 'stopping: draining listeners');
  proxy.stop().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
