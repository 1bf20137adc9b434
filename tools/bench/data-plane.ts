/**
 * Data-plane bench: the same wrk client against the same nginx static backend, (a) directly,
 * (b) through tendril-proxy (agent + proxy as child processes, as the end-to-end tests run them),
 * (c) through nginx as a reverse proxy with the equivalent route table. Prints a markdown section.
 *
 * Fairness: tendril-proxy is one Node thread, so the nginx proxy runs `worker_processes 1`; both
 * write one access-log line per request to a file, add X-Forwarded-For and X-Request-Id, and keep
 * upstream connections alive. The backend is a separate nginx (worker_processes 2, access log off)
 * answering a static 200, so it is the same for all three targets and far from being the bottleneck.
 *
 * Besides requests/s and latency, each row has the serving process's CPU time per request (from
 * /proc), which moves less than requests/s when other work shares the machine. With
 * BENCH_CPU_PROF_DIR the tendril-proxy profile gets a `.window.json` naming the measured run, so
 * profile-summary.ts leaves out start-up, warm-up and the other targets' runs.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { entryPointCommand } from '@tendril/control-plane';
import type { GcPauseStats, GcStats } from '@tendril/node-proxy';
import { GATEWAY_CLASS, Proc, freePort, gatewayYaml, ms, progress, serviceYaml, table, verdict, waitForHttp } from './common';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** Rounds of measurements, the targets interleaved in each, so load from elsewhere hits every row alike. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_DATA_ROUNDS ?? 3));
/** Also measure node-ceiling-proxy.ts: a Node proxy with no features, with undici, with a lean upstream client, and with a lean server too. */
const NODE_CEILING = process.env.BENCH_NODE_CEILING === '1';
const ROUTES = 20;
/** The request hits the header-match rule on the last path prefix. */
const REQUEST_PATH = `/svc-${String(ROUTES - 1).padStart(2, '0')}/bench`;
const REQUEST_HEADER = { name: 'x-bench', value: 'canary' };

interface WrkResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  socketErrors: string;
}

interface Measurement extends WrkResult {
  /** CPU time (user + system) the serving process(es) used per request; NaN where /proc is unavailable. */
  cpuUsPerRequest: number;
  /** The measured run on the monotonic clock V8's CPU profiles use (process.hrtime), in µs. */
  startUs: number;
  endUs: number;
  /** The serving process's GC pauses during the measured run, where it reports them (tendril-proxy's admin /stats). */
  gc?: GcDuringRun;
}

/** Scavenges and mark-compacts during a measured run. */
interface GcDuringRun {
  scavenge: GcPauseStats;
  markCompact: GcPauseStats;
}

let clockTicksPerSecond: number | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 nearly everywhere). */
function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/** The process and its direct children (an nginx master and its workers). */
function processTree(pid: number): number[] {
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(children ? children.split(/\s+/).map(Number) : [])];
  } catch {
    return [pid];
  }
}

/** CPU seconds (user + system) used so far by `pid` and its direct children; NaN without Linux /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      // Fields after the command name, which is in parentheses and may itself contain spaces.
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      return Number.NaN;
    }
  }
  return ticks / clockTicks();
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

function cpuPerRequest(us: number): string {
  return Number.isNaN(us) ? 'n/a' : `${Math.round(us)} µs`;
}

function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) if (fs.existsSync(candidate)) return candidate;
  return 'nginx';
}

/** The parts of nginx.conf that keep an instance self-contained in `dir` (pid, logs, temp paths). */
function nginxPreamble(dir: string, workers: number | 'auto'): string {
  const asRoot = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${asRoot}daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
`;
}

function nginxHttpPreamble(dir: string): string {
  return `  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
`;
}

function backendConfig(dir: string, port: number): string {
  return `${nginxPreamble(dir, 2)}http {
${nginxHttpPreamble(dir)}  access_log off;
  server {
    listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 "ok\\n"; }
  }
}
`;
}

/** The route table of the tendril HTTPRoute below, as nginx locations with keep-alive upstreams. */
function proxyConfig(dir: string, port: number, backendPort: number): string {
  const upstream = (name: string): string => `  upstream ${name} { server 127.0.0.1:${backendPort}; keepalive 64; }\n`;
  let upstreams = upstream('svc_canary');
  let locations = '';
  for (let i = 0; i < ROUTES; i++) {
    const n = String(i).padStart(2, '0');
    upstreams += upstream(`svc_${n}`);
    locations +=
      i === ROUTES - 1
        ? `    location /svc-${n} { proxy_pass http://$svc_${n}_upstream; }\n`
        : `    location /svc-${n} { proxy_pass http://svc_${n}; }\n`;
  }
  const last = String(ROUTES - 1).padStart(2, '0');
  return `${nginxPreamble(dir, 1)}http {
${nginxHttpPreamble(dir)}  log_format json escape=json '{"start_time":"$time_iso8601","method":"$request_method","path":"$request_uri","protocol":"$server_protocol","response_code":$status,"bytes_received":$request_length,"bytes_sent":$bytes_sent,"duration_ms":$request_time,"upstream_host":"$upstream_addr","upstream_cluster":"$proxy_host","authority":"$host","x_request_id":"$request_id","user_agent":"$http_user_agent"}';
  access_log ${dir}/access.log json;
  map $http_${REQUEST_HEADER.name.replace(/-/g, '_')} $svc_${last}_upstream { ${REQUEST_HEADER.value} svc_canary; default svc_${last}; }
${upstreams}  server {
    listen 127.0.0.1:${port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Request-Id $request_id;
${locations}    location / { return 404; }
  }
}
`;
}

/** One HTTPRoute per path prefix (an HTTPRoute holds at most 16 rules); the last also has the header rule. */
function tendrilConfig(gatewayPort: number, backendPort: number): string {
  const docs = [GATEWAY_CLASS, gatewayYaml(gatewayPort), serviceYaml('svc-canary', backendPort)];
  for (let i = 0; i < ROUTES; i++) {
    const n = String(i).padStart(2, '0');
    docs.push(serviceYaml(`svc-${n}`, backendPort));
    const headerRule =
      i === ROUTES - 1
        ? `
    - matches: [{ path: { type: PathPrefix, value: /svc-${n} }, headers: [{ name: ${REQUEST_HEADER.name}, value: ${REQUEST_HEADER.value} }] }]
      backendRefs: [{ name: svc-canary, port: 8080 }]`
        : '';
    docs.push(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: route-${n}, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /svc-${n} } }]
      backendRefs: [{ name: svc-${n}, port: 8080 }]${headerRule}`);
  }
  return docs.join('\n---\n') + '\n';
}

/** wrk prints latencies like 812.00us, 1.23ms, 1.01s. */
function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

function parseWrk(output: string): WrkResult {
  const pct = (p: string): number => toMs(new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(output)?.[1] ?? '');
  return {
    requestsPerSec: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    requests: Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0),
    socketErrors: /Socket errors:\s+(.*)/.exec(output)?.[1]?.trim() ?? 'none',
  };
}

function wrk(url: string, seconds: number): WrkResult {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '5s', '--latency', '-H', `${REQUEST_HEADER.name}: ${REQUEST_HEADER.value}`, url];
  // wrk stops itself after -d; the timeout only guards against a hung process.
  const output = execFileSync('wrk', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  return parseWrk(output);
}

/** The pauses between two /stats readings (`maxMs` is the longest since the proxy started, so it is not reported per run). */
function gcBetween(before: GcStats, after: GcStats): GcDuringRun {
  const delta = (b: GcPauseStats, a: GcPauseStats): GcPauseStats => ({ count: a.count - b.count, totalMs: a.totalMs - b.totalMs, maxMs: a.maxMs });
  return { scavenge: delta(before.scavenge, after.scavenge), markCompact: delta(before.markCompact, after.markCompact) };
}

/** Reads tendril-proxy's /stats on a connection of its own (a pooled one may have timed out during a run). */
function proxyGcStats(adminPort: number): Promise<GcStats> {
  return new Promise((resolve, reject) => {
    http
      .get(`http://127.0.0.1:${adminPort}/stats`, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          try {
            const stats = JSON.parse(body) as { gc?: GcStats | null };
            if (stats.gc) resolve(stats.gc);
            else reject(new Error(`tendril-proxy /stats has no gc section: ${body.slice(0, 200)}`));
          } catch (err) {
            reject(err as Error);
          }
        });
      })
      .on('error', reject);
  });
}

function describeGc(runs: GcDuringRun[]): string {
  const total = (pick: (r: GcDuringRun) => GcPauseStats): { count: number; totalMs: number } => ({
    count: runs.reduce((n, r) => n + pick(r).count, 0),
    totalMs: runs.reduce((n, r) => n + pick(r).totalMs, 0),
  });
  const scavenge = total((r) => r.scavenge);
  const markCompact = total((r) => r.markCompact);
  const mean = scavenge.count > 0 ? scavenge.totalMs / scavenge.count : 0;
  return (
    `tendril-proxy garbage collection during its measured runs (admin /stats): ${scavenge.count} scavenges, ${mean.toFixed(2)} ms mean pause; ` +
    `${markCompact.count} mark-compacts, ${markCompact.totalMs.toFixed(1)} ms in all.`
  );
}

async function measure(label: string, url: string, pid: number | undefined, warmUp: boolean, gcStats?: () => Promise<GcStats>): Promise<Measurement> {
  if (warmUp) {
    progress(`${label}: warm-up ${WARMUP_S}s`);
    wrk(url, WARMUP_S);
  }
  progress(`${label}: measuring ${DURATION_S}s with ${CONNECTIONS} keep-alive connections`);
  const gcBefore = await gcStats?.();
  const cpuBefore = cpuSeconds(pid);
  const startUs = monotonicUs();
  const result = wrk(url, DURATION_S);
  const endUs = monotonicUs();
  const cpuUsPerRequest = ((cpuSeconds(pid) - cpuBefore) * 1e6) / result.requests;
  const gcAfter = await gcStats?.();
  const gc = gcBefore && gcAfter ? gcBetween(gcBefore, gcAfter) : undefined;
  progress(
    `${label}: ${Math.round(result.requestsPerSec)} req/s, p50 ${ms(result.p50Ms)}, p99 ${ms(result.p99Ms)}, non-2xx ${result.non2xx}, CPU ${cpuPerRequest(cpuUsPerRequest)} per request`,
  );
  return { ...result, cpuUsPerRequest, startUs, endUs, gc };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A target's rounds as one row: medians of the rates, latencies and CPU cost; totals of the counts. */
function summarize(rounds: Measurement[]): Measurement {
  return {
    requestsPerSec: median(rounds.map((r) => r.requestsPerSec)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    requests: rounds.reduce((sum, r) => sum + r.requests, 0),
    non2xx: rounds.reduce((sum, r) => sum + r.non2xx, 0),
    socketErrors: [...new Set(rounds.map((r) => r.socketErrors))].join('; '),
    cpuUsPerRequest: median(rounds.map((r) => r.cpuUsPerRequest)),
    startUs: rounds[0].startUs,
    endUs: rounds[rounds.length - 1].endUs,
  };
}

/** The last access-log line must name the header-match rule's upstream, or the proxies did different work. */
function assertRoutedTo(accessLog: string, cluster: string): void {
  const fd = fs.openSync(accessLog, 'r');
  const size = fs.fstatSync(fd).size;
  const tail = Buffer.alloc(Math.min(size, 64 * 1024));
  fs.readSync(fd, tail, 0, tail.length, size - tail.length);
  fs.closeSync(fd);
  const lines = tail.toString('utf8').trim().split('\n').filter((l) => l.includes('"response_code"'));
  const last = lines[lines.length - 1] ?? '';
  if (!last.includes(`"upstream_cluster":"${cluster}"`)) throw new Error(`expected the request to be routed to ${cluster}; last access-log line: ${last}`);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-bench-dp-'));
  const procs: Proc[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
  };
  // Never leave an nginx or a tendril process behind, whatever ends this one.
  process.once('exit', () => procs.forEach((p) => p.running && p.child.kill('SIGTERM')));
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));
  try {
    const [backendPort, nginxPort, gatewayPort, xdsPort, agentAdminPort, proxyAdminPort] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const nginx = nginxBinary();

    const backendDir = path.join(dir, 'backend');
    const proxyDir = path.join(dir, 'nginx-proxy');
    const configDir = path.join(dir, 'tendril-config');
    for (const d of [backendDir, proxyDir, configDir]) fs.mkdirSync(d);
    fs.writeFileSync(path.join(backendDir, 'nginx.conf'), backendConfig(backendDir, backendPort));
    fs.writeFileSync(path.join(proxyDir, 'nginx.conf'), proxyConfig(proxyDir, nginxPort, backendPort));
    fs.writeFileSync(path.join(configDir, 'bench.yaml'), tendrilConfig(gatewayPort, backendPort));

    progress(`starting nginx backend on 127.0.0.1:${backendPort} and nginx proxy on 127.0.0.1:${nginxPort} (temp dir ${dir})`);
    const backend = Proc.start('nginx backend', nginx, ['-p', backendDir, '-c', path.join(backendDir, 'nginx.conf'), '-e', path.join(backendDir, 'error.log')], path.join(backendDir, 'stdout.log'));
    procs.push(backend);
    const nginxProxy = Proc.start('nginx proxy', nginx, ['-p', proxyDir, '-c', path.join(proxyDir, 'nginx.conf'), '-e', path.join(proxyDir, 'error.log')], path.join(proxyDir, 'stdout.log'));
    procs.push(nginxProxy);

    progress(`starting tendril agent (xDS 127.0.0.1:${xdsPort}) and proxy (gateway 127.0.0.1:${gatewayPort})`);
    const agentCmd = entryPointCommand('agent');
    const agent = Proc.start(
      'tendril-agent',
      agentCmd.command,
      [...agentCmd.args, '--config', configDir, '--xds-address', `127.0.0.1:${xdsPort}`, '--admin-address', `127.0.0.1:${agentAdminPort}`, '--no-workloads'],
      path.join(dir, 'agent.log'),
      { env: { ...process.env, ...agentCmd.env } },
    );
    procs.push(agent);
    await waitForHttp(`http://127.0.0.1:${agentAdminPort}/healthz`, agent);
    const proxyCmd = entryPointCommand('proxy');
    const profileDir = process.env.BENCH_CPU_PROF_DIR || undefined;
    const profileName = 'data-plane-tendril-proxy.cpuprofile';
    const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', profileName] : [];
    const proxy = Proc.start(
      'tendril-proxy',
      proxyCmd.command,
      [...profile, ...proxyCmd.args, '--xds-address', `127.0.0.1:${xdsPort}`, '--admin-address', `127.0.0.1:${proxyAdminPort}`, '--node-id', 'bench-node'],
      // Its stdout is the access log (one JSON line per request), as nginx's access.log.
      path.join(dir, 'proxy.log'),
      { env: { ...process.env, ...proxyCmd.env } },
    );
    procs.push(proxy);
    await waitForHttp(`http://127.0.0.1:${proxyAdminPort}/ready`, proxy);

    const ceilings: { label: string; url: string; proc: Proc }[] = [];
    if (NODE_CEILING) {
      for (const [client, label] of [
        ['undici', 'Node ceiling: node:http + undici, no features'],
        ['lean', 'Node ceiling: node:http + lean C++-parsed upstream client, no features'],
        ['lean-server', 'Node ceiling: lean C++-parsed server (no node:http) + lean client, no features'],
      ]) {
        const port = await freePort();
        const proc = Proc.start(`node ceiling proxy (${client})`, process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'node-ceiling-proxy.ts'), String(port), String(backendPort), client], path.join(dir, `ceiling-${client}.log`));
        procs.push(proc);
        ceilings.push({ label, url: `http://127.0.0.1:${port}${REQUEST_PATH}`, proc });
      }
    }

    const headers = { [REQUEST_HEADER.name]: REQUEST_HEADER.value };
    // accessLog + cluster: where the last request of a run must have gone (the header-match rule's upstream).
    const targets: { label: string; url: string; proc: Proc; accessLog?: string; cluster?: string; gcStats?: () => Promise<GcStats> }[] = [
      { label: 'direct to backend', url: `http://127.0.0.1:${backendPort}${REQUEST_PATH}`, proc: backend },
      { label: 'tendril-proxy', url: `http://127.0.0.1:${gatewayPort}${REQUEST_PATH}`, proc: proxy, accessLog: path.join(dir, 'proxy.log'), cluster: 'default/svc-canary/8080', gcStats: () => proxyGcStats(proxyAdminPort) },
      { label: 'nginx proxy', url: `http://127.0.0.1:${nginxPort}${REQUEST_PATH}`, proc: nginxProxy, accessLog: path.join(proxyDir, 'access.log'), cluster: 'svc_canary' },
    ];
    targets.push(...ceilings);
    // Both proxies must route the bench request and reject a path outside the table, or the numbers mean nothing.
    for (const t of targets) await waitForHttp(t.url, t.proc, 30_000, { headers });
    for (const t of targets.slice(1, 3)) await waitForHttp(t.url.replace(REQUEST_PATH, '/not-routed'), t.proc, 10_000, {}, 404);

    // Round by round, every target in turn: a burst of load from elsewhere lands on one round of
    // each rather than on one target, and the tendril/nginx ratio of each round is its own sample.
    const rounds: Measurement[][] = targets.map(() => []);
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`round ${round} of ${ROUNDS}`);
      for (const [i, t] of targets.entries()) {
        rounds[i].push(await measure(t.label, t.url, t.proc.child.pid, round === 1, t.gcStats));
        if (t.accessLog && t.cluster) assertRoutedTo(t.accessLog, t.cluster);
      }
    }
    await stopAll();
    if (profileDir) {
      // profile-summary.ts reads this to summarize only the first measured run, with costs per request.
      const run = rounds[1][0];
      const window = { label: 'tendril-proxy measured run', startUs: run.startUs, endUs: run.endUs, requests: run.requests };
      fs.writeFileSync(path.join(profileDir, `${profileName}.window.json`), JSON.stringify(window, null, 2) + '\n');
    }

    const results = rounds.map(summarize);
    const [direct, tendril, nginxResult] = results;
    const roundRatios = rounds[1].map((t, i) => ({
      rps: t.requestsPerSec / rounds[2][i].requestsPerSec,
      p99: t.p99Ms / rounds[2][i].p99Ms,
      cpu: t.cpuUsPerRequest / rounds[2][i].cpuUsPerRequest,
    }));
    const rpsRatio = median(roundRatios.map((r) => r.rps));
    const p99Ratio = median(roundRatios.map((r) => r.p99));
    const cpuRatio = median(roundRatios.map((r) => r.cpu));
    const eachRound = (values: string[]): string => (values.length > 1 ? ` (rounds: ${values.join(', ')})` : '');
    const rows = targets.map((t, i) => {
      const r = results[i];
      return [t.label, Math.round(r.requestsPerSec), ms(r.p50Ms), ms(r.p99Ms), r.requests, r.non2xx, r.socketErrors, cpuPerRequest(r.cpuUsPerRequest)];
    });
    const percentOf = (a: Measurement, b: Measurement): string => `${((a.requestsPerSec / b.requestsPerSec) * 100).toFixed(0)}%`;
    const ceilingLine =
      ceilings.length > 0
        ? `Node ceilings (node-ceiling-proxy.ts, no routing, access log or timeouts): with undici, as tendril-proxy sends upstream, ${percentOf(results[3], nginxResult)} of nginx's requests/s at ${cpuPerRequest(results[3].cpuUsPerRequest)} CPU per request, and tendril-proxy reaches ${percentOf(tendril, results[3])} of it; with a lean upstream client (node's C++ parser on the socket), ${percentOf(results[4], nginxResult)} of nginx's at ${cpuPerRequest(results[4].cpuUsPerRequest)}; with the server side lean too (no node:http), ${percentOf(results[5], nginxResult)} of nginx's at ${cpuPerRequest(results[5].cpuUsPerRequest)}.`
        : '';
    const lines = [
      '## Data plane',
      '',
      `wrk 1 thread, ${CONNECTIONS} keep-alive connections, ${WARMUP_S} s warm-up then ${ROUNDS} round(s) of ${DURATION_S} s per target (targets interleaved; rows are medians over rounds), \`GET ${REQUEST_PATH}\` with \`${REQUEST_HEADER.name}: ${REQUEST_HEADER.value}\`.`,
      `Route table: ${ROUTES} path-prefix rules + 1 header-match rule (the request hits the header rule on the last prefix), ${ROUTES + 1} upstream clusters.`,
      'Backend: nginx static `return 200` (worker_processes 2, no access log) — the same for all three targets and not the bottleneck (see the direct row).',
      'nginx proxy: worker_processes 1 (tendril-proxy is one Node thread), upstream keepalive 64, JSON access log to a file, X-Forwarded-For + X-Request-Id; tendril-proxy writes its JSON access log to a file too.',
      '',
      table(['target', 'requests/s', 'p50', 'p99', 'requests', 'non-2xx', 'socket errors', 'server CPU per request'], rows),
      '',
      'Server CPU per request: user + system CPU time of the serving process(es) (nginx master and workers; the tendril-proxy process) during the measured run, divided by the requests served. It moves less with other load on the machine than requests/s does.',
      '',
      table(
        ['goal', 'target', 'measured', 'result'],
        [
          ['tendril throughput vs nginx', '≥ 50%', `${(rpsRatio * 100).toFixed(0)}%${eachRound(roundRatios.map((r) => `${(r.rps * 100).toFixed(0)}%`))}`, verdict(rpsRatio >= 0.5)],
          ['tendril p99 vs nginx', '≤ 2×', `${p99Ratio.toFixed(2)}×${eachRound(roundRatios.map((r) => `${r.p99.toFixed(2)}×`))}`, verdict(p99Ratio <= 2)],
        ],
      ),
      '',
      ceilingLine,
      '',
      describeGc(rounds[1].flatMap((r) => (r.gc ? [r.gc] : []))),
      '',
      Number.isNaN(cpuRatio) ? '' : `tendril-proxy uses ${cpuRatio.toFixed(2)}×${eachRound(roundRatios.map((r) => `${r.cpu.toFixed(2)}×`))} nginx's CPU per request (for reference: ≥ 50% of nginx's requests/s needs about ≤ 2× on a machine where the proxy is CPU-bound).`,
      '',
      `Direct-to-backend headroom: ${Math.round(direct.requestsPerSec)} req/s.`,
      '',
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await stopAll();
    if (!process.env.BENCH_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`data-plane bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
