/**
 * L7 policy bench. Prints a markdown section; progress goes to stderr.
 *
 * (a) The HTTP rule engine the node proxy runs per request (HttpRules, as L7PolicyIndex uses it),
 *     at 1 / 100 / 10,000 rules on one port: time per request with the rule index and with a scan
 *     of every rule, for a request the last rule allows and one no rule allows.
 * (b) Policy computation for 1,000 endpoints × 1,000 policies: validating and translating the
 *     CiliumNetworkPolicies, then what the agent computes per endpoint (policy map entries, L7
 *     redirect ports, per-port L7 rules) and the proxy's NPDS resources.
 * (c) As root: the time from a policy edit to its enforcement, end to end. An Agent runs a server
 *     and a client pod in network namespaces with the eBPF datapath and the node proxy (in this
 *     process, over xDS); a client process in the client pod sends `GET /b` over a keep-alive
 *     connection every 2 ms and reports when its answer changes. The bench rewrites the policy
 *     file to allow `/b` (then to allow only `/a` again) and times, from the rename, the proxy
 *     applying the new NPDS and the client's first 200 (then 403).
 *
 * Environment: BENCH_L7_RULES (default 1,100,10000), BENCH_L7_ENDPOINTS (1000), BENCH_L7_POLICIES
 * (1000), BENCH_L7_EDITS (5).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { Agent, DEFAULT_AGENT_DEBOUNCE_MS, type EndpointView } from '@tendril/control-plane';
import { proxyDatapathAccess } from '@tendril/datapath';
import { networkPolicyResources, removeNodeDatapath, type EndpointRedirects } from '@tendril/endpoints';
import { IdentityAllocator, workloadLabels, type Identity } from '@tendril/identity';
import { runtimeNodeProxy, type NodeProxy } from '@tendril/node-proxy';
import {
  compileEndpointPolicy,
  HttpRules,
  l7PortPolicies,
  l7PortRedirects,
  PolicyRepository,
  policyMapEntries,
  referencedCidrs,
  type HttpRequestFacts,
  type PortRuleHTTP,
} from '@tendril/policy';
import { ProxyRuntime } from '@tendril/proxy';
import { silentLogger } from '@tendril/xds';
import { eventually, progress, sleep, table, writeAtomically } from './common';

const RULE_COUNTS = (process.env.BENCH_L7_RULES ?? '1,100,10000').split(',').map(Number);
const ENDPOINTS = Number(process.env.BENCH_L7_ENDPOINTS ?? 1000);
const POLICIES = Number(process.env.BENCH_L7_POLICIES ?? 1000);
const EDITS = Number(process.env.BENCH_L7_EDITS ?? 5);

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (value: number, digits = 1): string => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

// ---------------------------------------------------------------------------------------------
// (a) the rule engine

/** Microseconds per evaluation: repeated until 300 ms have passed, best of three such runs. */
function timePerCall(call: () => unknown): number {
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    let calls = 0;
    const started = performance.now();
    let elapsed = 0;
    while (elapsed < 300) {
      for (let i = 0; i < 100; i++) call();
      calls += 100;
      elapsed = performance.now() - started;
    }
    best = Math.min(best, (elapsed * 1000) / calls);
  }
  return best;
}

/** The same tenant rules as the datapath bench's L7 rows. */
const tenantRules = (count: number): PortRuleHTTP[] => Array.from({ length: count }, (_, i) => ({ method: 'GET', path: `/api/v1/tenant-${i}/items/[0-9]+` }));
const facts = (urlPath: string): HttpRequestFacts => ({ method: 'GET', path: urlPath, authority: 'store.shop.svc', headers: { 'user-agent': 'bench' } });

function engineSection(): string {
  const rows = RULE_COUNTS.map((count) => {
    progress(`L7 engine: ${count} rules`);
    const rules = tenantRules(count);
    const indexed = new HttpRules(rules);
    const scanned = new HttpRules(rules, undefined, { index: false });
    const allowed = facts(`/api/v1/tenant-${count - 1}/items/42`);
    const denied = facts(`/api/v1/tenant-${count}/items/42`);
    for (const [engine, request, expected] of [[indexed, allowed, true], [indexed, denied, false], [scanned, allowed, true], [scanned, denied, false]] as const) {
      if (engine.evaluate(request).allowed !== expected) throw new Error(`L7 engine at ${count} rules: ${request.path} should be ${expected ? 'allowed' : 'denied'}`);
    }
    return [
      count.toLocaleString('en-US'),
      `${fmt(timePerCall(() => indexed.evaluate(allowed)), 2)} µs`,
      `${fmt(timePerCall(() => indexed.evaluate(denied)), 2)} µs`,
      `${fmt(timePerCall(() => scanned.evaluate(allowed)), 1)} µs`,
      `${fmt(timePerCall(() => scanned.evaluate(denied)), 1)} µs`,
    ];
  });
  return [
    '### L7 HTTP rules: time per request decision',
    '',
    'HttpRules (what the proxy runs per request) with N rules `GET /api/v1/tenant-<i>/items/[0-9]+` on one port; "allowed" asks for a path only the last rule allows, ' +
      '"denied" for one no rule allows. Indexed: rules are looked up by literal path, path prefix and method, then matched in full (RE2); scan: every rule tried in order.',
    '',
    table(['HTTP rules', 'indexed, allowed', 'indexed, denied', 'scan, allowed', 'scan, denied'], rows),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// (b) policy computation

const APPS = 100;
const NAMESPACES = 10;

/**
 * POLICIES CiliumNetworkPolicies over APPS apps in NAMESPACES namespaces: each selects one app and
 * admits another app's pods, on a port with HTTP rules (one in three), L3/L4 only (one in three),
 * or from a CIDR; every fifth also has an egress rule, every tenth an ingress deny.
 */
function generatedPolicies(): unknown[] {
  return Array.from({ length: POLICIES }, (_, j) => {
    const app = j % APPS;
    const namespace = `ns-${app % NAMESPACES}`;
    const peer = { matchLabels: { app: `svc-${(app + 1 + (j % 7)) % APPS}`, 'k8s:io.kubernetes.pod.namespace': `ns-${(app + 1 + (j % 7)) % APPS % NAMESPACES}` } };
    const port = String(8000 + (j % 50));
    const kind = j % 3;
    const ingress =
      kind === 0
        ? [{ fromEndpoints: [peer], toPorts: [{ ports: [{ port, protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: `/api/v${j % 3}/items/.*` }, { method: 'POST', path: '/api/orders' }] } }] }]
        : kind === 1
          ? [{ fromEndpoints: [peer], toPorts: [{ ports: [{ port, protocol: 'TCP' }] }] }]
          : [{ fromCIDRSet: [{ cidr: `10.${j % 250}.0.0/16`, except: [`10.${j % 250}.1.0/24`] }], toPorts: [{ ports: [{ port, protocol: 'TCP' }] }] }];
    return {
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: { name: `policy-${j}`, namespace },
      spec: {
        endpointSelector: { matchLabels: { app: `svc-${app}` } },
        ingress,
        ...(j % 5 === 0 ? { egress: [{ toEndpoints: [peer], toPorts: [{ ports: [{ port: '5432', protocol: 'TCP' }] }] }] } : {}),
        ...(j % 10 === 0 ? { ingressDeny: [{ fromEntities: ['world'], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] }] } : {}),
      },
    };
  });
}

function computationSection(): string {
  progress(`policy computation: ${ENDPOINTS} endpoints × ${POLICIES} policies`);
  const allocator = new IdentityAllocator();
  // Every endpoint its own identity (an `instance` label), the worst case: nothing is shared.
  const endpoints = Array.from({ length: ENDPOINTS }, (_, i) => {
    const app = i % APPS;
    const labels = workloadLabels({ namespace: `ns-${app % NAMESPACES}`, podLabels: { app: `svc-${app}`, instance: String(i) }, namespaceLabels: { 'kubernetes.io/metadata.name': `ns-${app % NAMESPACES}` } });
    return { labels, identity: allocator.allocate(labels) as Identity, ip: `10.200.${i >> 8}.${i & 0xff}`, endpointId: i + 1 };
  });

  const translateStarted = performance.now();
  const repository = new PolicyRepository();
  for (const policy of generatedPolicies()) {
    const result = repository.upsert(policy);
    if (!result.accepted) throw new Error(`generated policy rejected: ${result.error}`);
  }
  const rules = repository.rules();
  const translateMs = performance.now() - translateStarted;
  // The identities policies select among: reserved, the endpoints', and the CIDR identities the rules name (as the agent allocates them).
  for (const prefix of referencedCidrs(rules)) allocator.allocateCidr(prefix);
  const identities: Identity[] = allocator.identities();

  const options = { proxyPort: (parser: string, direction: string) => (parser === 'http' ? (direction === 'ingress' ? 15001 : 15002) : 15003) };
  const computeStarted = performance.now();
  let mapEntries = 0;
  const redirects: EndpointRedirects[] = [];
  for (const endpoint of endpoints) {
    const compiled = compileEndpointPolicy(rules, { labels: endpoint.labels }, identities, options);
    if (!compiled.ok) throw new Error(`endpoint ${endpoint.ip}: ${compiled.error}`);
    mapEntries += policyMapEntries(compiled.policy).length;
    const ports = l7PortRedirects(rules, { labels: endpoint.labels });
    redirects.push({ namespace: 'bench', name: `pod-${endpoint.endpointId}`, ip: endpoint.ip, endpointId: endpoint.endpointId, redirects: ports, portPolicies: ports.length ? l7PortPolicies(rules, { labels: endpoint.labels }, identities) : [] });
  }
  const computeMs = performance.now() - computeStarted;
  const npdsStarted = performance.now();
  const npds = networkPolicyResources(redirects);
  const npdsMs = performance.now() - npdsStarted;
  const l7Endpoints = redirects.filter((r) => r.redirects.length > 0).length;
  return [
    '### Policy computation: 1,000 endpoints × 1,000 policies',
    '',
    `${POLICIES.toLocaleString('en-US')} CiliumNetworkPolicies (one in three with HTTP rules, one in three L3/L4, one in three from a CIDR with an exception; every fifth with an egress rule, every tenth an ingress deny) ` +
      `over ${APPS} apps in ${NAMESPACES} namespaces; ${ENDPOINTS.toLocaleString('en-US')} endpoints, each with an identity of its own (nothing shared between replicas), ${identities.length.toLocaleString('en-US')} identities in all. ` +
      'One thread, in process, no I/O.',
    '',
    table(
      ['step', 'time', 'result'],
      [
        ['validate + translate every policy', `${fmt(translateMs, 0)} ms`, `${rules.length.toLocaleString('en-US')} rules`],
        ['every endpoint: policy map entries, L7 redirects, L7 port rules', `${fmt(computeMs, 0)} ms (${fmt(computeMs / ENDPOINTS, 2)} ms per endpoint)`, `${mapEntries.toLocaleString('en-US')} map entries; ${l7Endpoints} endpoints with L7 ports`],
        ['NPDS resources for the proxy', `${fmt(npdsMs, 0)} ms`, `${npds.length.toLocaleString('en-US')} NetworkPolicy resources`],
        ['total', `${fmt(translateMs + computeMs + npdsMs, 0)} ms`, ''],
      ],
    ),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// (c) edit → enforcement (root)

const CGROUP_V2 = fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';

const SERVER = `require('http').createServer((q, s) => s.end('ok')).listen(8080)`;
/** Asks for argv[2] every 2 ms on one keep-alive connection; prints `<status> <epoch ms>` whenever the answer changes. */
const CLIENT_LOOP = `const http = require('http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let last = '';
const once = () => {
  const r = http.get({ host: process.argv[1], port: 8080, path: process.argv[2], agent }, (res) => {
    res.resume();
    res.on('end', () => { const s = String(res.statusCode); if (s !== last) { last = s; console.log(s + ' ' + Date.now()); } setTimeout(once, 2); });
  });
  r.on('error', () => { if (last !== 'error') { last = 'error'; console.log('error ' + Date.now()); } setTimeout(once, 20); });
};
once();`;

const deployment = (name: string, command: string[], port?: number): string => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: default }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers: [{ name: main, image: ignored, command: ${JSON.stringify(command)}${port ? `, ports: [{ containerPort: ${port} }]` : ''} }]
`;

const policy = (paths: readonly string[]): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: server-l7, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts:
        - ports: [{ port: "8080", protocol: TCP }]
          rules: { http: [${paths.map((p) => `{ method: GET, path: "${p}" }`).join(', ')}] }
`;

async function editSection(): Promise<string> {
  const title = '### Policy edit → enforcement (end to end)';
  if (process.getuid?.() !== 0) return `${title}\n\nSkipped: network namespaces and eBPF programs need root.\n`;
  const suffix = randomBytes(3).toString('hex');
  const dirs = { config: fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-bench-l7-')), ipam: fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-bench-l7-ipam-')) };
  const pinDir = `/sys/fs/bpf/tdb-l7-${suffix}`;
  const cgroup = `${CGROUP_V2}/tdb-l7-${suffix}`;
  fs.mkdirSync(cgroup, { recursive: true });
  const base = 23_000 + (randomBytes(2).readUInt16BE(0) % 300) * 10;
  const proxyPorts = { http: { ingress: base + 1, egress: base + 2 }, kafka: { ingress: base + 3, egress: base + 4 }, dns: { ingress: base + 5, egress: base + 6 } };
  writeAtomically(path.join(dirs.config, 'apps.yaml'), [deployment('server', [process.execPath, '-e', SERVER], 8080), deployment('client', ['sleep', 'infinity'])].join('---\n'));
  writeAtomically(path.join(dirs.config, 'policy.yaml'), policy(['/a']));
  const agent = new Agent({
    configDir: dirs.config,
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    logger: silentLogger,
    runWorkloads: true,
    podNetwork: { mode: 'netns', namePrefix: `tdb-l7${suffix.slice(0, 2)}-`, podCidr: `10.219.${randomBytes(1)[0]}.0/24`, ipamDataDir: dirs.ipam },
    datapath: { pinDir, cgroupPath: cgroup },
    proxyPorts,
    writePodOutput: () => undefined,
  });
  const network = proxyDatapathAccess(pinDir);
  // No access log: the client's requests would otherwise land, a line each, in the bench's markdown on stdout.
  const runtime = new ProxyRuntime({ logger: silentLogger, accessLog: () => undefined, drainTimeoutMs: 1_000, transparentNetwork: network });
  /** When the proxy applied each configuration (epoch ms). */
  const applied: number[] = [];
  let proxy: NodeProxy | undefined;
  let client: ReturnType<typeof spawn> | undefined;
  try {
    const { xdsPort, adminPort } = await agent.start();
    proxy = runtimeNodeProxy({ xdsAddress: `127.0.0.1:${xdsPort}`, runtime, logger: silentLogger, onApplied: () => applied.push(Date.now()) });
    await proxy.start();
    progress('policy edit → enforcement: waiting for the pods');
    const pods = await eventually(
      async () => {
        const endpoints = ((await (await request(`http://127.0.0.1:${adminPort}/api/v1/endpoints`)).body.json()) as { items: EndpointView[] }).items;
        const server = endpoints.find((e) => e.name.startsWith('server-') && e.ready && e.policy?.state === 'ready');
        const clientPod = endpoints.find((e) => e.name.startsWith('client-') && e.ready && e.policy?.state === 'ready');
        if (!server || !clientPod?.netns) throw new Error('pods not ready');
        return { server, client: clientPod, clientNetns: clientPod.netns };
      },
      120_000,
      200,
    );
    const loop = spawn('ip', ['netns', 'exec', pods.clientNetns, process.execPath, '-e', CLIENT_LOOP, pods.server.ip, '/b'], { stdio: ['ignore', 'pipe', 'inherit'] });
    client = loop;
    const seen: { status: string; at: number }[] = [];
    createInterface({ input: loop.stdout }).on('line', (line) => {
      const [status, at] = line.split(' ');
      seen.push({ status, at: Number(at) });
    });
    const until = async (status: string, after: number): Promise<number> =>
      eventually(
        () => {
          const hit = seen.find((s) => s.status === status && s.at >= after);
          if (!hit) throw new Error(`no ${status} yet`);
          return hit.at;
        },
        30_000,
        1,
      );
    await until('403', 0);
    const samples: { kind: 'allow' | 'deny'; applied: number; enforced: number }[] = [];
    for (let round = 0; round < EDITS; round++) {
      for (const [kind, paths, status] of [['allow', ['/a', '/b'], '200'], ['deny', ['/a'], '403']] as const) {
        await sleep(300);
        const before = applied.length;
        const written = Date.now();
        writeAtomically(path.join(dirs.config, 'policy.yaml'), policy(paths));
        const enforcedAt = await until(status, written);
        const appliedAt = applied.slice(before).find((t) => t >= written) ?? NaN;
        samples.push({ kind, applied: appliedAt - written, enforced: enforcedAt - written });
        progress(`policy edit → enforcement (${kind} /b, round ${round + 1}/${EDITS}): proxy applied after ${appliedAt - written} ms, client saw ${status} after ${enforcedAt - written} ms`);
      }
    }
    const rows = (['allow', 'deny'] as const).map((kind) => {
      const mine = samples.filter((s) => s.kind === kind);
      const enforced = mine.map((s) => s.enforced);
      return [
        kind === 'allow' ? 'add `GET /b` to the rule (403 → 200)' : 'take `GET /b` out again (200 → 403)',
        `${fmt(median(mine.map((s) => s.applied)), 0)} ms`,
        `${fmt(median(enforced), 0)} ms (${Math.min(...enforced)}–${Math.max(...enforced)})`,
      ];
    });
    return [
      title,
      '',
      'An Agent (file source, eBPF datapath) with a server and a client pod in network namespaces and the node proxy over xDS; the policy lets the client `GET /a` on the server\'s port ' +
        `through the proxy. A client process in the client pod asks for \`/b\` every 2 ms on one keep-alive connection. Each edit rewrites the policy file (write + rename); ` +
        `times are from the rename, medians of ${EDITS} edits each way (min–max). The agent's file watch debounces ${DEFAULT_AGENT_DEBOUNCE_MS} ms.`,
      '',
      table(['edit', 'proxy applied the new NPDS', 'client sees the new verdict'], rows),
      '',
    ].join('\n');
  } finally {
    client?.kill();
    await proxy?.stop().catch(() => undefined);
    network.close();
    await agent.stop().catch(() => undefined);
    fs.writeFileSync(path.join(CGROUP_V2, 'cgroup.procs'), `${process.pid}\n`);
    await removeNodeDatapath({ pinDir, cgroupPath: cgroup }).catch(() => undefined);
    fs.rmSync(pinDir, { recursive: true, force: true });
    if (fs.existsSync(cgroup)) fs.rmdirSync(cgroup);
    for (const dir of Object.values(dirs)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const sections = ['## L7 policy', '', engineSection(), computationSection(), await editSection()];
  process.stdout.write(`${sections.join('\n')}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`L7 policy bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
