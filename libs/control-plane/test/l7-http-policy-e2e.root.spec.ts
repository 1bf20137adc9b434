import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unpackAny } from '@tendril/api-envoy';
import { proxyDatapathAccess } from '@tendril/datapath';
import { NodeProxy } from '@tendril/node-proxy';
import { ProxyRuntime, formatConfigError, type AccessLogEntry, type ProxyConfig, type TransparentNetwork } from '@tendril/proxy';
import { eventually } from '@tendril/testing';
import { silentLogger } from '@tendril/xds';
import type { AgentStatus, EndpointView } from '../src';
import { BYPASS_CORPUS, H2_BYPASS_PATHS, H2_SENDER, RAW_SENDER } from './http-bypass-corpus';
import { tendril } from './harness';
import { deployment, NetnsAgentNode, sh } from './netns-agent';

/*
 * HTTP L7 policy end to end (policy-semantics.md §8 cases 5–14 and 16), as root: one Agent runs a
 * `store` server and `web`, `batch` and `mon` client pods in network namespaces with the eBPF
 * datapath; a node proxy (ProxyRuntime over xDS) enforces the rules on the datapath's redirect.
 * Every request is sent from inside a client pod twice, by undici and by curl, and both must see
 * the same answers. Policies are switched by rewriting one file; `eventually` waits for each to be
 * enforced. The proxy here resolves client identities from NPHDS only (the agent runs with
 * proxyUsesNphds and the proxy's own ipcache reader answers nothing), so this suite also covers
 * that path; l7-redirect-e2e covers the pinned-ipcache one.
 */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('HTTP L7 policy end to end skipped: network namespaces and eBPF programs need root');

jest.setTimeout(300_000);

/**
 * The store: answers every request with JSON of what it received (method, target, raw headers) and
 * appends "<route>" to a log file, where route is the path its own router would serve (WHATWG URL
 * parsing, as a typical Node backend): a /private route there means the private handler ran.
 */
const SERVER = `const fs = require('fs'); const log = process.argv[1];
require('http').createServer((q, s) => {
  let route; try { route = new URL(q.url, 'http://store').pathname; } catch { route = q.url; }
  fs.appendFileSync(log, q.method + ' ' + route + '\\n');
  q.resume(); q.on('end', () => { s.setHeader('content-type', 'application/json'); s.end(JSON.stringify({ method: q.method, url: q.url, headers: q.rawHeaders })); });
}).listen(8080)`;

/** undici inside a pod: `node -e UNDICI <undici> <origin> <json [{method, path, headers}]>` → JSON [{status, body}] (status 0: no answer). */
const UNDICI = `const { Client } = require(process.argv[1]);
const [origin, json] = process.argv.slice(2);
(async () => { const out = [];
  for (const r of JSON.parse(json)) {
    const client = new Client(origin, { connectTimeout: 1500 });
    try {
      const res = await client.request({ path: r.path, method: r.method, headers: r.headers, signal: AbortSignal.timeout(2500) });
      out.push({ status: res.statusCode, body: await res.body.text() });
    } catch (e) { out.push({ status: 0, body: e.code || e.name }); }
    client.destroy().catch(() => undefined);
  }
  console.log(JSON.stringify(out)); process.exit(0); })();`;

interface Probe {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** What a client run reports per request: undici's and curl's answers, which must agree. */
interface Observed {
  readonly undici: Answer[];
  readonly curl: Answer[];
}

const CURL_MARK = '\n@@tendril-status ';

/** Runs a command, resolving its stdout even when it exits non-zero (curl does, for a dropped connection). */
function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(file, args, { timeout: 60_000, maxBuffer: 8 << 20 }, (err, stdout) => (err && err.killed ? reject(err) : resolve(stdout))));
}

/** A CiliumNetworkPolicy selecting the store, with the given ingress items (YAML flow mappings). */
const storePolicy = (name: string, ...items: string[]): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: ${name}, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: store } }
  ingress:
${items.map((i) => `    - ${i}`).join('\n')}
`;
const from = (app: string, http?: string): string =>
  `{ fromEndpoints: [{ matchLabels: { app: ${app} } }], toPorts: [{ ports: [{ port: "8080", protocol: TCP }]${http ? `, rules: { http: ${http} }` : ''} }] }`;

(isRoot ? describe : describe.skip)('HTTP L7 policy through the node proxy (needs root)', () => {
  const node = new NetnsAgentNode('l7h');
  const serverLog = path.join(os.tmpdir(), `tendril-l7h-store-${randomBytes(4).toString('hex')}.log`);
  const accessLog: AccessLogEntry[] = [];
  const nacks: string[] = [];
  let proxy: NodeProxy | undefined;
  let runtime: ProxyRuntime | undefined;
  /** The last configuration the agent sent, to re-apply after withholding its policy. */
  let lastConfig: ProxyConfig | undefined;
  const datapath = proxyDatapathAccess(node.pinDir);
  /** The datapath's sockets, but an ipcache that knows nobody: identities must come from NPHDS. */
  const network: TransparentNetwork = {
    bpfRoot: datapath.bpfRoot,
    listenerFd: (host, port) => datapath.listenerFd(host, port),
    markedSocket: (direction, identity) => datapath.markedSocket(direction, identity),
    egressVerdict: (source, destination, port) => datapath.egressVerdict(source, destination, port),
    identityOf: () => undefined,
  };
  const undiciPath = require.resolve('undici');
  const pods = new Map<string, EndpointView>();
  const pod = async (app: string): Promise<EndpointView> => {
    const known = pods.get(app);
    if (known) return known;
    const [found] = await node.enforcedPods(app, 1);
    pods.set(app, found!);
    return found!;
  };

  /** Sends the probes from `app`'s pod with undici, then with curl. */
  async function send(app: string, probes: readonly Probe[]): Promise<Observed> {
    const client = await pod(app);
    const store = await pod('store');
    const origin = `http://${store.ip}:8080`;
    const undici = JSON.parse(await run('ip', ['netns', 'exec', client.netns!, process.execPath, '-e', UNDICI, undiciPath, origin, JSON.stringify(probes)])) as Answer[];
    const curlArgs = probes.flatMap((p, i) => [
      ...(i > 0 ? ['--next'] : []),
      '-s', '--path-as-is', '--connect-timeout', '1.5', '-m', '2.5',
      ...(p.method === 'HEAD' ? ['--head'] : ['-X', p.method]),
      ...Object.entries(p.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
      '-w', `${CURL_MARK}%{http_code}\n`,
      `${origin}${p.path}`,
    ]);
    const text = await run('ip', ['netns', 'exec', client.netns!, 'curl', ...curlArgs]);
    const curl = text.split(/\n@@tendril-status (\d{3})\n/).reduce<Answer[]>((out, part, i, parts) => (i % 2 === 1 ? [...out, { status: Number(part), body: parts[i - 1]! }] : out), []);
    return { undici, curl };
  }

  /** Both clients get exactly these statuses (0 = no answer: dropped in the datapath). */
  async function expectStatuses(app: string, cases: readonly (readonly [Probe, number])[]): Promise<Observed> {
    const observed = await send(app, cases.map(([p]) => p));
    const expected = cases.map(([p, status]) => `${p.method} ${p.path} ${JSON.stringify(p.headers ?? {})} → ${status}`);
    const got = (answers: Answer[]): string[] => cases.map(([p], i) => `${p.method} ${p.path} ${JSON.stringify(p.headers ?? {})} → ${answers[i]?.status ?? 'nothing'}`);
    try {
      expect({ undici: got(observed.undici), curl: got(observed.curl) }).toEqual({ undici: expected, curl: expected });
    } catch (err) {
      // What the agent's enforcement says at that moment (a failed endpoint drops everything: fail closed).
      const policy = (JSON.parse(await sh('curl', ['-s', '-m', '5', `http://${node.adminAddress}/api/v1/status`])) as AgentStatus).policy;
      throw new Error(`${(err as Error).message}\nagent enforcement: ${JSON.stringify(policy)}`);
    }
    return observed;
  }

  /** Switches the store's policy and waits until both clients see `cases` answered as given. */
  async function enforce(policy: string, app: string, cases: readonly (readonly [Probe, number])[]): Promise<Observed> {
    node.write('policy.yaml', policy);
    return eventually(() => expectStatuses(app, cases), 20_000, 200);
  }

  /** The headers the store received, from its JSON echo, as [name, value] pairs with lower-case names. */
  const receivedHeaders = (answer: Answer | undefined): [string, string][] => {
    const raw = (JSON.parse(answer?.body ?? '{}') as { headers?: string[] }).headers ?? [];
    const out: [string, string][] = [];
    for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
    return out;
  };
  const headerValues = (answer: Answer | undefined, name: string): string[] => receivedHeaders(answer).filter(([n]) => n === name).map(([, v]) => v);

  const get = (p: string, headers?: Record<string, string>): Probe => ({ method: 'GET', path: p, ...(headers ? { headers } : {}) });

  beforeAll(async () => {
    node.write(
      'apps.yaml',
      [
        deployment('store', [process.execPath, '-e', SERVER, serverLog], { port: 8080 }),
        deployment('web', ['sleep', 'infinity']),
        deployment('batch', ['sleep', 'infinity']),
        deployment('mon', ['sleep', 'infinity']),
      ].join('---\n'),
    );
    node.write('policy.yaml', storePolicy('store', from('web', '[{}]')));
    const { xdsPort } = await node.startAgent({ proxyUsesNphds: true });
    runtime = new ProxyRuntime({ logger: silentLogger, accessLog: (entry) => accessLog.push(entry), drainTimeoutMs: 1_000, transparentNetwork: network });
    const served = runtime;
    proxy = new NodeProxy({
      target: `127.0.0.1:${xdsPort}`,
      node: { id: 'tendril-node', cluster: 'tendril', user_agent_name: 'tendril-proxy' },
      protocol: 'delta',
      decodeAny: (any) => unpackAny(any),
      logger: silentLogger,
      dataPlane: {
        apply: async (config) => {
          const result = await served.apply(config as unknown as ProxyConfig);
          if (!result.accepted) {
            nacks.push(...result.errors.map(formatConfigError));
            throw new Error(result.errors.map(formatConfigError).join('; '));
          }
          lastConfig = config as unknown as ProxyConfig;
        },
        close: () => served.close(),
      },
    });
    await proxy.start();
  });

  afterAll(async () => {
    await proxy?.stop();
    datapath.close();
    await node.cleanup();
    fs.rmSync(serverLog, { force: true });
  });

  it('the redirect works with identities from NPHDS alone; a port the proxy has no policy for yet is denied (403), never allowed', async () => {
    await eventually(() => expectStatuses('web', [[get('/anything'), 200]]), 60_000, 200);
    const entry = accessLog.find((e) => e.path === '/anything');
    expect(entry).toMatchObject({ listener: 'tendril-http-ingress', response_code: 200, l7_policy: { verdict: 'allowed', reason: expect.stringContaining('CiliumNetworkPolicy default/store') } });
    // The proxy as it is before its first NPDS arrives: listeners and NPHDS, no NetworkPolicy.
    const config = lastConfig!;
    expect((await runtime!.apply({ ...config, networkPolicies: [] })).accepted).toBe(true);
    try {
      await expectStatuses('web', [[get('/anything-unpoliced'), 403]]);
      expect(accessLog.find((e) => e.path === '/anything-unpoliced')).toMatchObject({ upstream_host: null, l7_policy: { verdict: 'denied', reason: expect.stringMatching(/^no ingress L7 policy for /) } });
    } finally {
      await runtime!.apply(config);
    }
    await expectStatuses('web', [[get('/anything'), 200]]);
  });

  it('§8 case 5: the path is a full match including the query', async () => {
    await enforce(storePolicy('store', from('web', '[{ method: GET, path: "/items" }]')), 'web', [
      [get('/items'), 200],
      [get('/items/7'), 403],
      [get('/items?page=2'), 403],
    ]);
    await enforce(storePolicy('store', from('web', '[{ method: GET, path: "/items(/.*)?(\\\\?.*)?" }]')), 'web', [
      [get('/items'), 200],
      [get('/items/7'), 200],
      [get('/items?page=2'), 200],
    ]);
  });

  it('§8 case 6: method and host are full RE2 matches; the authority keeps its port', async () => {
    await enforce(storePolicy('store', from('web', '[{ method: "GET|PUT", host: "store\\\\.shop\\\\.svc" }]')), 'web', [
      [{ method: 'HEAD', path: '/', headers: { host: 'store.shop.svc' } }, 403],
      [{ method: 'PUT', path: '/', headers: { host: 'store.shop.svc' } }, 200],
      [{ method: 'POST', path: '/', headers: { host: 'store.shop.svc' } }, 403],
      [get('/', { host: 'store.shop.svc' }), 200],
      [get('/', { host: 'store.shop.svc:80' }), 403],
    ]);
  });

  it('§8 case 7: an L3 allow of the same peer makes L7 unrestricted for it (still through the proxy); other peers are dropped', async () => {
    await enforce(storePolicy('store', `{ fromEndpoints: [{ matchLabels: { app: web } }] }`, from('web', '[{ method: GET, path: "/ok" }]')), 'web', [[{ method: 'POST', path: '/admin' }, 200]]);
    expect(accessLog.filter((e) => e.path === '/admin').at(-1)).toMatchObject({ listener: 'tendril-http-ingress', method: 'POST', response_code: 200, l7_policy: { verdict: 'allowed', reason: expect.stringMatching(/^L7 unrestricted for identity \d+ by CiliumNetworkPolicy default\/store rule 0 ingress\[0\]$/) } });
    await expectStatuses('mon', [[get('/ok'), 0]]);
  });

  it('§8 case 8: a port-wide allow without a peer beats a peer-specific L7 rule, for every peer', async () => {
    await enforce(storePolicy('store', `{ toPorts: [{ ports: [{ port: "8080", protocol: TCP }] }] }`, from('web', '[{ path: "/ok" }]')), 'mon', [[get('/other'), 200]]);
    await expectStatuses('web', [[get('/other'), 200]]);
  });

  it('§8 case 9: HTTP rules OR across policies', async () => {
    node.write('policy-b.yaml', storePolicy('store-b', from('web', '[{ method: POST, path: "/b" }]')));
    await enforce(storePolicy('store', from('web', '[{ method: GET, path: "/a" }]')), 'web', [
      [get('/a'), 200],
      [{ method: 'POST', path: '/b' }, 200],
      [get('/b'), 403],
      [{ method: 'POST', path: '/a' }, 403],
    ]);
    node.remove('policy-b.yaml');
  });

  it('§8 case 10: L7 rules do not leak across peers', async () => {
    await enforce(storePolicy('store', from('web', '[{ path: "/a" }]'), from('batch', '[{ path: "/b" }]')), 'batch', [
      [get('/a'), 403],
      [get('/b'), 200],
    ]);
    await expectStatuses('web', [
      [get('/b'), 403],
      [get('/a'), 200],
    ]);
  });

  it('§8 case 11: legacy `headers` strings: presence, and exact (case-sensitive) values', async () => {
    await enforce(storePolicy('store', from('web', '[{ path: "/pay", headers: ["X-Req-Id", "X-Mode: live"] }]')), 'web', [
      [get('/pay', { 'X-Mode': 'live' }), 403],
      [get('/pay', { 'x-req-id': '1', 'X-Mode': 'Live' }), 403],
      [get('/pay', { 'x-req-id': '1', 'X-Mode': 'live' }), 200],
    ]);
  });

  it('§8 case 12: headerMatches fail by default, with an inline value and with a Secret; rotating the Secret changes enforcement, the policy unchanged', async () => {
    await enforce(storePolicy('store', from('web', '[{ path: "/pay", headerMatches: [{ name: X-Token, value: s3cr3t }] }]')), 'web', [
      [get('/pay'), 403],
      [get('/pay', { 'X-Token': 'nope' }), 403],
      [get('/pay', { 'X-Token': 's3cr3t' }), 200],
    ]);
    const secret = (value: string): string => `apiVersion: v1
kind: Secret
metadata: { name: pay-token, namespace: default }
type: Opaque
data: { token: ${Buffer.from(value).toString('base64')} }
`;
    node.write('secret.yaml', secret('first-value'));
    await enforce(storePolicy('store', from('web', '[{ path: "/pay", headerMatches: [{ name: X-Token, secret: { name: pay-token } }] }]')), 'web', [
      [get('/pay'), 403],
      [get('/pay', { 'X-Token': 's3cr3t' }), 403],
      [get('/pay', { 'X-Token': 'first-value' }), 200],
    ]);
    const deliveredPolicy = JSON.stringify(lastConfig!.networkPolicies);
    expect(deliveredPolicy).toContain('"value_sds_secret":"policy-secret/default/pay-token"');
    expect(deliveredPolicy).not.toContain('first-value');
    node.write('secret.yaml', secret('rotated-value'));
    await eventually(
      () =>
        expectStatuses('web', [
          [get('/pay', { 'X-Token': 'first-value' }), 403],
          [get('/pay', { 'X-Token': 'rotated-value' }), 200],
        ]),
      20_000,
      200,
    );
    expect(JSON.stringify(lastConfig!.networkPolicies)).toBe(deliveredPolicy);
    // Without the Secret (and no inline value) the match can never pass: fail closed.
    node.remove('secret.yaml');
    await eventually(() => expectStatuses('web', [[get('/pay', { 'X-Token': 'rotated-value' }), 403]]), 20_000, 200);
    expect(JSON.stringify(accessLog)).not.toMatch(/first-value|rotated-value/);
  });

  it('§8 case 13: mismatch LOG forwards the request unchanged and the access log names the mismatched header', async () => {
    const observed = await enforce(storePolicy('store', from('web', '[{ path: "/env", headerMatches: [{ name: X-Env, value: prod, mismatch: LOG }] }]')), 'web', [[get('/env', { 'X-Env': 'dev' }), 200]]);
    expect(headerValues(observed.undici[0], 'x-env')).toEqual(['dev']);
    expect(headerValues(observed.curl[0], 'x-env')).toEqual(['dev']);
    expect(accessLog.filter((e) => e.path === '/env').at(-1)).toMatchObject({ response_code: 200, l7_policy: { verdict: 'allowed', mismatched_headers: ['x-env'] } });
    expect(JSON.stringify(accessLog.filter((e) => e.path === '/env'))).not.toContain('prod');
  });

  it('§8 case 14: mismatch ADD, REPLACE and DELETE change what the server receives', async () => {
    const rule = `[{ path: "/edit", headerMatches: [{ name: X-Trace, value: cilium, mismatch: ADD }, { name: X-Tenant, value: t1, mismatch: REPLACE }, { name: X-Debug, value: "off", mismatch: DELETE }] }]`;
    const cases: [Probe, number][] = [
      [get('/edit', { 'X-Trace': 'abc', 'X-Tenant': 't2', 'X-Debug': 'on' }), 200],
      [get('/edit'), 200],
      [get('/edit', { 'X-Trace': 'cilium', 'X-Tenant': 't1', 'X-Debug': 'off' }), 200],
    ];
    const observed = await enforce(storePolicy('store', from('web', rule)), 'web', cases);
    for (const answers of [observed.undici, observed.curl]) {
      const [mismatched, absent, matching] = answers;
      expect([headerValues(mismatched, 'x-trace'), headerValues(mismatched, 'x-tenant'), headerValues(mismatched, 'x-debug')]).toEqual([['abc', 'cilium'], ['t1'], []]);
      expect([headerValues(absent, 'x-trace'), headerValues(absent, 'x-tenant'), headerValues(absent, 'x-debug')]).toEqual([['cilium'], ['t1'], []]);
      expect([headerValues(matching, 'x-trace'), headerValues(matching, 'x-tenant'), headerValues(matching, 'x-debug')]).toEqual([['cilium'], ['t1'], ['off']]);
    }
  });

  it('§8 case 16: an HTTP rule without protocol TCP (or with ANY) is rejected with Cilium’s error; the last valid policy stays', async () => {
    await enforce(storePolicy('store', from('web', '[{ path: "/still" }]')), 'web', [[get('/still'), 200]]);
    const status = async (): Promise<AgentStatus> => JSON.parse(await sh('curl', ['-s', `http://${node.adminAddress}/api/v1/status`])) as AgentStatus;
    for (const [protocol, shown] of [['', ''], ['ANY', 'ANY']] as const) {
      const ports = protocol ? `{ port: "8080", protocol: ${protocol} }` : `{ port: "8080" }`;
      node.write('policy.yaml', storePolicy('store', `{ fromEndpoints: [{ matchLabels: { app: web } }], toPorts: [{ ports: [${ports}], rules: { http: [{}] } }] }`));
      const error = `Invalid CiliumNetworkPolicy spec: L7 rules can only apply to TCP (not ${shown}) except for DNS rules`;
      await eventually(async () => expect((await status()).policy).toMatchObject({ invalidPolicies: [{ policy: 'CiliumNetworkPolicy default/store', error }] }), 10_000, 100);
      await expectStatuses('web', [
        [get('/still'), 200],
        [get('/other'), 403],
      ]);
    }
  });

  it(`bypass corpus: ${BYPASS_CORPUS.length} raw-socket HTTP/1 attempts and ${H2_BYPASS_PATHS.length} HTTP/2 :path walks at /private past \`path: "/public/.*"\` all fail, the private handler never runs, and the proxy stays up`, async () => {
    await enforce(storePolicy('store', from('web', '[{ method: "GET|POST", path: "/public/.*" }]')), 'web', [
      [get('/public/ok'), 200],
      [get('/private'), 403],
    ]);
    const client = await pod('web');
    const store = await pod('store');
    fs.writeFileSync(serverLog, '');
    const results = JSON.parse(
      await run('ip', ['netns', 'exec', client.netns!, process.execPath, '-e', RAW_SENDER, store.ip, '8080', JSON.stringify(BYPASS_CORPUS.map((a) => ({ name: a.name, bytes: a.bytes })))]),
    ) as { name: string; statuses: number[]; closed: boolean; head: string }[];
    const failures = results.flatMap((r, i) => {
      const attempt = BYPASS_CORPUS[i]!;
      const refused = (attempt.carrier ? r.statuses.slice(1) : r.statuses).every((s) => s === 400 || s === 403);
      const answered = r.statuses.length > 0 || r.closed;
      const carrierOk = !attempt.carrier || r.statuses[0] === 200;
      return refused && answered && carrierOk ? [] : [`${r.name} (${attempt.reason}): statuses ${JSON.stringify(r.statuses)}, closed ${r.closed}, ${JSON.stringify(r.head)}`];
    });
    expect(failures).toEqual([]);
    const routes = fs.readFileSync(serverLog, 'utf8').split('\n').filter(Boolean);
    expect(routes.filter((line) => !/^(GET|POST) \/public\//.test(line))).toEqual([]);
    // Only the carriers' honest requests reached the server.
    expect(routes).toHaveLength(BYPASS_CORPUS.filter((a) => a.carrier).length);
    // The same walks as HTTP/2 :path values: each denied (403) or refused (400), and none reaches the server.
    const h2 = JSON.parse(await run('ip', ['netns', 'exec', client.netns!, process.execPath, '-e', H2_SENDER, store.ip, '8080', JSON.stringify([...H2_BYPASS_PATHS, '/public/h2-ok'])])) as number[];
    expect(Object.fromEntries(H2_BYPASS_PATHS.map((p, i) => [p, h2[i] === 400 || h2[i] === 403 ? 'refused' : h2[i]]))).toEqual(Object.fromEntries(H2_BYPASS_PATHS.map((p) => [p, 'refused'])));
    // The control request is allowed by the policy (the store speaks HTTP/1.1 only and the proxy keeps
    // the client's protocol upstream, so it then fails there with a 503): the walks were refused by policy.
    expect(accessLog.find((e) => e.path === '/public/h2-ok')).toMatchObject({ protocol: 'HTTP/2', l7_policy: { verdict: 'allowed' } });
    expect(h2.at(-1)).not.toBe(403);
    expect(fs.readFileSync(serverLog, 'utf8').split('\n').filter(Boolean)).toHaveLength(routes.length);
    // The proxy is still serving.
    await expectStatuses('web', [
      [get('/public/after'), 200],
      [get('/private'), 403],
    ]);
    expect(nacks).toEqual([]);
  });

  it('`tendril policy trace --http` gives the proxy’s verdict and the rule that decided it, from the same engine, as the proxy enforces it', async () => {
    node.write('secret.yaml', `apiVersion: v1\nkind: Secret\nmetadata: { name: pay-token, namespace: default }\ndata: { token: ${Buffer.from('s3cr3t').toString('base64')} }\n`);
    await enforce(storePolicy('store', from('web', '[{ method: GET, path: "/public/.*" }, { path: "/pay", headerMatches: [{ name: X-Token, secret: { name: pay-token } }] }]')), 'web', [
      [get('/public/../private'), 403],
      [get('/public/x'), 200],
      [get('/pay', { 'X-Token': 's3cr3t' }), 200],
    ]);
    const web = await pod('web');
    const store = await pod('store');
    const trace = (...extra: string[]) => tendril(['policy', 'trace', '--src', web.name, '--dst', store.name, '--dport', '8080', '--agent', node.adminAddress, ...extra]);
    const denied = await trace('--http', 'GET:/public/../private');
    expect(denied.stdout).toContain(`Ingress of default/${store.name}: REDIRECTED: `);
    expect(denied.stdout).toContain('  node proxy (HTTP /private): DENIED (403): no HTTP rule matches\n');
    expect(denied.stdout).toMatch(/Final verdict: DENIED by the node proxy: 403 Access denied\n$/);
    const allowed = await trace('--http', 'GET:/public/a/../x');
    expect(allowed.stdout).toContain('  node proxy (HTTP /public/x): ALLOWED: allowed by CiliumNetworkPolicy default/store rule 0 ingress[0]\n    HTTP rule: {"path":"/public/.*","method":"GET"}\n');
    expect(allowed.stdout).toMatch(/Final verdict: ALLOWED: through the node proxy\n$/);
    const withSecret = await trace('--http', 'GET:/pay', '--header', 'X-Token: s3cr3t');
    expect(withSecret.stdout).toContain('HTTP rule: {"path":"/pay","header_matches":[{"name":"X-Token","value_sds_secret":"policy-secret/default/pay-token"}]}');
    expect(withSecret.stdout).toMatch(/Final verdict: ALLOWED: through the node proxy\n$/);
    expect((await trace('--http', 'GET:/pay', '--header', 'X-Token: guess')).stdout).toMatch(/Final verdict: DENIED by the node proxy: 403 Access denied\n$/);
    const bad = await trace('--http', 'GET');
    expect({ code: bad.code, stderr: bad.stderr }).toEqual({ code: 1, stderr: 'Error: --http "GET" is not METHOD:PATH (e.g. GET:/public/index.html)\n' });
    node.remove('secret.yaml');
  });
});
