import { Command } from 'commander';
import pino from 'pino';
import { Agent, DEFAULT_CONTROLLER_NAME } from '@tendril/control-plane';
import { FQDN_FLAGS, fqdnOptionsFromFlags, parseDnsRejectResponseCode, type DnsRejectResponseCode, type FqdnCacheOptions } from '@tendril/endpoints';

const program = new Command('tendril-agent')
  .description('tendril control plane: resources from a directory → Gateway API translation → xDS for the node proxy')
  .requiredOption('--config <dir>', 'directory of Kubernetes YAML to serve')
  .option('--xds-address <host:port>', 'xDS (ADS) gRPC server address', '127.0.0.1:18000')
  .option('--admin-address <host:port>', 'admin API address', '127.0.0.1:9878')
  .option('--controller-name <name>', 'GatewayClass controllerName this agent owns', DEFAULT_CONTROLLER_NAME)
  .option('--first-pod-ip <ip>', 'first loopback address handed to local pods', '127.11.0.1')
  .option('--no-workloads', 'do not run the Deployments and Pods of the config directory')
  .option('--bpf-pin-dir <dir>', 'where the eBPF datapath pins its programs and maps (netns pods as root)', '/sys/fs/bpf/tendril')
  .option('--proxy-use-nphds', 'the node proxy resolves identities from NPHDS (the ipcache sent over xDS) instead of the pinned BPF ipcache', false);
for (const { flag, description, default: value } of Object.values(FQDN_FLAGS)) program.option(flag, description, value);
program.option('--tofqdns-dns-reject-response-code <code>', 'what a DNS query the policy denies gets: refused or nameError (NXDOMAIN)', 'refused');
program.parse();

const opts = program.opts();
const logger = pino({ name: 'agent', base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
/** A malformed toFQDNs flag ends the agent with the flag's name in the message, before anything starts. */
function fqdnOptions(): FqdnCacheOptions {
  try {
    return fqdnOptionsFromFlags(opts);
  } catch (err) {
    return program.error((err as Error).message);
  }
}
const fqdn = fqdnOptions();

function dnsRejectResponseCode(): DnsRejectResponseCode {
  try {
    return parseDnsRejectResponseCode(opts.tofqdnsDnsRejectResponseCode);
  } catch (err) {
    return program.error((err as Error).message);
  }
}
const agent = new Agent({
  configDir: opts.config,
  xdsAddress: opts.xdsAddress,
  adminAddress: opts.adminAddress,
  controllerName: opts.controllerName,
  runWorkloads: opts.workloads,
  firstPodIp: opts.firstPodIp,
  datapath: { pinDir: opts.bpfPinDir },
  proxyUsesNphds: opts.proxyUseNphds === true,
  fqdn,
  dnsRejectResponseCode: dnsRejectResponseCode(),
  logger,
});

agent.start().catch((err: Error) => {
  logger.error({ err: err.message }, 'agent failed to start');
  process.exit(1);
});

const stop = (signal: string): void => {
  logger.info({ signal }, 'stopping');
  agent.stop().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
