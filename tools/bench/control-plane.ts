/**
 * Control-plane bench, in one process: the real Agent (file source → store → Gateway API
 * translation → xDS snapshot → ADS gRPC server) and a real node proxy (NodeProxy's ADS client →
 * ProxyRuntime) connected over 127.0.0.1. Measures, for 1,000 and 10,000 generated HTTPRoutes,
 * the time from the YAML being written to the proxy having applied it, with a breakdown; then a
 * one-route change at 10,000 routes, timed until a request through the proxy is served by it.
 *
 * Agent and proxy share this process's event loop (in production they are separate processes),
 * so the stages add up instead of overlapping; the breakdown says which stage costs what.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { Session } from 'node:inspector';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { TypeUrl } from '@tendril/api-envoy';
import { Agent } from '@tendril/control-plane';
import { translate } from '@tendril/gateway';
import { NodeProxy, type DataPlaneConfig } from '@tendril/node-proxy';
import { ProxyRuntime, formatConfigError, type ProxyConfig } from '@tendril/proxy';
import { ResourceDecoder, Snapshot, type Logger } from '@tendril/xds';
import { GATEWAY_CLASS, freePort, gatewayYaml, ms, progress, serviceYaml, sleep, table, verdict, writeAtomically } from './common';

const SIZES = (process.env.BENCH_ROUTE_COUNTS ?? '1000,10000').split(',').map(Number);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 300);
const ROUTES_PER_FILE = 100;
const CHANGE_REPEATS = Number(process.env.BENCH_CHANGE_REPEATS ?? 5);
const APPLY_TIMEOUT_MS = 120_000;
const HOST_SUFFIX = 'bench.example';
/** The HTTPRoute the one-route change edits lives alone in this file. */
const EDIT_FILE = 'edit-me.yaml';
const EDIT_HOST = `edit.${HOST_SUFFIX}`;

/**
 * With BENCH_PROFILE_DIR set, each phase (one route count, the one-route changes) is CPU-profiled
 * on its own into <dir>/control-plane-<phase>.cpuprofile (see profile-summary.ts).
 */
class PhaseProfiler {
  private readonly target: { session: Session; dir: string } | undefined;
  constructor(dir: string | undefined) {
    if (!dir) return;
    fs.mkdirSync(dir, { recursive: true });
    const session = new Session();
    session.connect();
    this.target = { session, dir };
  }

  private post<T = unknown>(session: Session, method: string, params?: object): Promise<T> {
    return new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))));
  }

  async start(): Promise<void> {
    if (!this.target) return;
    await this.post(this.target.session, 'Profiler.enable');
    // 200 µs samples (the default is 1 ms): a one-route change's stages take a few milliseconds each.
    await this.post(this.target.session, 'Profiler.setSamplingInterval', { interval: 200 });
    await this.post(this.target.session, 'Profiler.start');
  }

  async stop(phase: string): Promise<void> {
    if (!this.target) return;
    const { profile } = await this.post<{ profile: object }>(this.target.session, 'Profiler.stop');
    const file = path.join(this.target.dir, `control-plane-${phase}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    progress(`CPU profile of ${phase}: ${file}`);
  }
}

/** One apply() call of the data plane, as the node proxy made it. */
interface ApplyRecord {
  startedAt: number;
  endedAt: number;
  benchHosts: number;
  domains: Set<string>;
  paths: Set<string>;
}

interface TranslationRecord {
  at: number;
  ms: number;
  routes: number;
  /** The agent's own split of that translation: translate, snapshot build, push to the xDS streams, status writes. */
  phases: Record<string, number>;
}

/** One decode of an xDS resource by the node proxy. */
interface DecodeRecord {
  startedAt: number;
  ms: number;
}

function routeYaml(name: string, host: string, pathPrefix: string, service: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  hostnames: [${host}]
  rules:
    - matches: [{ path: { type: PathPrefix, value: ${pathPrefix} } }]
      backendRefs: [{ name: ${service}, port: 8080 }]`;
}

/** `count` HTTPRoutes with distinct hostnames and paths: (count-1) in files of 100, one alone in EDIT_FILE. */
function routeFiles(count: number, editPath: string): Map<string, string> {
  const files = new Map<string, string>();
  const bulk = count - 1;
  for (let f = 0; f * ROUTES_PER_FILE < bulk; f++) {
    const docs: string[] = [];
    for (let i = f * ROUTES_PER_FILE; i < Math.min(bulk, (f + 1) * ROUTES_PER_FILE); i++) {
      docs.push(routeYaml(`r-${i}`, `r-${i}.${HOST_SUFFIX}`, `/p-${i}`, `svc-${i % SERVICES}`));
    }
    files.set(`routes-${String(f).padStart(3, '0')}.yaml`, docs.join('\n---\n') + '\n');
  }
  files.set(EDIT_FILE, editRouteYaml(editPath));
  return files;
}

function editRouteYaml(pathPrefix: string): string {
  return routeYaml('edit-me', EDIT_HOST, pathPrefix, 'svc-0') + '\n';
}

function baseYaml(gatewayPort: number, backendPort: number): string {
  const docs = [GATEWAY_CLASS, gatewayYaml(gatewayPort)];
  for (let s = 0; s < SERVICES; s++) docs.push(serviceYaml(`svc-${s}`, backendPort));
  return docs.join('\n---\n') + '\n';
}

/**
 * What an applied configuration holds, worked out when first asked for: a pass over ten thousand
 * virtual hosts inside the apply hook would delay the proxy's next request, and so the measurement.
 */
function lazySummary(config: DataPlaneConfig): Omit<ApplyRecord, 'startedAt' | 'endedAt'> {
  let summary: ReturnType<typeof summarize> | undefined;
  return {
    get benchHosts() {
      return (summary ??= summarize(config)).benchHosts;
    },
    get domains() {
      return (summary ??= summarize(config)).domains;
    },
    get paths() {
      return (summary ??= summarize(config)).paths;
    },
  };
}

function summarize(config: DataPlaneConfig): Omit<ApplyRecord, 'startedAt' | 'endedAt'> {
  const domains = new Set<string>();
  const paths = new Set<string>();
  let benchHosts = 0;
  for (const rc of config.routes as Array<{ virtual_hosts?: Array<{ domains?: string[]; routes?: Array<{ match?: { prefix?: string; path_separated_prefix?: string } }> }> }>) {
    for (const vh of rc.virtual_hosts ?? []) {
      for (const d of vh.domains ?? []) {
        if (d.endsWith(HOST_SUFFIX)) benchHosts++;
        if (d === EDIT_HOST) {
          domains.add(d);
          for (const r of vh.routes ?? []) paths.add(r.match?.path_separated_prefix ?? r.match?.prefix ?? '');
        }
      }
    }
  }
  return { benchHosts, domains, paths };
}

/** Resolves with the first apply (at or after `since`) that satisfies `done`. */
function waitForApply(applies: ApplyRecord[], since: number, done: (a: ApplyRecord) => boolean): Promise<ApplyRecord> {
  const deadline = Date.now() + APPLY_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const hit = applies.find((a) => a.startedAt >= since && done(a));
      if (hit) return resolve(hit);
      if (Date.now() > deadline) return reject(new Error(`the proxy did not apply the expected configuration within ${APPLY_TIMEOUT_MS} ms`));
      setTimeout(check, 5);
    };
    check();
  });
}

/** What one one-route change cost, stage by stage (ms; times named "→"/at are from the file write). */
interface ChangeRecord {
  toStore: number;
  translations: number;
  agentTranslate: number;
  agentSnapshot: number;
  agentPush: number;
  agentStatus: number;
  agentMs: number;
  translated: number;
  /** When the proxy began decoding the changed configuration. */
  received: number;
  decodeMs: number;
  applyMs: number;
  applied: number;
  served: number;
  polls: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-bench-cp-'));
  const configDir = path.join(dir, 'config');
  fs.mkdirSync(configDir);

  const backend = http.createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const backendPort = (backend.address() as { port: number }).port;
  const gatewayPort = await freePort();
  fs.writeFileSync(path.join(configDir, 'base.yaml'), baseYaml(gatewayPort, backendPort));

  const translations: TranslationRecord[] = [];
  const agentLogger: Logger = {
    info: (obj: Record<string, unknown>, msg?: string) => {
      if (msg === 'configuration translated') translations.push({ at: performance.now(), ms: Number(obj.ms), routes: Number(obj.routes), phases: (obj.phases ?? {}) as Record<string, number> });
    },
    warn: () => undefined,
    debug: () => undefined,
    error: (obj: object, msg?: string) => progress(`agent error: ${msg} ${JSON.stringify(obj)}`),
  };
  const agent = new Agent({ configDir, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', logger: agentLogger, runWorkloads: false });
  let storeChangedAt = 0;
  agent.store.onChange(() => {
    storeChangedAt ||= performance.now();
  });
  const { xdsPort } = await agent.start();

  const applies: ApplyRecord[] = [];
  const runtime = new ProxyRuntime({ accessLog: () => undefined });
  const quiet: Logger = { info: () => undefined, warn: () => undefined, debug: () => undefined, error: (obj: object, msg?: string) => progress(`proxy error: ${msg} ${JSON.stringify(obj)}`) };
  const decoder = new ResourceDecoder();
  const decodes: DecodeRecord[] = [];
  const proxy = new NodeProxy({
    target: `127.0.0.1:${xdsPort}`,
    node: { id: 'bench-node', cluster: 'tendril', user_agent_name: 'tendril-proxy' },
    protocol: 'delta',
    decodeAny: (any) => {
      const startedAt = performance.now();
      const decoded = decoder.decode(any);
      decodes.push({ startedAt, ms: performance.now() - startedAt });
      return decoded;
    },
    logger: quiet,
    dataPlane: {
      apply: async (config) => {
        const startedAt = performance.now();
        const result = await runtime.apply(config as unknown as ProxyConfig);
        if (!result.accepted) throw new Error(result.errors.map(formatConfigError).join('; '));
        const endedAt = performance.now();
        applies.push(Object.assign(lazySummary(config), { startedAt, endedAt }));
      },
      close: () => runtime.close(),
    },
  });
  await proxy.start();

  const profiler = new PhaseProfiler(process.env.BENCH_PROFILE_DIR);
  const rows: (string | number)[][] = [];
  const goals: (string | number)[][] = [];
  const detail: string[] = [];
  try {
    await waitForApply(applies, 0, () => true);
    progress(`agent (xDS 127.0.0.1:${xdsPort}) and proxy (gateway 127.0.0.1:${gatewayPort}) up with ${SERVICES} Services`);

    for (const size of SIZES) {
      // Start each size from no routes so every size measures the same thing.
      for (const f of fs.readdirSync(configDir)) if (f !== 'base.yaml') fs.rmSync(path.join(configDir, f));
      await waitForApply(applies, 0, (a) => a === applies[applies.length - 1] && a.benchHosts === 0);
      await sleep(500);

      progress(`${size} HTTPRoutes: writing ${Math.ceil(size / ROUTES_PER_FILE)} files`);
      const files = routeFiles(size, '/edit-0');
      const appliesBefore = applies.length;
      const translationsBefore = translations.length;
      storeChangedAt = 0;
      await profiler.start();
      const t0 = performance.now();
      for (const [name, content] of files) writeAtomically(path.join(configDir, name), content);
      const written = performance.now();
      const applied = await waitForApply(applies, t0, (a) => a.benchHosts === size);
      await profiler.stop(`${size}-routes`);
      const ts = translations.slice(translationsBefore).filter((t) => t.at <= applied.startedAt);
      const lastTranslation = ts[ts.length - 1];
      const proxyApplies = applies.slice(appliesBefore).filter((a) => a.endedAt <= applied.endedAt);
      const applyMs = proxyApplies.reduce((sum, a) => sum + (a.endedAt - a.startedAt), 0);

      // The same translation and snapshot build offline, on the agent's store, to split the agent's time.
      const resources = agent.store.all();
      const tt = performance.now();
      // As the agent translates: proxyless gRPC resources only for hostnames gRPC clients asked for (none here).
      const result = translate({ resources, controllerName: 'tendril.io/gateway-controller', now: new Date().toISOString(), options: { defaultAddress: '127.0.0.1', proxylessHostnames: new Set() } });
      const translateMs = performance.now() - tt;
      const ts2 = performance.now();
      const { listeners, routes, clusters, endpoints, secrets } = result.envoy;
      Snapshot.fromResources('offline', [
        ...clusters.map((r) => ({ typeUrl: TypeUrl.Cluster, resource: r as Record<string, unknown> })),
        ...endpoints.map((r) => ({ typeUrl: TypeUrl.ClusterLoadAssignment, resource: r as Record<string, unknown> })),
        ...secrets.map((r) => ({ typeUrl: TypeUrl.Secret, resource: r as Record<string, unknown> })),
        ...listeners.map((r) => ({ typeUrl: TypeUrl.Listener, resource: r as Record<string, unknown> })),
        ...routes.map((r) => ({ typeUrl: TypeUrl.RouteConfiguration, resource: r as Record<string, unknown> })),
      ]);
      const snapshotMs = performance.now() - ts2;

      const total = applied.endedAt - t0;
      const toStore = storeChangedAt - t0;
      const agentMs = ts.reduce((sum, t) => sum + t.ms, 0);
      const pushMs = applied.startedAt - (lastTranslation?.at ?? applied.startedAt);
      rows.push([
        size.toLocaleString('en-US'),
        ms(written - t0),
        ms(toStore),
        `${ms(agentMs)} (${ts.length}×)`,
        `${ms(translateMs)} / ${ms(snapshotMs)}`,
        ms(pushMs),
        `${ms(applyMs)} (${proxyApplies.length}×)`,
        `**${ms(total)}**`,
      ]);
      if (size === 10_000) {
        // The goal names translation and push: a cold translation + snapshot of all routes (the offline
        // run, no memo), the push and the proxy's apply. Reading 100 YAML files is shown apart.
        const translatedPushedApplied = translateMs + snapshotMs + pushMs + applyMs;
        goals.push(['10,000 routes translated + pushed + applied (cold translate + snapshot, push, proxy apply)', '< 2 s', ms(translatedPushedApplied), verdict(translatedPushedApplied < 2_000)]);
        goals.push(['10,000 routes from writing 100 YAML files to applied (adds watch, YAML parse, validation)', 'no goal', ms(total), '—']);
      }
      progress(`${size} HTTPRoutes: applied after ${ms(total)} (translations: ${ts.map((t) => t.ms).join(', ')} ms)`);
    }

    // One-route change at the largest size: move edit-me to a new path, poll until the proxy routes it.
    const size = SIZES[SIZES.length - 1];
    const changes: ChangeRecord[] = [];
    await sleep(300);
    await profiler.start();
    for (let n = 1; n <= CHANGE_REPEATS; n++) {
      await sleep(300);
      const newPath = `/edit-${n}`;
      const translationsBefore = translations.length;
      storeChangedAt = 0;
      const t0 = performance.now();
      writeAtomically(path.join(configDir, EDIT_FILE), editRouteYaml(newPath));
      let polls = 0;
      const deadline = Date.now() + APPLY_TIMEOUT_MS;
      for (;;) {
        polls++;
        const res = await request(`http://127.0.0.1:${gatewayPort}${newPath}/x`, { headers: { host: EDIT_HOST }, headersTimeout: 5_000, bodyTimeout: 5_000 });
        await res.body.dump();
        if (res.statusCode === 200) break;
        if (Date.now() > deadline) throw new Error(`the changed route was not served within ${APPLY_TIMEOUT_MS} ms (last status ${res.statusCode})`);
        await sleep(2);
      }
      const served = performance.now();
      const applied = applies.find((a) => a.startedAt >= t0 && a.paths.has(newPath));
      const ts = translations.slice(translationsBefore);
      const phase = (name: string): number => ts.reduce((sum, t) => sum + (t.phases[name] ?? 0), 0);
      const during = <T extends { startedAt: number }>(records: T[]): T[] => records.filter((r) => r.startedAt >= t0 && r.startedAt <= served);
      const c: ChangeRecord = {
        toStore: storeChangedAt - t0,
        translations: ts.length,
        agentTranslate: phase('translate'),
        agentSnapshot: phase('snapshot'),
        agentPush: phase('push'),
        agentStatus: phase('status'),
        agentMs: ts.reduce((sum, t) => sum + t.ms, 0),
        translated: ts.length ? ts[ts.length - 1].at - t0 : NaN,
        received: during(decodes).length ? during(decodes)[0].startedAt - t0 : NaN,
        decodeMs: during(decodes).reduce((sum, d) => sum + d.ms, 0),
        applyMs: during(applies).reduce((sum, a) => sum + (a.endedAt - a.startedAt), 0),
        applied: applied ? applied.endedAt - t0 : NaN,
        served: served - t0,
        polls,
      };
      changes.push(c);
      // With --expose-gc the heap figure is live data only, which tells retention from garbage.
      (globalThis as { gc?: () => void }).gc?.();
      progress(
        `one-route change #${n}: store ${ms(c.toStore)}, translated ${ms(c.translated)} (agent ${ms(c.agentMs)}: translate ${ms(c.agentTranslate)}, snapshot ${ms(c.agentSnapshot)}, ` +
          `push ${ms(c.agentPush)}, status ${ms(c.agentStatus)}), received ${ms(c.received)}, decode ${ms(c.decodeMs)}, applied ${ms(c.applied)} (apply ${ms(c.applyMs)}), served ${ms(c.served)} after ${polls} polls; ` +
          `heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MiB`,
      );
    }
    await profiler.stop('one-route-change');
    const m = (key: keyof ChangeRecord): number => median(changes.map((c) => c[key]));
    const worst = Math.max(...changes.map((c) => c.served));
    goals.push([`one-route change at ${size.toLocaleString('en-US')} routes served`, '< 100 ms', `${ms(m('served'))} median, ${ms(worst)} worst`, verdict(m('served') < 100)]);
    detail.push(
      table(
        [
          `one-route change at ${size.toLocaleString('en-US')} routes (median of ${changes.length})`,
          'write → store (watch, debounce, parse, validate)',
          'agent: translate',
          'agent: snapshot',
          'agent: push',
          'agent: status writes',
          'write → translated',
          'write → proxy received',
          'proxy: decode',
          'proxy: apply',
          'write → applied',
          'write → first 200 through the proxy',
        ],
        [
          [
            'time',
            ms(m('toStore')),
            ms(m('agentTranslate')),
            ms(m('agentSnapshot')),
            ms(m('agentPush')),
            ms(m('agentStatus')),
            ms(m('translated')),
            ms(m('received')),
            ms(m('decodeMs')),
            ms(m('applyMs')),
            ms(m('applied')),
            `**${ms(m('served'))}**`,
          ],
        ],
      ),
    );
  } finally {
    await proxy.stop();
    await agent.stop();
    await new Promise<void>((resolve) => backend.close(() => resolve()));
    backend.closeAllConnections();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const lines = [
    '## Control plane',
    '',
    `In-process Agent (file source → translation → ADS gRPC on 127.0.0.1) and node proxy (delta xDS client → ProxyRuntime), ${SERVICES} Services with static EndpointSlices,`,
    `HTTPRoutes with distinct hostnames and path prefixes in files of ${ROUTES_PER_FILE}. Each size starts from zero routes; times are from the first file write.`,
    'Columns: agent = sum of the agent\'s "configuration translated" durations (translate + snapshot build + status writes, N translations);',
    'translate / snapshot = the same work repeated offline on the final store; push = from the last translation to the proxy starting its final apply',
    '(delta xDS encode, gRPC, decode, earlier per-type applies); proxy apply = sum of ProxyRuntime.apply calls (one per xDS type received).',
    '',
    table(['HTTPRoutes', 'write files', 'write → store', 'agent (translations)', 'translate / snapshot (offline)', 'push', 'proxy apply', 'total until applied'], rows),
    '',
    ...detail,
    '',
    table(['goal', 'target', 'measured', 'result'], goals),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`control-plane bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
