import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Condition, KubeObject } from '@tendril/api-k8s';
import { Agent, DEFAULT_CONTROLLER_NAME } from '@tendril/control-plane';
import { proxyDatapathAccess } from '@tendril/datapath';
import { removeNodeDatapath } from '@tendril/endpoints';
import { runtimeNodeProxy, type NodeProxy } from '@tendril/node-proxy';
import { ProxyRuntime } from '@tendril/proxy';
import { grpcEchoServiceDefinition, type GrpcEchoResponse } from '@tendril/api-gateway';
import { stringify } from 'yaml';
import { isDistribution, isHttpCheck, normaliseChecks, type HttpCheck } from './checks';
import { waitFor } from './environment';
import type { ConformanceOutcome, ConformanceTestResult } from './runner';
import { DEFAULT_SUITE_DIR, Suite } from './suite';
import { UPSTREAM_CONSISTENCY, UPSTREAM_WEIGHTED_TRAFFIC, backendOfPod, consistently, weightedDistribution, type ConsistencyRules } from './traffic';

/*
 * The MESH-HTTP and MESH-GRPC profiles (GAMMA) without a cluster, as root: the mesh fixtures
 * (mesh/manifests.yaml) run as pods in network namespaces with the eBPF datapath, their echo
 * containers replaced by `tendril echo`; the node proxy (in process, with the datapath's transparent
 * network) serves the mesh listener. Each request is sent from inside the client pod — the echo-v1
 * pod of gateway-conformance-mesh, or of the consumer namespace when the check says so — by a small
 * HTTP client that resolves Service names to ClusterIPs as cluster DNS would (`echo` in the client's
 * namespace, `echo-v1.gateway-conformance-mesh`) and sends the name as Host, as the Istio echo
 * client does. As upstream's mesh comparison: only the status code, request headers seen by the
 * backend, response headers and the answering pod's name prefix are compared.
 */

const MESH_NAMESPACE = 'gateway-conformance-mesh';
const CONSUMER_NAMESPACE = 'gateway-conformance-mesh-consumer';
const POD_READY_TIMEOUT_MS = 300_000;
const DELETE_TIMEOUT_MS = 30_000;
/** The echo containers' HTTP port (Services map 80 and 8080 to it). */
const ECHO_PORT = 8080;
/** The echo containers' gRPC (GrpcEcho) port, the Services' `grpc` port. */
const GRPC_PORT = 7070;
const GRPC_ECHO_PATH = '/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo';
/**
 * How long a client process may take beyond its requests' own timeouts: starting node (and loading
 * grpc-js) in the pod takes seconds on a loaded machine, and a process killed for being slow to
 * start says nothing about the mesh.
 */
const CLIENT_START_ALLOWANCE_MS = 30_000;
const CGROUP_V2 = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';

/**
 * The client run inside a pod (`ip netns exec`): `count` GETs (or `method`) to address:port with the
 * given Host and headers, each on its own connection; prints one JSON line per request with the
 * status, response headers and echo body, or the error.
 */
const CLIENT = `const spec = JSON.parse(process.argv[1]);
const http = require('http');
const one = () => new Promise((resolve) => {
  const timer = setTimeout(() => { req.destroy(); resolve({ error: 'timeout' }); }, spec.timeoutMs);
  const req = http.request({ host: spec.address, port: spec.port, path: spec.path, method: spec.method, headers: spec.headers, agent: false }, (res) => {
    let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode, headers: res.headers, body }); });
  });
  req.on('error', (e) => { clearTimeout(timer); resolve({ error: e.code || e.message }); });
  req.end();
});
(async () => { for (let i = 0; i < spec.count; i++) console.log(JSON.stringify(await one())); })();`;

/**
 * The gRPC client run inside a pod: `count` unary GrpcEcho/Echo calls (empty request) with the given
 * metadata, each on a channel of its own; prints one JSON line per call with the status code and the
 * raw response (base64), which the runner decodes with the GrpcEcho service definition.
 */
const GRPC_CLIENT = `const spec = JSON.parse(process.argv[1]);
const grpc = require(spec.grpcJs);
const one = () => new Promise((resolve) => {
  const client = new grpc.Client(spec.address + ':' + spec.port, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(spec.metadata)) metadata.add(k, v);
  client.makeUnaryRequest(spec.path, (b) => b, (b) => b, Buffer.alloc(0), metadata, { deadline: Date.now() + spec.timeoutMs }, (err, res) => {
    client.close();
    resolve(err ? { code: err.code, details: err.details } : { code: 0, response: res.toString('base64') });
  });
});
(async () => { for (let i = 0; i < spec.count; i++) console.log(JSON.stringify(await one())); })();`;

/** A GrpcEcho call of a mesh test: metadata sent, and what the backend must have seen. */
interface MeshGrpcCheck {
  meshGrpc: { host: string; port: number; metadata: Record<string, string> };
  expect: { backend?: string; requestHeadersSeenByBackend: Record<string, string>; absentRequestHeaders: string[] };
  label: string;
}

interface GrpcAnswer {
  code: number;
  details?: string;
  response?: string;
}

interface ClientAnswer {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string;
  error?: string;
}

export interface MeshRunOptions {
  tests: readonly string[];
  suiteDir?: string;
  consistency?: ConsistencyRules;
  log?: (line: string) => void;
}

/** Why the mesh profiles cannot run here, or undefined when they can. */
export function meshUnavailable(): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'the mesh profiles need root: pods in network namespaces and the eBPF datapath steer their Service traffic to the node proxy';
}

function sh(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${file}: ${stderr || err.message}`)) : resolve(stdout))),
  );
}

function lookup<T>(map: Record<string, T>, name: string): T | undefined {
  const key = Object.keys(map).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : map[key];
}

function joined(value: string | string[] | undefined): string | undefined {
  return value === undefined ? undefined : Array.isArray(value) ? value.join(',') : value;
}

/**
 * The inventory's mesh checks, in the shape normaliseChecks reads: what the mesh comparison never
 * looks at (a declared redirect Location, a declared backend path) is dropped, and `from` (which
 * client pod) is taken out and returned beside the check.
 */
/**
 * The inventory's gRPC mesh checks: GrpcEcho calls to grpc://echo:7070 with metadata
 * ({client, target, metadata, expect}), or "grpc://echo:7070 from echo-v1" expecting OK. The client
 * is always the mesh namespace's echo-v1 pod, as upstream's mesh client.
 */
function meshGrpcCheck(raw: Record<string, unknown>): MeshGrpcCheck | undefined {
  const request = raw['request'];
  const target = typeof raw['target'] === 'string' ? raw['target'] : typeof request === 'string' && request.startsWith('grpc://') ? request.split(' ')[0] : undefined;
  if (target === undefined && raw['metadata'] === undefined) return undefined;
  const url = new URL(target ?? `grpc://echo:${GRPC_PORT}`);
  const metadata = (raw['metadata'] ?? {}) as Record<string, string>;
  const e = (typeof raw['expect'] === 'object' && raw['expect'] !== null ? raw['expect'] : {}) as Record<string, unknown>;
  return {
    meshGrpc: { host: url.hostname, port: Number(url.port || GRPC_PORT), metadata },
    expect: {
      ...(typeof e['backend'] === 'string' ? { backend: e['backend'] } : {}),
      requestHeadersSeenByBackend: (e['requestHeadersSeenByBackend'] ?? {}) as Record<string, string>,
      absentRequestHeaders: (e['absentRequestHeaders'] ?? []) as string[],
    },
    label: `GrpcEcho/Echo to ${url.host}${Object.keys(metadata).length ? ` [${Object.entries(metadata).map(([k, v]) => `${k}: ${v}`).join(', ')}]` : ''}`,
  };
}

function isMeshGrpcCheck(check: unknown): check is MeshGrpcCheck {
  return typeof check === 'object' && check !== null && 'meshGrpc' in check;
}

/** The mesh comparison of a gRPC answer: OK, the pod prefix and the metadata the backend saw. */
export function meshGrpcProblem(check: MeshGrpcCheck, answer: GrpcAnswer): string | undefined {
  if (answer.code !== 0) return `status code ${answer.code}${answer.details ? ` (${answer.details})` : ''}, want OK`;
  const decoded = grpcEchoServiceDefinition().Echo.responseDeserialize(Buffer.from(answer.response ?? '', 'base64')) as GrpcEchoResponse;
  const assertions = decoded.assertions;
  if (!assertions) return 'the OK answer carries no assertions: not the conformance echo server';
  const problems: string[] = [];
  const pod = assertions.context?.pod ?? '';
  if (check.expect.backend !== undefined && !pod.startsWith(check.expect.backend)) problems.push(`answered by pod ${JSON.stringify(pod)}, want ${check.expect.backend}-…`);
  const seen: Record<string, string[]> = {};
  for (const h of assertions.headers ?? []) (seen[(h.key ?? '').toLowerCase()] ??= []).push(h.value ?? '');
  for (const [name, want] of Object.entries(check.expect.requestHeadersSeenByBackend)) {
    // Repeated metadata reaches the echo server as one comma-separated value ("a, b"): a list either way.
    const got = seen[name.toLowerCase()]?.join(',').replace(/,\s+/g, ',');
    if (got !== want) problems.push(`backend saw metadata ${name}: ${got === undefined ? 'absent' : JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  for (const name of check.expect.absentRequestHeaders) if (seen[name.toLowerCase()] !== undefined) problems.push(`backend saw metadata ${name}, want it removed`);
  return problems.length ? problems.join('; ') : undefined;
}

type MeshCheck = { check: ReturnType<typeof normaliseChecks>[number] | MeshGrpcCheck; consumer: boolean };

function meshChecks(raw: unknown[]): MeshCheck[] {
  let previous: Record<string, unknown> | undefined;
  return raw.flatMap((entry): MeshCheck[] => {
    if (!entry || typeof entry !== 'object') return normaliseChecks([entry]).map((check) => ({ check, consumer: false }));
    const copy = structuredClone(entry) as Record<string, unknown>;
    const grpc = meshGrpcCheck(copy);
    if (grpc) return [{ check: grpc, consumer: false }];
    // "headers": "same" with "same header expectations, …": the previous check's headers and expectations on another path.
    if (copy['headers'] === 'same' && previous) {
      copy['headers'] = previous['headers'];
      if (typeof copy['expect'] === 'string' && copy['expect'].startsWith('same')) copy['expect'] = previous['expect'];
    }
    // A bare status code ("expect": 404) is the expected status.
    if (typeof copy['expect'] === 'number') copy['expect'] = { status: copy['expect'] };
    // MeshFrontendHostname: the URL's host (the Service dialled) and the Host header sent apart.
    const request = copy['request'];
    if (request && typeof request === 'object' && ('url host' in request || 'Host header' in request)) {
      const { ['url host']: dialled, ['Host header']: hostHeader, ...rest } = request as Record<string, unknown>;
      copy['request'] = { ...rest, host: dialled, headers: { ...((rest['headers'] ?? {}) as Record<string, string>), Host: hostHeader } };
    }
    const from = typeof copy['from'] === 'string' ? copy['from'] : '';
    delete copy['from'];
    delete copy['declaredBackendPath'];
    if (copy['expect'] && typeof copy['expect'] === 'object') delete (copy['expect'] as Record<string, unknown>)['declaredRedirect'];
    previous = copy;
    return normaliseChecks([copy]).map((check) => ({ check, consumer: from.includes(CONSUMER_NAMESPACE) }));
  });
}

/** The upstream mesh comparison: status, request headers seen, response headers, pod-name prefix. */
export function meshProblem(check: HttpCheck, answer: ClientAnswer): string | undefined {
  if (answer.error !== undefined) return `request failed: ${answer.error}`;
  const { expect } = check;
  if (!expect.status.includes(answer.status ?? 0)) return `status ${answer.status}, want ${expect.status.join(' or ')}`;
  const problems: string[] = [];
  const responseHeaders = answer.headers ?? {};
  for (const [name, want] of Object.entries(expect.responseHeaders)) {
    const got = joined(lookup(responseHeaders, name));
    if (got !== want) problems.push(`response header ${name}: ${got === undefined ? 'absent' : JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  for (const name of expect.absentResponseHeaders) if (lookup(responseHeaders, name) !== undefined) problems.push(`response header ${name} present, want absent`);
  const wantsEcho = expect.backend !== undefined || Object.keys(expect.requestHeadersSeenByBackend).length > 0 || expect.absentRequestHeaders.length > 0;
  if (wantsEcho) {
    let echo: { pod?: string; headers?: Record<string, string[]> };
    try {
      echo = JSON.parse(answer.body ?? '') as typeof echo;
    } catch {
      return `response body is not the echo backend's JSON: ${(answer.body ?? '').slice(0, 120)}`;
    }
    if (expect.backend !== undefined && !(echo.pod ?? '').startsWith(expect.backend)) problems.push(`answered by pod ${JSON.stringify(echo.pod)}, want ${expect.backend}-…`);
    const seen = echo.headers ?? {};
    for (const [name, want] of Object.entries(expect.requestHeadersSeenByBackend)) {
      const got = joined(lookup(seen, name));
      if (got !== want) problems.push(`backend saw header ${name}: ${got === undefined ? 'absent' : JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    for (const name of expect.absentRequestHeaders) if (lookup(seen, name) !== undefined) problems.push(`backend saw header ${name}, want it removed`);
  }
  return problems.length ? problems.join('; ') : undefined;
}

/** The mesh fixtures with `tendril echo` as every echo container. */
function meshFixtures(suite: Suite): KubeObject[] {
  const objects = suite.manifests('mesh/manifests.yaml');
  return objects.map((o) => {
    if (o.kind !== 'Deployment') return o;
    const spec = structuredClone(o.spec) as { template: { spec: { containers: Array<Record<string, unknown>> } } };
    spec.template.spec.containers = spec.template.spec.containers.map((c) => ({
      name: c['name'],
      image: 'tendril-echo',
      command: ['tendril', 'echo', '--port', String(ECHO_PORT), '--h2c-port', '0', '--grpc-port', String(GRPC_PORT)],
      ports: [{ containerPort: ECHO_PORT, protocol: 'TCP' }, { containerPort: GRPC_PORT, protocol: 'TCP' }],
    }));
    return { ...o, spec };
  });
}

/**
 * One run of mesh tests: the fixtures applied once, each test's manifests on top and deleted after,
 * as the upstream suite runs them.
 */
export class MeshConformanceSession {
  readonly suite: Suite;
  private readonly rules: ConsistencyRules;
  private readonly log: (line: string) => void;
  private readonly tag = randomBytes(3).toString('hex');
  private readonly pinDir = `/sys/fs/bpf/tdlt-mesh-conf-${this.tag}`;
  private readonly cgroup = `${CGROUP_V2}/tdlt-mesh-conf-${this.tag}`;
  private readonly configDir = mkdtempSync(path.join(os.tmpdir(), 'tendril-mesh-conformance-'));
  private readonly ipamDir = mkdtempSync(path.join(os.tmpdir(), 'tendril-mesh-conformance-ipam-'));
  private agent: Agent | undefined;
  private proxy: NodeProxy | undefined;
  private network: ReturnType<typeof proxyDatapathAccess> | undefined;

  constructor(private readonly opts: MeshRunOptions) {
    this.suite = new Suite(opts.suiteDir ?? DEFAULT_SUITE_DIR);
    this.rules = opts.consistency ?? UPSTREAM_CONSISTENCY;
    this.log = opts.log ?? (() => undefined);
  }

  private apply(file: string, objects: readonly KubeObject[]): void {
    const tmp = path.join(this.configDir, `.${file}.tmp`);
    writeFileSync(tmp, objects.map((o) => stringify(o)).join('---\n'));
    renameSync(tmp, path.join(this.configDir, file));
  }

  async start(): Promise<void> {
    const unavailable = meshUnavailable();
    if (unavailable) throw new Error(unavailable);
    mkdirSync(this.cgroup, { recursive: true });
    // The pods (and the clients run in them) inherit this process's cgroup: the one the ClusterIP load balancer serves.
    writeFileSync(path.join(this.cgroup, 'cgroup.procs'), `${process.pid}\n`);
    const bytes = randomBytes(3);
    const portBase = 23_000 + (bytes.readUInt16BE(0) % 400) * 10;
    const emit = (component: string) => (level: string) => (obj: object, msg?: string) => this.log(`[${component}] ${level}: ${msg ?? ''} ${JSON.stringify(obj)}`);
    const logger = (component: string) => ({ debug: () => undefined, info: () => undefined, warn: emit(component)('warn'), error: emit(component)('error') });
    this.apply('00-mesh.yaml', meshFixtures(this.suite));
    this.agent = new Agent({
      configDir: this.configDir,
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      logger: logger('agent'),
      controllerName: DEFAULT_CONTROLLER_NAME,
      runWorkloads: true,
      podNetwork: { mode: 'netns', namePrefix: `tdmc${this.tag.slice(0, 2)}-`, podCidr: `10.${240 + ((bytes[2] ?? 0) % 10)}.${bytes[0] ?? 0}.0/24`, ipamDataDir: this.ipamDir },
      datapath: { pinDir: this.pinDir, cgroupPath: this.cgroup },
      proxyPorts: { http: { ingress: portBase + 1, egress: portBase + 2 }, kafka: { ingress: portBase + 3, egress: portBase + 4 }, dns: { ingress: portBase + 5, egress: portBase + 6 } },
      meshProxyPort: portBase + 7,
      writePodOutput: (line) => this.log(line),
    });
    const { xdsPort } = await this.agent.start();
    const network = (this.network = proxyDatapathAccess(this.pinDir));
    const runtime = new ProxyRuntime({ logger: logger('proxy'), accessLog: () => undefined, drainTimeoutMs: 1_000, transparentNetwork: network });
    this.proxy = runtimeNodeProxy({ xdsAddress: `127.0.0.1:${xdsPort}`, runtime, logger: logger('proxy'), nodeId: 'mesh-conformance-node' });
    await this.proxy.start();
    await waitFor('the mesh pods Ready and enforced', POD_READY_TIMEOUT_MS, () => {
      const pods = this.agent?.store.list<KubeObject<unknown, { conditions?: Condition[]; podIP?: string }>>({ kind: 'Pod' }) ?? [];
      const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length >= 3 ? true : undefined;
    });
  }

  async stop(): Promise<void> {
    for (const file of readdirSync(this.configDir)) rmSync(path.join(this.configDir, file), { force: true });
    await waitFor('the pods to stop', 30_000, () => ((this.agent?.store.list({ kind: 'Pod' }).length ?? 0) === 0 ? true : undefined)).catch((err: Error) => this.log(err.message));
    await this.proxy?.stop();
    this.network?.close();
    await this.agent?.stop();
    writeFileSync(path.join(CGROUP_V2, 'cgroup.procs'), `${process.pid}\n`);
    await removeNodeDatapath({ pinDir: this.pinDir, cgroupPath: this.cgroup }).catch((err: Error) => this.log(err.message));
    rmSync(this.pinDir, { recursive: true, force: true });
    if (existsSync(this.cgroup)) rmdirSync(this.cgroup);
    rmSync(this.configDir, { recursive: true, force: true });
    rmSync(this.ipamDir, { recursive: true, force: true });
  }

  /** The netns of the client pod: the echo-v1 pod of the mesh namespace, or of the consumer namespace. */
  private async clientNetns(consumer: boolean): Promise<string> {
    const namespace = consumer ? CONSUMER_NAMESPACE : MESH_NAMESPACE;
    const pods = (await this.agent?.localPods()) ?? [];
    const pod = pods.find((p) => p.namespace === namespace && backendOfPod(p.name) === 'echo-v1' && p.ready && p.netns);
    if (!pod?.netns) throw new Error(`no ready echo-v1 client pod in ${namespace}`);
    return pod.netns;
  }

  /**
   * Cluster DNS for the client: `name` in the client's namespace, `name.namespace[.svc…]`, or an
   * address as is; `<app pod IP>` (MeshFrontend dials a pod directly) is the address of that app's
   * pod in the client's namespace.
   */
  private async resolve(host: string, clientNamespace: string): Promise<string | undefined> {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return host;
    const podIp = /^<([a-z0-9-]+) pod IP>$/.exec(host);
    if (podIp) {
      const pods = (await this.agent?.localPods()) ?? [];
      return pods.find((p) => p.namespace === clientNamespace && backendOfPod(p.name) === podIp[1] && p.ready && p.ip)?.ip;
    }
    const [name, namespace = clientNamespace] = host.split('.');
    const manager = this.agent?.nodeEnforcement();
    return manager?.enabled ? manager.manager.serviceClusterIps()[`${namespace}/${name}`] : undefined;
  }

  /** `count` requests of the check from the client pod. */
  private async send(check: HttpCheck, consumer: boolean, count: number): Promise<ClientAnswer[]> {
    const dialled = check.request.host ?? 'echo';
    const portAt = dialled.lastIndexOf(':');
    const hostName = portAt < 0 ? dialled : dialled.slice(0, portAt);
    const portText = portAt < 0 ? undefined : dialled.slice(portAt + 1);
    const clientNamespace = consumer ? CONSUMER_NAMESPACE : MESH_NAMESPACE;
    const address = await this.resolve(hostName, clientNamespace);
    if (!address) return [{ error: `cannot resolve ${hostName} from ${clientNamespace}` }];
    const pathWithQuery = check.request.query ? `${check.request.path}?${check.request.query}` : check.request.path;
    const spec = {
      address,
      port: Number(portText ?? 80),
      path: pathWithQuery,
      method: check.request.method,
      // The URL's host is the Host header unless the check sends one of its own (as the echo client's -H Host:…).
      headers: { host: dialled, ...Object.fromEntries(Object.entries(check.request.headers).map(([k, v]) => [k.toLowerCase() === 'host' ? 'host' : k, v])) },
      count,
      timeoutMs: this.rules.requestTimeoutMs,
    };
    const netns = await this.clientNetns(consumer);
    let out: string;
    try {
      out = await sh('ip', ['netns', 'exec', netns, process.execPath, '-e', CLIENT, JSON.stringify(spec)], this.rules.requestTimeoutMs * Math.max(1, count) + CLIENT_START_ALLOWANCE_MS);
    } catch (err) {
      // A client that could not run is a failed attempt, which the consistency rules retry.
      return [{ error: `the client in ${netns} did not finish: ${(err as Error).message.split('\n')[0]}` }];
    }
    return out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as ClientAnswer);
  }

  /** `count` GrpcEcho calls of the check from the mesh client pod. */
  private async sendGrpc(check: MeshGrpcCheck, count: number): Promise<GrpcAnswer[]> {
    const address = await this.resolve(check.meshGrpc.host, MESH_NAMESPACE);
    if (!address) return [{ code: -1, details: `cannot resolve ${check.meshGrpc.host} from ${MESH_NAMESPACE}` }];
    const spec = { grpcJs: require.resolve('@grpc/grpc-js'), address, port: check.meshGrpc.port, path: GRPC_ECHO_PATH, metadata: check.meshGrpc.metadata, count, timeoutMs: this.rules.requestTimeoutMs };
    const netns = await this.clientNetns(false);
    let out: string;
    try {
      out = await sh('ip', ['netns', 'exec', netns, process.execPath, '-e', GRPC_CLIENT, JSON.stringify(spec)], this.rules.requestTimeoutMs * Math.max(1, count) + CLIENT_START_ALLOWANCE_MS);
    } catch (err) {
      return [{ code: -1, details: `the gRPC client in ${netns} did not finish: ${(err as Error).message.split('\n')[0]}` }];
    }
    return out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as GrpcAnswer);
  }

  async run(name: string): Promise<ConformanceTestResult> {
    const startedAt = Date.now();
    const result = (outcome: ConformanceOutcome, failures: string[]): ConformanceTestResult => ({ name, outcome, failures, durationMs: Date.now() - startedAt });
    const test = this.suite.test(name);
    const checks = meshChecks(test.checks);
    const unsupported = checks.flatMap(({ check }) => (!isMeshGrpcCheck(check) && 'unsupported' in check ? [check.unsupported] : []));
    if (unsupported.length > 0) return result('not-run', unsupported.map((u) => `check the mesh runner cannot execute: ${u}`));
    const objects = this.suite.testManifests(test, { gatewayClassName: 'tendril-conformance', controllerName: DEFAULT_CONTROLLER_NAME });
    const file = `test-${name}.yaml`;
    this.apply(file, objects);
    try {
      const failures: string[] = [];
      for (const { check, consumer } of checks) {
        if (isMeshGrpcCheck(check)) {
          const failure = await consistently(check.label, () => ({ address: '', port: 0 }), async () => meshGrpcProblem(check, (await this.sendGrpc(check, 1))[0] ?? { code: -1, details: 'no answer' }), this.rules);
          if (failure) failures.push(failure);
        } else if (isHttpCheck(check)) {
          const failure = await consistently(check.label, () => ({ address: '', port: 0 }), async () => meshProblem(check, (await this.send(check, consumer, 1))[0] ?? { error: 'no answer' }), this.rules);
          if (failure) failures.push(failure);
        } else if (isDistribution(check) && failures.length === 0) {
          const failure = await this.distribution(objects);
          if (failure) failures.push(failure);
        } else if (!isDistribution(check)) {
          return result('not-run', [`check the mesh runner cannot execute: ${JSON.stringify(check).slice(0, 200)}`]);
        }
      }
      return result(failures.length ? 'failed' : 'passed', failures);
    } catch (err) {
      return result('failed', [(err as Error).message]);
    } finally {
      rmSync(path.join(this.configDir, file), { force: true });
      await waitFor(`the objects of ${name} to be deleted`, DELETE_TIMEOUT_MS, () =>
        objects.every((o) => !this.agent?.store.list({ kind: o.kind ?? '' }, o.metadata.namespace).some((x) => x.metadata.name === o.metadata.name)) ? true : undefined,
      ).catch((err: Error) => this.log(err.message));
    }
  }

  /** The weighted split of the test's one multi-backend rule, sampled in batches from the client pod (`client --count=N` upstream). */
  private async distribution(objects: readonly KubeObject[]): Promise<string | undefined> {
    type Rule = { matches?: Array<{ path?: { value?: string } }>; backendRefs?: Array<{ name: string; weight?: number }> };
    const rules = objects.flatMap((o) => (((o.spec ?? {}) as { rules?: Rule[] }).rules ?? []).filter((r) => (r.backendRefs?.length ?? 0) > 1).map((rule) => ({ kind: o.kind, rule })));
    if (rules.length !== 1) return `a weighted-traffic check needs exactly one rule with several backendRefs; the test has ${rules.length}`;
    const [{ kind, rule }] = rules as [{ kind: string; rule: Rule }];
    const refs = rule.backendRefs ?? [];
    const total = refs.reduce((n, r) => n + (r.weight ?? 1), 0);
    const shares = Object.fromEntries(refs.map((r) => [r.name, (r.weight ?? 1) / total]));
    const requests = UPSTREAM_WEIGHTED_TRAFFIC.requests;
    const podsAnswering = async (): Promise<string[]> => {
      if (kind === 'GRPCRoute') {
        const call: MeshGrpcCheck = { meshGrpc: { host: 'echo', port: GRPC_PORT, metadata: {} }, expect: { requestHeadersSeenByBackend: {}, absentRequestHeaders: [] }, label: 'GrpcEcho/Echo' };
        return (await this.sendGrpc(call, requests)).map((a) => {
          if (a.code !== 0) throw new Error(`gRPC status code ${a.code}${a.details ? ` (${a.details})` : ''}`);
          return (grpcEchoServiceDefinition().Echo.responseDeserialize(Buffer.from(a.response ?? '', 'base64')) as GrpcEchoResponse).assertions?.context?.pod ?? '';
        });
      }
      const check = normaliseChecks([{ request: { host: 'echo', path: rule.matches?.[0]?.path?.value ?? '/' }, expect: { status: 200 } }])[0] as HttpCheck;
      return (await this.send(check, false, requests)).map((a) => {
        if (a.status !== 200) throw new Error(`status ${a.status ?? a.error}`);
        return (JSON.parse(a.body ?? '{}') as { pod?: string }).pod ?? '';
      });
    };
    // One client process sends a round's requests; the round's concurrent samplers share its batch.
    let batch: string[] = [];
    let pending: Promise<void> | undefined;
    const sample = async (): Promise<string> => {
      while (batch.length === 0) {
        pending ??= podsAnswering()
          .then((pods) => void (batch = pods))
          .finally(() => (pending = undefined));
        await pending;
      }
      return batch.shift() as string;
    };
    return weightedDistribution(sample, shares);
  }
}

/** Runs the named mesh tests in one session. */
export async function runMeshConformanceTests(opts: MeshRunOptions): Promise<ConformanceTestResult[]> {
  const session = new MeshConformanceSession(opts);
  try {
    await session.start();
    const results: ConformanceTestResult[] = [];
    for (const name of opts.tests) results.push(await session.run(name));
    return results;
  } finally {
    await session.stop();
  }
}
