import { Command, Option } from 'commander';
import type { AgentStatus, EndpointView, ListedObject } from '@tendril/control-plane';
import type { DropMetricView, EndpointPolicyView, TracedPath, IdentityView, IpcacheView, ServiceView } from '@tendril/endpoints';

// Commands load their libraries when they run, so `tendril echo` (started once per pod) does not
// pay for the control plane's start-up.
// require (not import()) so the workspace path aliases resolve under tsx's CommonJS loader.
const controlPlane = (): typeof import('@tendril/control-plane') => require('@tendril/control-plane');
const endpointsLib = (): typeof import('@tendril/endpoints') => require('@tendril/endpoints');

/** `tendril get` names for the node's endpoints (cilium endpoint list), which are not a kubectl kind. */
const ENDPOINT_KIND_NAMES = ['endpoints', 'endpoint', 'ep', 'cep', 'ciliumendpoints'];
/** `tendril get` names for the node's security identities (cilium identity list). */
const IDENTITY_KIND_NAMES = ['identities', 'identity', 'id', 'ciliumidentities', 'ciliumidentity'];

/** Prints a document from the agent as JSON, or through a table formatter. */
function printView<T>(value: T, output: string | undefined, table: (v: T) => string): void {
  process.stdout.write(output === 'json' ? JSON.stringify(value, null, 2) + '\n' : table(value));
}

const program = new Command('tendril').description('Tendril: a sidecar-free service mesh. Gateway API and network policy on one node proxy.');

program
  .command('up')
  .description('run the agent and the node proxy on this machine, serving the resources in a directory')
  .option('--config <dir>', 'directory of Kubernetes YAML to serve', 'examples/quickstart')
  .option('--xds-address <host:port>', 'where the agent serves xDS', '127.0.0.1:18000')
  .option('--admin-address <host:port>', "the agent's admin API (tendril status/get)", '127.0.0.1:9878')
  .option('--proxy-admin-address <host:port>', "the node proxy's admin API", '127.0.0.1:9901')
  .addOption(new Option('--xds-protocol <protocol>', 'xDS variant the proxy uses').choices(['sotw', 'delta']).default('delta'))
  .addOption(
    new Option('--pod-network <mode>', 'netns: each pod in a network namespace of its own, wired by the CNI plugin (needs root); loopback: pods on 127.11.x.y in the host namespace; auto: netns when root')
      .choices(['auto', 'netns', 'loopback'])
      .default('auto'),
  )
  .option('--pod-cidr <cidr>', 'the node\'s PodCIDR, for netns pods', '10.244.0.0/24')
  .action(async (opts) => {
    const { runUp } = controlPlane();
    process.exitCode = await runUp({
      configDir: opts.config,
      xdsAddress: opts.xdsAddress,
      adminAddress: opts.adminAddress,
      proxyAdminAddress: opts.proxyAdminAddress,
      xdsProtocol: opts.xdsProtocol,
      podNetwork: opts.podNetwork,
      podCidr: opts.podCidr,
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
  .description(
    'list resources with their status, as kubectl would (gatewayclasses, gateways, httproutes, grpcroutes, referencegrants, services, endpointslices, pods, …), ' +
      "or this node's endpoints and security identities as cilium would (endpoints, identities)",
  )
  .argument('<kind>', 'resource kind, plural or short name')
  .argument('[name]', 'one object by name')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .option('-A, --all-namespaces', 'across all namespaces')
  .addOption(new Option('-o, --output <format>', 'wide adds columns (pods: IP, node)').choices(['wide', 'yaml', 'json']))
  .option('--agent <host:port>', "the agent's admin API")
  .action(async (kindName: string, name: string | undefined, opts, command: Command) => {
    const { agentAdminAddress, formatEndpoints, formatObjects, getFromAgent, isClusterScopedKind, resolveKind } = controlPlane();
    if (IDENTITY_KIND_NAMES.includes(kindName.toLowerCase())) {
      const { items } = await getFromAgent<{ items: IdentityView[] }>(agentAdminAddress(opts.agent), '/api/v1/identities');
      const selected = name ? items.filter((i) => String(i.id) === name) : items;
      if (name && selected.length === 0) throw new Error(`identity "${name}" not found`);
      printView(selected, opts.output, endpointsLib().formatIdentities);
      return;
    }
    if (ENDPOINT_KIND_NAMES.includes(kindName.toLowerCase())) {
      // Cilium's endpoints are the node's pods: listed from the agent's runtime view, not the resource store.
      // As `cilium endpoint list`: every endpoint of the node, unless -n names a namespace.
      const namespace = command.getOptionValueSource('namespace') === 'cli' && !opts.allNamespaces ? opts.namespace : undefined;
      const query = namespace === undefined ? '' : `?${new URLSearchParams({ namespace })}`;
      const { items: pods } = await getFromAgent<{ items: EndpointView[] }>(agentAdminAddress(opts.agent), `/api/v1/endpoints${query}`);
      const selected = name ? pods.filter((p) => p.name === name || String(p.endpointId) === name) : pods;
      if (name && selected.length === 0) throw new Error(`endpoint "${name}" not found`);
      process.stdout.write(formatEndpoints(selected, opts.output === 'wide' || !opts.output ? 'table' : opts.output));
      return;
    }
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
  .command('exec')
  .description("run a command inside a pod's network namespace, as kubectl exec would (exit code passed through)")
  .usage('POD [-n NS] -- COMMAND [ARGS…]')
  .argument('<pod>', 'pod name')
  .argument('<command...>', 'command and arguments (after --)')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .option('--agent <host:port>', "the agent's admin API")
  .action(async (podName: string, argv: string[], opts) => {
    const { agentAdminAddress, findLocalPod } = controlPlane();
    const { execInPod } = require('./exec-in-pod') as typeof import('./exec-in-pod');
    const pod = await findLocalPod(agentAdminAddress(opts.agent), opts.namespace, podName);
    process.exitCode = await execInPod(pod, argv);
  });

const bpf = program.command('bpf').description("the node's eBPF maps, as the agent's datapath holds them (cilium bpf …)");
bpf
  .command('policy')
  .description('policy maps')
  .command('get')
  .description("a pod's policy map entries: remote identity and its labels, direction, port/protocol, verdict, proxy port")
  .argument('<pod>', 'pod name')
  .option('-n, --namespace <ns>', 'namespace', 'default')
  .addOption(new Option('-o, --output <format>', 'json for the raw entries').choices(['json']))
  .option('--agent <host:port>', "the agent's admin API")
  .action(async (podName: string, opts) => {
    const { agentAdminAddress, getFromAgent } = controlPlane();
    const view = await getFromAgent<EndpointPolicyView>(agentAdminAddress(opts.agent), `/api/v1/bpf/policy?${new URLSearchParams({ namespace: opts.namespace, name: podName })}`);
    printView(view, opts.output, endpointsLib().formatEndpointPolicy);
  });
bpf
  .command('ipcache')
  .description('the ipcache: IP prefix → security identity')
  .command('list')
  .description('every ipcache entry with its identity and labels')
  .addOption(new Option('-o, --output <format>', 'json for the raw entries').choices(['json']))
  .option('--agent <host:port>', "the agent's admin API")
  .action(async (opts) => {
    const { agentAdminAddress, getFromAgent } = controlPlane();
    const { items } = await getFromAgent<{ items: IpcacheView[] }>(agentAdminAddress(opts.agent), '/api/v1/bpf/ipcache');
    printView(items, opts.output, endpointsLib().formatIpcache);
  });
bpf
  .command('lb')
  .description('the ClusterIP load balancer')
  .command('list')
  .description('every ClusterIP frontend with its backends')
  .addOption(new Option('-o, --output <format>', 'json for the raw entries').choices(['json']))
  .option('--agent <host:port>', "the agent's admin API")
  .action(async (opts) => {
    const { agentAdminAddress, getFromAgent } = controlPlane();
    const { items } = await getFromAgent<{ items: ServiceView[] }>(agentAdminAddress(opts.agent), '/api/v1/bpf/lb');
    printView(items, opts.output, endpointsLib().formatServices);
  });

bpf
  .command('metrics')
  .description("the datapath's drop counters")
  .command('list')
  .description('packets dropped, per reason (cilium bpf metrics list)')
  .addOption(new Option('-o, --output <format>', 'json for the raw counters').choices(['json']))
  .option('--agent <host:port>', "the agent's admin API")
  .action(async (opts) => {
    const { agentAdminAddress, getFromAgent } = controlPlane();
    const { items } = await getFromAgent<{ items: DropMetricView[] }>(agentAdminAddress(opts.agent), '/api/v1/bpf/metrics');
    printView(items, opts.output, endpointsLib().formatDropMetrics);
  });

program
  .command('down')
  .description('remove the eBPF datapath tendril up left pinned (programs, maps, filters, proxy routing): ends all enforcement (root)')
  .option('--pin-dir <dir>', 'where the datapath is pinned', '/sys/fs/bpf/tendril')
  .option('--cgroup <dir>', 'the cgroup v2 directory its ClusterIP load balancer is attached to (default: the cgroup v2 root)')
  .option('--agent <host:port>', "the agent's admin API, which must not answer (stop tendril up first)")
  .action(async (opts) => {
    const { agentAdminAddress, getFromAgent } = controlPlane();
    const address = agentAdminAddress(opts.agent);
    const running = await getFromAgent(address, '/api/v1/status').then(
      () => true,
      () => false,
    );
    if (running) throw new Error(`the tendril agent at ${address} is still running and would attach again: stop \`tendril up\` first`);
    const removed = await endpointsLib().removeNodeDatapath({ pinDir: opts.pinDir, ...(opts.cgroup ? { cgroupPath: opts.cgroup } : {}) });
    process.stdout.write(removed ? `removed the datapath pinned at ${opts.pinDir}: programs detached, maps unpinned\n` : `nothing to remove: no datapath pinned at ${opts.pinDir}\n`);
  });

program
  .command('echo')
  .description('an echo backend answering JSON with method, path, host, protocol, headers, namespace and pod')
  .option('--port <port>', 'port (default: $HTTP_PORT or 3000)')
  .option('--host <address>', 'address to bind (default: $POD_IP or 0.0.0.0)')
  .option('--h2c-port <port>', 'h2c-only port, as the conformance echo image has (default: $H2C_PORT or 3001; 0 for none)')
  .option('--grpc', 'serve the conformance gRPC echo service (GrpcEcho) on --port instead of HTTP, as the echo image does with $GRPC_ECHO_SERVER set')
  .option('--grpc-port <port>', 'also serve the conformance gRPC echo (GrpcEcho) on this port, beside HTTP, as the mesh conformance echo image does (--grpc=7070)')
  .option('--tcp', 'serve the conformance TCP echo (welcome line, PING/IS_TLS/TEST) on --port instead of HTTP, as the echo image does with $TCP_ECHO_SERVER set')
  .option('--udp', 'serve the conformance UDP echo (each datagram answered with JSON naming the request and the pod) on --port (default: $UDP_PORT or 8080) instead of HTTP, as the echo image does with $UDP_ECHO_SERVER set')
  .action(async (opts) => {
    const { startEchoServer, startGrpcEchoServer, startTcpEchoServer, startUdpEchoServer } = require('@tendril/testing') as typeof import('@tendril/testing');
    const { readFileSync } = require('node:fs') as typeof import('node:fs');
    const port = Number(opts.port ?? process.env['HTTP_PORT'] ?? 3000);
    const h2cPort = Number(opts.h2cPort ?? process.env['H2C_PORT'] ?? 3001);
    const host = opts.host ?? process.env['POD_IP'] ?? '0.0.0.0';
    // The echo image's TLS port: certificate and key files named by the environment (the TCP server spells the key variable TLS_SERVER_PRIV_KEY).
    const tlsFrom = (keyVariable: string, portVariable: string): { cert: string; key: string; port: number } | undefined => {
      const certFile = process.env['TLS_SERVER_CERT'];
      const keyFile = process.env[keyVariable];
      if (!certFile || !keyFile) return undefined;
      const read = (file: string, what: string): string => {
        try {
          return readFileSync(file, 'utf8');
        } catch (err) {
          throw new Error(`cannot read the TLS ${what} ${file} (TLS_SERVER_CERT / ${keyVariable}): ${(err as Error).message}`);
        }
      };
      const clientCaFile = process.env['TLS_CLIENT_CACERTS'];
      return { cert: read(certFile, 'certificate'), key: read(keyFile, 'key'), port: Number(process.env[portVariable] ?? 8443), ...(clientCaFile ? { clientCa: read(clientCaFile, 'client CA certificates') } : {}) };
    };
    let line: string;
    let server: { close(): Promise<void> };
    if (opts.tcp || process.env['TCP_ECHO_SERVER']) {
      const tls = tlsFrom('TLS_SERVER_PRIV_KEY', 'TLS_PORT');
      const tcp = await startTcpEchoServer({ host, tcpPort: Number(opts.port ?? process.env['TCP_PORT'] ?? 3000), ...(tls ? { tls } : {}) });
      server = tcp;
      line = `TCP echo server listening on ${tcp.host}:${tcp.tcpPort}${tcp.tlsPort ? ` (TLS on ${tcp.tlsPort})` : ''}`;
    } else if (opts.udp || process.env['UDP_ECHO_SERVER']) {
      const udp = await startUdpEchoServer({ host, port: Number(opts.port ?? process.env['UDP_PORT'] ?? 8080), log: (l) => process.stdout.write(`${l}\n`) });
      server = udp;
      line = `UDP server listening on ${udp.host}:${udp.port}`;
    } else if (opts.grpc || process.env['GRPC_ECHO_SERVER']) {
      // The gRPC echo spells the key variable as the TCP echo does (TLS_SERVER_PRIV_KEY).
      const tls = tlsFrom('TLS_SERVER_PRIV_KEY', 'HTTPS_PORT');
      const grpc = await startGrpcEchoServer({ port, host, ...(tls ? { tls } : {}) });
      server = grpc;
      line = `gRPC echo server (plaintext) listening on ${grpc.host}:${grpc.port}${grpc.tlsPort ? ` (TLS on ${grpc.tlsPort})` : ''}`;
    } else {
      const tls = tlsFrom('TLS_SERVER_PRIVKEY', 'HTTPS_PORT');
      const http = await startEchoServer({ port, host, ...(h2cPort > 0 && h2cPort !== port ? { h2cPort } : {}), ...(tls ? { tls } : {}) });
      const grpc = opts.grpcPort !== undefined ? await startGrpcEchoServer({ port: Number(opts.grpcPort), host }) : undefined;
      server = grpc ? { close: () => Promise.all([http.close(), grpc.close()]).then(() => undefined) } : http;
      line = `echo server listening on ${http.host}:${http.port}${http.h2cPort ? ` (h2c on ${http.h2cPort})` : ''}${http.httpsPort ? ` (HTTPS on ${http.httpsPort})` : ''}${grpc ? ` (gRPC on ${grpc.port})` : ''}`;
    }
    process.stdout.write(`${line}\n`);
    const stop = (): void => void server.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

program
  .command('coredns')
  .description('a test DNS server driven by a CoreDNS Corefile (whoami, forward, log, errors), run for the conformance suite\'s coredns image: Debian ships no coredns')
  .helpOption(false)
  .allowUnknownOption()
  .argument('[flags...]', 'CoreDNS flags: -conf <Corefile> (default ./Corefile), -dns.port <port> (every server block on this port)')
  .action(async (flags: string[]) => {
    const { startCorefileDnsServer } = require('@tendril/testing') as typeof import('@tendril/testing');
    const { readFileSync } = require('node:fs') as typeof import('node:fs');
    const value = (name: string): string | undefined => {
      const at = flags.findIndex((f) => f === `-${name}` || f === `--${name}`);
      const inline = flags.find((f) => f.startsWith(`-${name}=`) || f.startsWith(`--${name}=`));
      return inline ? inline.slice(inline.indexOf('=') + 1) : at >= 0 ? flags[at + 1] : undefined;
    };
    const conf = value('conf') ?? 'Corefile';
    let corefile: string;
    try {
      corefile = readFileSync(conf, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the Corefile ${conf}: ${(err as Error).message}`);
    }
    const port = value('dns.port');
    const dns = await startCorefileDnsServer({
      corefile,
      host: process.env['POD_IP'] ?? '0.0.0.0',
      ...(port !== undefined ? { port: Number(port) } : {}),
      log: (l) => process.stdout.write(`${l}\n`),
    });
    process.stdout.write(`${[...dns.ports.values()].map((p) => `.:${p} on ${dns.host}`).join('\n')}\nCoreDNS-compatible test server (tendril)\n`);
    const stop = (): void => void dns.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

const policy = program.command('policy').description('network policy tools (cilium policy …)');
policy
  .command('validate')
  .description("check CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy files as the agent would, with Cilium's error messages; exits 1 when any is invalid (2 when a file cannot be read)")
  .argument('<paths...>', 'YAML/JSON files, or directories to search for them')
  .action((paths: string[]) => {
    const fs = require('node:fs') as typeof import('node:fs');
    const path = require('node:path') as typeof import('node:path');
    const { isResourceFile } = require('@tendril/sources') as typeof import('@tendril/sources');
    const { formatPolicyFileReports, validatePolicyFile } = endpointsLib();
    const files: string[] = [];
    const unreadable: string[] = [];
    /** A file named on the command line is read whatever its name; in a directory, only *.yaml, *.yml and *.json. */
    const collect = (p: string, named: boolean): void => {
      let stat: import('node:fs').Stats;
      try {
        stat = fs.statSync(p);
      } catch (err) {
        unreadable.push(`${p}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
        return;
      }
      if (stat.isDirectory()) for (const entry of fs.readdirSync(p).sort()) collect(path.join(p, entry), false);
      else if (named || isResourceFile(p)) files.push(p);
    };
    for (const p of paths) collect(p, true);
    const reports = files.map((f) => validatePolicyFile(f, fs.readFileSync(f, 'utf8')));
    const { text, ok } = formatPolicyFileReports(reports);
    process.stdout.write(text);
    for (const u of unreadable) process.stderr.write(`cannot read ${u}\n`);
    process.exitCode = unreadable.length > 0 ? 2 : ok ? 0 : 1;
  });

policy
  .command('trace')
  .description('the verdict for one connection and the rule that decided it, at each hop (egress of the source pod, ingress of the destination), checked against the datapath\'s policy map; with --http, also the node proxy\'s L7 verdict for that request')
  .requiredOption('--src <pod|ip>', 'the client: a pod on this node (NAME or NAMESPACE/NAME) or an IP address')
  .requiredOption('--dst <pod|service|ip>', 'the server: a pod, a Service (svc/NAME, or a NAME no pod has: traced to each backend) or an IP address')
  .requiredOption('--dport <port>', 'destination port (a Service\'s port for a Service)', (v) => Number(v))
  .addOption(new Option('--protocol <protocol>', 'L4 protocol').choices(['TCP', 'UDP', 'SCTP']).default('TCP'))
  .option('--http <method:path>', 'an HTTP request (e.g. GET:/public/index.html): where the node proxy applies L7 rules, its verdict and the HTTP rule that decided it')
  .option('--header <name:value>', 'a header of the --http request (repeatable; Host sets the authority)', (v: string, all: string[]) => [...all, v], [] as string[])
  .option('-n, --namespace <ns>', 'namespace of pods and Services named without one', 'default')
  .addOption(new Option('-o, --output <format>', 'json for the raw trace').choices(['json']))
  .option('--agent <host:port>', "the agent's admin API")
  .action(async (opts) => {
    const { agentAdminAddress, getFromAgent } = controlPlane();
    const query = new URLSearchParams({ src: opts.src, dst: opts.dst, dport: String(opts.dport), protocol: opts.protocol, namespace: opts.namespace });
    if (opts.http !== undefined) query.set('http', opts.http);
    for (const header of opts.header as string[]) query.append('header', header);
    const { items } = await getFromAgent<{ items: TracedPath[] }>(agentAdminAddress(opts.agent), `/api/v1/policy/trace?${query}`);
    printView(items, opts.output, endpointsLib().formatPolicyTrace);
  });

const conformance = program.command('conformance').description('Gateway API conformance, without a cluster');
conformance
  .command('run')
  .description(
    'run upstream Gateway API conformance tests against tendril (needs ../shared/gateway-api beside the repository). ' +
      'Features: --all-features claims every feature, --supported-features exactly those, neither: inferred from the GatewayClass status; ' +
      "each profile adds its core features; a test runs when all its features are supported and it is not skipped",
  )
  .option('--profiles <list>', 'comma-separated conformance profiles to run and report (GATEWAY-HTTP, GATEWAY-GRPC, GATEWAY-TLS, GATEWAY-TCP, GATEWAY-UDP, MESH-HTTP, MESH-GRPC; the mesh ones need root)', 'GATEWAY-HTTP')
  .option('--run-test <name>', 'run only this test (the others of the profiles count as skipped)')
  .option('--supported-features <list>', 'comma-separated features the run claims (plus the profiles\' core features)')
  .option('--all-features', 'claim every feature the suite knows')
  .option('--exempt-features <list>', 'comma-separated features removed from the claimed ones')
  .option('--skip-tests <list>', 'comma-separated tests to skip (reported as skipped)')
  .option('--suite-dir <dir>', 'the upstream conformance directory (base/, tests/, inventory.json beside it)')
  .option('--report <file>', 'write the upstream-format ConformanceReport (YAML) for the profiles')
  .action(async (opts) => {
    const { conformanceReportYaml, formatConformanceSummary, formatResultLine, isShownResult, parseNameList, resultNameWidth, runConformanceCommand } = require('@tendril/conformance') as typeof import('@tendril/conformance');
    const profiles = parseNameList(opts.profiles);
    const outcome = await runConformanceCommand({
      profiles,
      supportedFeatures: parseNameList(opts.supportedFeatures),
      allFeatures: !!opts.allFeatures,
      exemptFeatures: parseNameList(opts.exemptFeatures),
      skipTests: parseNameList(opts.skipTests),
      ...(opts.runTest !== undefined ? { runTest: String(opts.runTest) } : {}),
      ...(opts.suiteDir ? { suiteDir: opts.suiteDir } : {}),
      progress: (line) => process.stdout.write(`${line}\n`),
      // Each test's line as it ends: the whole run takes minutes.
      onResult: (result, selection) => {
        if (isShownResult(selection, result)) process.stdout.write(formatResultLine(result, resultNameWidth(selection)));
      },
    });
    process.stdout.write(formatConformanceSummary(outcome.selection, outcome.results));
    if (opts.report) {
      const yaml = conformanceReportYaml({ results: outcome.results, suite: outcome.suite, selection: outcome.selection, profiles, gatewayClassName: outcome.gatewayClassName, date: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
      require('node:fs').writeFileSync(opts.report, yaml);
      process.stdout.write(`report written to ${opts.report}\n`);
    }
    process.exitCode = outcome.results.some((r) => r.outcome === 'failed') ? 1 : 0;
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`Error: ${err.message}\n`);
  process.exit(1);
});
