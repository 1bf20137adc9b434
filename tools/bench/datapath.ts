/**
 * Datapath bench (root): pod-to-pod connection rate and request throughput between two network
 * namespaces, (a) on plain veths with no policy, (b) with policy enforced by the BPF datapath with
 * 10 / 1,000 / 10,000 entries in its maps, and (c) with the iptables equivalent (one ACCEPT rule
 * per allowed pair, no BPF programs) at 10 / 1,000 / 10,000 rules, the measured pair's rule last.
 * The BPF lookups are LPM/hash lookups, so (b) should stay flat while (c) walks its rules for every
 * forward packet. (d) is the L7 redirect: the client's port carries an L7 allow-all rule, so the
 * datapath steers each connection to tendril-proxy's transparent listener (in this process, fed
 * the resources the agent would send), which forwards to the server — the cost of the proxy hop
 * against (b). Prints a markdown section; progress goes to stderr.
 *
 * The server is nginx (`worker_processes 1`, `return 200`) in the server pod; the client is wrk in
 * the client pod: keep-alive connections for request throughput, `Connection: close` for the rate
 * of new connections (every request is a new TCP connection). Before each measurement the bench
 * checks that the policy is really in force: the client reaches port 8080 and is dropped on 8081.
 *
 * Each setup is measured BENCH_DATAPATH_ROUNDS times, the rounds interleaving all setups, and the
 * table shows the medians: on a shared machine, load from elsewhere then hits every row alike.
 *
 * Environment: BENCH_DATAPATH_DURATION_S (default 3), BENCH_DATAPATH_WARMUP_S (1),
 * BENCH_DATAPATH_ROUNDS (3), BENCH_DATAPATH_SIZES (10,1000,10000), BENCH_CONNECTIONS (50).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Datapath, proxyDatapathAccess, type LocalEndpoint, type ProxyDatapathAccess } from '@tendril/datapath';
import { DEFAULT_PROXY_PORTS, fixedProxyPorts, redirectResources } from '@tendril/endpoints';
import type { PolicyMapEntry, PortRuleHTTP } from '@tendril/policy';
import { formatAccessLogLine, ProxyRuntime } from '@tendril/proxy';
import { Proc, progress, sleep, table } from './common';
import {
  BENCH_PREFIX,
  type BenchPod,
  createBenchCgroup,
  createBenchPod,
  GATEWAY,
  installIptablesPolicy,
  iptablesRuleCount,
  removeBenchLeftovers,
  removeIptablesPolicy,
  sh,
} from './datapath-netns';

const DURATION_S = Number(process.env.BENCH_DATAPATH_DURATION_S ?? 3);
const ROUNDS = Number(process.env.BENCH_DATAPATH_ROUNDS ?? 3);
const WARMUP_S = Number(process.env.BENCH_DATAPATH_WARMUP_S ?? 1);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SIZES = (process.env.BENCH_DATAPATH_SIZES ?? '10,1000,10000').split(',').map(Number);
/** HTTP rules on the server's L7 port for the L7 policy rows (the request matches the last one). */
const L7_RULE_COUNTS = (process.env.BENCH_L7_RULES ?? '1,100,10000').split(',').map(Number);
const ALLOWED_PORT = 8080;
/** Served too, but allowed by no policy: a probe to it shows the policy is in force. */
const DENIED_PORT = 8081;
const CLIENT = { ip: '10.218.0.10', endpointId: 1, identity: 50_001 };
const SERVER = { ip: '10.218.0.20', endpointId: 2, identity: 50_002 };
const HOST_IDENTITY = 1;
const TCP = 6;

interface WrkResult {
  readonly requestsPerSec: number;
  readonly p99Ms: number;
  readonly errors: string;
}

interface Row {
  readonly setup: string;
  readonly entries: string;
  readonly keepAlive: WrkResult;
  readonly newConnections: WrkResult;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

function parseWrk(output: string): WrkResult {
  const errors = [/Socket errors:\s+(.*)/.exec(output)?.[1]?.trim(), /Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1]]
    .map((e, i) => (e ? (i === 0 ? `socket errors: ${e}` : `${e} non-2xx`) : undefined))
    .filter(Boolean)
    .join('; ');
  return {
    requestsPerSec: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN),
    p99Ms: toMs(/^\s*99%\s+(\S+)/m.exec(output)?.[1] ?? ''),
    errors: errors || 'none',
  };
}

/** wrk inside the client pod. `close` sends `Connection: close`: one new TCP connection per request. */
function wrk(client: BenchPod, server: BenchPod, seconds: number, close: boolean, urlPath: string): Promise<WrkResult> {
  const args = ['netns', 'exec', client.netns, 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '2s', '--latency'];
  if (close) args.push('-H', 'Connection: close');
  args.push(`http://${server.ip}:${ALLOWED_PORT}${urlPath}`);
  return new Promise((resolve, reject) =>
    execFile('ip', args, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => (err ? reject(new Error(`wrk: ${stderr || err.message}`)) : resolve(parseWrk(stdout)))),
  );
}

/** The HTTP status the client gets for a path on the allowed port. */
function httpStatus(client: BenchPod, server: BenchPod, urlPath: string): Promise<string> {
  return sh('ip', ['netns', 'exec', client.netns, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '2', `http://${server.ip}:${ALLOWED_PORT}${urlPath}`]).then((out) => out.trim());
}

/** Whether the client gets an HTTP answer from the server's port within the time limit. */
async function reaches(client: BenchPod, server: BenchPod, port: number): Promise<boolean> {
  return sh('ip', ['netns', 'exec', client.netns, 'curl', '-s', '-o', '/dev/null', '-m', '1', `http://${server.ip}:${port}/`]).then(
    () => true,
    () => false,
  );
}

async function expectPolicy(client: BenchPod, server: BenchPod, enforced: boolean, setup: string): Promise<void> {
  if (!(await reaches(client, server, ALLOWED_PORT))) throw new Error(`${setup}: the client cannot reach the allowed port ${ALLOWED_PORT}`);
  const denied = !(await reaches(client, server, DENIED_PORT));
  if (denied !== enforced) throw new Error(`${setup}: port ${DENIED_PORT} is ${denied ? 'dropped' : 'reachable'}, expected ${enforced ? 'dropped' : 'reachable'}`);
}

async function measure(client: BenchPod, server: BenchPod, setup: string, entries: string, urlPath: string): Promise<Row> {
  progress(`${setup}, ${entries}: warm-up ${WARMUP_S}s`);
  await wrk(client, server, WARMUP_S, false, urlPath);
  const keepAlive = await wrk(client, server, DURATION_S, false, urlPath);
  // Let the closed connections of the keep-alive run drain before opening thousands of new ones.
  await sleep(500);
  const newConnections = await wrk(client, server, DURATION_S, true, urlPath);
  progress(`${setup}, ${entries}: ${Math.round(keepAlive.requestsPerSec)} req/s keep-alive, ${Math.round(newConnections.requestsPerSec)} new connections/s`);
  return { setup, entries, keepAlive, newConnections };
}

const allow = (fields: Partial<PolicyMapEntry> & Pick<PolicyMapEntry, 'direction'>): PolicyMapEntry => ({
  identity: 0,
  protocol: 0,
  port: 0,
  prefixLength: 0,
  deny: false,
  proxyPort: 0,
  ...fields,
});

/**
 * Fills the maps to `size` entries: the server's ingress policy holds `size` entries (other
 * identities on the same port, plus the client's), the ipcache `size` addresses (other pods in
 * 10.220.0.0/16, plus the two pods and the host).
 */
function fillMaps(datapath: Datapath, size: number): void {
  const others = Math.max(0, size - 1);
  const ingress = Array.from({ length: others }, (_, i) => allow({ direction: 'ingress', identity: 60_000 + i, protocol: TCP, port: ALLOWED_PORT, prefixLength: 24 }));
  ingress.push(allow({ direction: 'ingress', identity: CLIENT.identity, protocol: TCP, port: ALLOWED_PORT, prefixLength: 24 }));
  datapath.policy.apply(SERVER.endpointId, ingress);
  datapath.policy.apply(CLIENT.endpointId, [allow({ direction: 'egress' })]);
  fillIpcache(datapath, size);
}

function fillIpcache(datapath: Datapath, size: number): void {
  for (const { cidr } of datapath.ipcache.list()) if (cidr.startsWith('10.220.')) datapath.ipcache.delete(cidr);
  for (let i = 0; i < Math.max(0, size - 3); i++) datapath.ipcache.set(`10.220.${i >> 8}.${i & 0xff}/32`, 60_000 + i);
}

function nginxConfig(dir: string): string {
  return `user root;
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  access_log off;
  keepalive_requests 1000000;
  server {
    listen ${ALLOWED_PORT};
    listen ${DENIED_PORT};
    location / { default_type text/plain; return 200 "ok\\n"; }
  }
}
`;
}

function markdown(rows: readonly Row[]): string {
  const base = rows[0];
  const relative = (value: number, reference: number): string => `${Math.round(value).toLocaleString('en-US')} (${Math.round((value / reference) * 100)}%)`;
  const errors = rows.filter((r) => r.keepAlive.errors !== 'none' || r.newConnections.errors !== 'none');
  return [
    '## Datapath: pod to pod, BPF policy vs iptables',
    '',
    `Two pods (network namespaces behind veths, routed by the host), nginx (1 worker, \`return 200\`) in one, wrk (1 thread, ${CONNECTIONS} connections) in the other; ` +
      `${WARMUP_S} s warm-up then ${DURATION_S} s per measurement, median of ${ROUNDS} interleaved rounds. **Requests/s** uses keep-alive connections; **new connections/s** sends \`Connection: close\` ` +
      'so every request is a new TCP connection. BPF: the tc programs on both veths, the server pod\'s ingress policy map and the ipcache filled to the given ' +
      'size, the client allowed. iptables: no BPF programs; a FORWARD chain with a conntrack rule for replies, one ACCEPT per allowed pair (the measured pair last), then DROP. ' +
      'BPF + L7 redirect: as the BPF row, but the client\'s port carries an L7 allow-all rule (`http: [{}]`), so every connection is steered to tendril-proxy\'s ' +
      'transparent ingress listener (Node, one process, in the bench process) and forwarded to the pod it dialled: its distance to the BPF row is the L7 redirect overhead. ' +
      'BPF + L7 redirect, HTTP policy: the same redirect, but the port\'s L7 policy is N HTTP rules `GET /api/v1/tenant-<i>/items/[0-9]+` and wrk asks for ' +
      '`/api/v1/tenant-<N-1>/items/42`, which only the last rule allows (the bench checks it gets 200 and an unlisted tenant 403): the proxy looks rules up by path ' +
      'prefix, so the rows should stay flat from 1 to 10,000 rules. ' +
      `Before each row the bench checks the client reaches port ${ALLOWED_PORT} and (with a policy) is dropped on ${DENIED_PORT}, and that only the L7 rows went through the proxy. Percentages are against the first row.`,
    '',
    table(
      ['setup', 'policy size', 'requests/s (keep-alive)', 'p99', 'new connections/s', 'p99'],
      rows.map((r) => [
        r.setup,
        r.entries,
        relative(r.keepAlive.requestsPerSec, base.keepAlive.requestsPerSec),
        `${r.keepAlive.p99Ms.toFixed(2)} ms`,
        relative(r.newConnections.requestsPerSec, base.newConnections.requestsPerSec),
        `${r.newConnections.p99Ms.toFixed(2)} ms`,
      ]),
    ),
    '',
    ...(errors.length ? [`wrk errors: ${errors.map((r) => `${r.setup} ${r.entries}: ${r.keepAlive.errors} / ${r.newConnections.errors}`).join('; ')}`, ''] : []),
  ].join('\n');
}

/** `httpRules` (L7 rows): that many HTTP rules on the port instead of the allow-all rule. */
type Setup = { readonly kind: 'none' } | { readonly kind: 'bpf' | 'iptables'; readonly size: number } | { readonly kind: 'l7'; readonly size: number; readonly httpRules?: number };

const SETUP_NAMES = { bpf: 'BPF', iptables: 'iptables', l7: 'BPF + L7 redirect through tendril-proxy (allow-all)' } as const;

const setupName = (setup: Setup): { setup: string; entries: string } => {
  if (setup.kind === 'none') return { setup: 'no policy', entries: '—' };
  const entries = `${setup.size.toLocaleString('en-US')} ${setup.kind === 'iptables' ? 'rules' : 'map entries'}`;
  if (setup.kind === 'l7' && setup.httpRules !== undefined) return { setup: 'BPF + L7 redirect, HTTP policy', entries: `${setup.httpRules.toLocaleString('en-US')} HTTP rules` };
  return { setup: SETUP_NAMES[setup.kind], entries };
};

/**
 * The L7 rows' HTTP rules: one per tenant, `GET /api/v1/tenant-<i>/items/[0-9]+`, as a policy
 * listing an API's endpoints would; the measured request matches the last rule, so a proxy trying
 * rules in order would try them all.
 */
function tenantRules(count: number): PortRuleHTTP[] {
  return Array.from({ length: count }, (_, i) => ({ method: 'GET', path: `/api/v1/tenant-${i}/items/[0-9]+` }));
}

/** The path wrk asks for: allowed by the last rule (or by the allow-all rule). */
const requestPath = (setup: Setup): string => (setup.kind === 'l7' && setup.httpRules !== undefined ? `/api/v1/tenant-${setup.httpRules - 1}/items/42` : '/');

/**
 * The server's ingress policy with the client's port redirected to the proxy's ingress listener,
 * and the proxy serving the redirect listener the agent would configure for it.
 */
async function applyL7Redirect(datapath: Datapath, proxy: ProxyRuntime, size: number, http: readonly PortRuleHTTP[]): Promise<void> {
  const others = Math.max(0, size - 1);
  const ingress = Array.from({ length: others }, (_, i) => allow({ direction: 'ingress', identity: 60_000 + i, protocol: TCP, port: ALLOWED_PORT, prefixLength: 24 }));
  ingress.push(allow({ direction: 'ingress', identity: CLIENT.identity, protocol: TCP, port: ALLOWED_PORT, prefixLength: 24, proxyPort: DEFAULT_PROXY_PORTS.http.ingress }));
  datapath.policy.apply(SERVER.endpointId, ingress);
  datapath.policy.apply(CLIENT.endpointId, [allow({ direction: 'egress' })]);
  fillIpcache(datapath, size);
  const resources = redirectResources(
    [
      {
        namespace: 'bench',
        name: 'server',
        ip: SERVER.ip,
        endpointId: SERVER.endpointId,
        redirects: [{ direction: 'ingress', parser: 'http', port: ALLOWED_PORT, origins: ['bench'] }],
        portPolicies: [{ direction: 'ingress', port: ALLOWED_PORT, parser: 'http', rules: [{ remotes: [CLIENT.identity], http: [...http], origin: 'bench' }] }],
      },
    ],
    { proxyPort: fixedProxyPorts(), bpfRoot: datapath.pinDir },
  );
  const result = await proxy.apply({ listeners: resources.listeners, clusters: resources.clusters, routes: [], endpoints: [], networkPolicies: resources.networkPolicies });
  if (!result.accepted) throw new Error(`tendril-proxy refused the redirect listener: ${JSON.stringify(result.errors)}`);
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('## Datapath: pod to pod, BPF policy vs iptables\n\nSkipped: network namespaces, BPF programs and iptables rules need root.\n\n');
    return;
  }
  for (const tool of ['wrk', 'curl', 'iptables', 'iptables-restore']) {
    await sh('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).catch(() => {
      throw new Error(`${tool} is missing (scripts/bench.sh installs it with apt-get)`);
    });
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-bench-datapath-'));
  let nginx: Proc | undefined;
  let datapath: Datapath | undefined;
  let proxy: ProxyRuntime | undefined;
  let proxyNetwork: ProxyDatapathAccess | undefined;
  /** Requests the proxy forwarded: the L7 row must have gone through it. */
  let proxied = 0;
  const cleanup = async (): Promise<void> => {
    await nginx?.stop().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    proxyNetwork?.close();
    datapath?.close();
    await removeBenchLeftovers();
    if (!process.env.BENCH_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
  };
  // Every iptables rule, namespace and pin goes away whatever ends the run.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    await removeBenchLeftovers();
    const client = await createBenchPod('client', CLIENT.ip);
    const server = await createBenchPod('server', SERVER.ip);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir));
    nginx = Proc.start('nginx', 'ip', ['netns', 'exec', server.netns, '/usr/sbin/nginx', '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], path.join(dir, 'nginx.log'));
    for (let i = 0; i < 50 && !(await reaches(client, server, ALLOWED_PORT)); i++) await sleep(100);

    // The maps stay loaded for the whole run; a BPF row attaches the programs, the other rows detach them.
    const loaded = await Datapath.open({ pinDir: `/sys/fs/bpf/${BENCH_PREFIX}-${process.pid}`, cgroupPath: await createBenchCgroup() });
    datapath = loaded;
    const endpoints: LocalEndpoint[] = [
      { ifname: client.hostVeth, ...CLIENT },
      { ifname: server.hostVeth, ...SERVER },
    ];
    for (const endpoint of endpoints) await loaded.addEndpoint(endpoint);
    loaded.ipcache.set(GATEWAY, HOST_IDENTITY);
    proxyNetwork = proxyDatapathAccess(loaded.pinDir);
    // Access-log lines are formatted as the proxy's stdout log would be, then dropped.
    const runtime = new ProxyRuntime({ transparentNetwork: proxyNetwork, drainTimeoutMs: 1_000, accessLog: (entry) => void (formatAccessLogLine(entry), proxied++) });
    proxy = runtime;

    const apply = async (setup: Setup): Promise<void> => {
      await removeIptablesPolicy();
      for (const endpoint of endpoints) await loaded.detach(endpoint.ifname);
      await runtime.apply({ listeners: [], clusters: [], routes: [], endpoints: [] });
      if (setup.kind === 'bpf') {
        fillMaps(loaded, setup.size);
        for (const endpoint of endpoints) await loaded.attach(endpoint.ifname);
      } else if (setup.kind === 'l7') {
        await applyL7Redirect(loaded, runtime, setup.size, setup.httpRules === undefined ? [{}] : tenantRules(setup.httpRules));
        for (const endpoint of endpoints) await loaded.attach(endpoint.ifname);
      } else if (setup.kind === 'iptables') {
        await installIptablesPolicy(setup.size, client.ip, server.ip, ALLOWED_PORT);
        const rules = await iptablesRuleCount();
        if (rules !== setup.size + 2) throw new Error(`iptables chain holds ${rules} rules, expected ${setup.size} + conntrack + DROP`);
      }
      const { setup: name, entries } = setupName(setup);
      const before = proxied;
      await expectPolicy(client, server, setup.kind !== 'none', `${name} ${entries}`);
      if ((proxied > before) !== (setup.kind === 'l7')) throw new Error(`${name}: the probe ${proxied > before ? 'went' : 'did not go'} through tendril-proxy`);
      if (setup.kind === 'l7' && setup.httpRules !== undefined) {
        // The measured request is allowed; one no rule names is refused by the proxy.
        const allowed = await httpStatus(client, server, requestPath(setup));
        const refused = await httpStatus(client, server, `/api/v1/tenant-${setup.httpRules}/items/42`);
        if (allowed !== '200' || refused !== '403') throw new Error(`${name} ${entries}: the allowed path got ${allowed}, an unlisted one ${refused} (expected 200 and 403)`);
      }
    };

    const setups: Setup[] = [
      { kind: 'none' },
      ...SIZES.map((size) => ({ kind: 'bpf' as const, size })),
      ...SIZES.map((size) => ({ kind: 'iptables' as const, size })),
      { kind: 'l7', size: SIZES[0] },
      ...L7_RULE_COUNTS.map((httpRules) => ({ kind: 'l7' as const, size: SIZES[0], httpRules })),
    ];
    // Rounds interleave the setups, so that load from elsewhere on the machine spreads over all rows.
    const samples = setups.map(() => [] as Row[]);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, setup] of setups.entries()) {
        await apply(setup);
        const { setup: name, entries } = setupName(setup);
        samples[i].push(await measure(client, server, `${name} (round ${round}/${ROUNDS})`, entries, requestPath(setup)));
      }
    }
    await apply({ kind: 'none' });
    const rows = setups.map((setup, i): Row => {
      const pick = (f: (r: Row) => WrkResult): WrkResult => ({
        requestsPerSec: median(samples[i].map((r) => f(r).requestsPerSec)),
        p99Ms: median(samples[i].map((r) => f(r).p99Ms)),
        errors: [...new Set(samples[i].map((r) => f(r).errors))].join(', '),
      });
      return { ...setupName(setup), keepAlive: pick((r) => r.keepAlive), newConnections: pick((r) => r.newConnections) };
    });
    process.stdout.write(`${markdown(rows)}\n`);
  } finally {
    await cleanup();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`datapath bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
