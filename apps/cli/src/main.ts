import { Command, Option } from 'commander';
import type { AgentStatus, ListedObject } from '@tendril/control-plane';

// Commands load their libraries when they run, so `tendril echo` (started once per pod) does not
// pay for the control plane's start-up.
// require (not import()) so the workspace path aliases resolve under tsx's CommonJS loader.
const controlPlane = (): typeof import('@tendril/control-plane') => require('@tendril/control-plane');

const program = new Command('tendril').description('Tendril: a sidecar-free service mesh. Gateway API and network policy on one node proxy.');

program
  .command('up')
  .description('run the agent and the node proxy on this machine, serving the resources in a directory')
  .option('--config <dir>', 'directory of Kubernetes YAML to serve', 'examples/quickstart')
  .option('--xds-address <host:port>', 'where the agent serves xDS', '127.0.0.1:18000')
  .option('--admin-address <host:port>', "the agent's admin API (tendril status/get)", '127.0.0.1:9878')
  .option('--proxy-admin-address <host:port>', "the node proxy's admin API", '127.0.0.1:9901')
  .addOption(new Option('--xds-protocol <protocol>', 'xDS variant the proxy uses').choices(['sotw', 'delta']).default('delta'))
  .action(async (opts) => {
    const { runUp } = controlPlane();
    process.exitCode = await runUp({
      configDir: opts.config,
      xdsAddress: opts.xdsAddress,
      adminAddress: opts.adminAddress,
      proxyAdminAddress: opts.proxyAdminAddress,
      xdsProtocol: opts.xdsProtocol,
    });
  });

program
  .command('status')
  .description('components, per-node xDS versions, last ACK/NACK')
  .option('--agent <host:port>', "the agent's admin API")
  .option('-o, --output <format>', 'json for the raw document')
  .action(async (opts) => {
    const { agentAdminAddress, formatStatus, getFromAgent } = controlPlane();
    const status = await getFromAgent<AgentStatus>(agentAdminAddress(opts.agent), '/api/v1/status');
    process.stdout.write(opts.output === 'json' ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
  });

program
  .command('get')
  .description('list resources with their status, as kubectl would (gatewayclasses, gateways, httproutes, grpcroutes, referencegrants, services, endpointslices, pods, …)')
  .argument('<kind>', 'resource kind, plural or short name')
  .argument('[name]', 'one object by name')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .option('-A, --all-namespaces', 'across all namespaces')
  .addOption(new Option('-o, --output <format>').choices(['yaml', 'json']))
  .option('--agent <host:port>', "the agent's admin API")
  .action(async (kindName: string, name: string | undefined, opts) => {
    const { agentAdminAddress, formatObjects, getFromAgent, isClusterScopedKind, resolveKind } = controlPlane();
    const kind = resolveKind(kindName);
    if (!kind) throw new Error(`the server doesn't have a resource type "${kindName}"`);
    const query = new URLSearchParams({ kind });
    const namespaced = !isClusterScopedKind(kind);
    if (namespaced && !opts.allNamespaces) query.set('namespace', opts.namespace);
    const { items } = await getFromAgent<{ items: ListedObject[] }>(agentAdminAddress(opts.agent), `/api/v1/resources?${query}`);
    const selected = name ? items.filter((o) => o.metadata.name === name) : items;
    if (name && selected.length === 0) throw new Error(`${kind.toLowerCase()}s "${name}" not found`);
    process.stdout.write(formatObjects(selected, opts.output ?? 'table', { allNamespaces: namespaced && !!opts.allNamespaces, now: new Date() }));
  });

program
  .command('echo')
  .description('an echo backend answering JSON with method, path, host, protocol, headers, namespace and pod')
  .option('--port <port>', 'port (default: $HTTP_PORT or 3000)')
  .option('--host <address>', 'address to bind (default: $POD_IP or 0.0.0.0)')
  .action(async (opts) => {
    const { startEchoServer } = require('@tendril/testing') as typeof import('@tendril/testing');
    const port = Number(opts.port ?? process.env['HTTP_PORT'] ?? 3000);
    const host = opts.host ?? process.env['POD_IP'] ?? '0.0.0.0';
    const server = await startEchoServer({ port, host });
    process.stdout.write(`echo server listening on ${server.host}:${server.port}\n`);
    const stop = (): void => void server.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

const conformance = program.command('conformance').description('Gateway API conformance, without a cluster');
conformance
  .command('run')
  .description('run upstream Gateway API conformance tests against tendril (needs ../shared/gateway-api beside the repository)')
  .option('--run-test <name...>', 'run only these tests (default: every test tendril supports)')
  .option('--suite-dir <dir>', 'the upstream conformance directory (base/, tests/, inventory.json beside it)')
  .option('--report <file>', 'write the upstream-format ConformanceReport (YAML) for the GATEWAY-HTTP profile')
  .action(async (opts) => {
    const { DEFAULT_SUITE_DIR, SUPPORTED_GATEWAY_HTTP_TESTS, Suite, conformanceReportYaml, runConformanceTests } = require('@tendril/conformance') as typeof import('@tendril/conformance');
    const suite = new Suite(opts.suiteDir ?? DEFAULT_SUITE_DIR);
    if (!suite.available) throw new Error(`no Gateway API conformance suite at ${suite.dir}`);
    const tests: string[] = opts.runTest ?? [...SUPPORTED_GATEWAY_HTTP_TESTS];
    const results = await runConformanceTests({ tests, suiteDir: suite.dir });
    const width = Math.max(...results.map((r) => r.name.length));
    for (const r of results) {
      process.stdout.write(`${r.name.padEnd(width)}  ${r.outcome.toUpperCase().padEnd(7)}  ${(r.durationMs / 1000).toFixed(1)}s\n`);
      for (const f of r.failures) process.stdout.write(`    ${f}\n`);
    }
    const count = (o: string): number => results.filter((r) => r.outcome === o).length;
    process.stdout.write(`conformance: ${count('passed')} passed, ${count('failed')} failed, ${count('not-run')} not run\n`);
    if (opts.report) {
      const yaml = conformanceReportYaml({ results, suite, supportedTests: SUPPORTED_GATEWAY_HTTP_TESTS, profiles: ['GATEWAY-HTTP'], date: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
      require('node:fs').writeFileSync(opts.report, yaml);
      process.stdout.write(`report written to ${opts.report}\n`);
    }
    process.exitCode = count('failed') > 0 ? 1 : 0;
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`Error: ${err.message}\n`);
  process.exit(1);
});
