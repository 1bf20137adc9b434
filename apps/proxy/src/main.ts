import * as v8 from 'node:v8';
import { Command, Option } from 'commander';
import pino from 'pino';
import { DEFAULT_PIN_DIR, proxyDatapathAccess } from '@tendril/datapath';
import { runtimeNodeProxy } from '@tendril/node-proxy';
import { ProxyRuntime } from '@tendril/proxy';

// The proxy is one thread on a node whose cores are busy with the workloads it serves. V8's parallel
// scavenges hand work to helper threads and the main thread waits for them; when they cannot get
// a core at once, every young-generation GC stalls all requests in flight (the data-plane bench
// measured fewer requests/s, a worse p99 and more system CPU per request from the futex hand-offs).
// Young-generation GCs done on the main thread alone finish sooner on a loaded machine. (Only the
// scavenger's flag can change at run time: --single-threaded-gc would also stop concurrent marking,
// which V8 aborts on once the heap is set up.)
v8.setFlagsFromString('--no-parallel-scavenge');

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
