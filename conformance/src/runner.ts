import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomInt } from 'node:crypto';
import type { Condition, KubeObject } from '@tendril/api-k8s';
import { DEFAULT_CONTROLLER_NAME } from '@tendril/control-plane';
import { isBackendHeaderLoop, isDistribution, isGrpcCheck, isHttpCheck, isUnsupported, isWebSocketEcho, normaliseChecks, type GrpcCheck, type HttpCheck } from './checks';
import { grpcAttempt, grpcPodSampler } from './grpc-traffic';
import { tcpEchoExchange, tcpEchoPod, tlsEchoExchange } from './tcp-echo-traffic';
import { tlsDialRejected } from './tls-client';
import { ConformanceEnvironment, waitFor, type GatewayStatusView } from './environment';
import { upstreamCertificateObjects } from './certificates';
import { withSecretVolumeFiles } from './secret-volumes';
import { RUNTIME_PROCEDURES, type ProcedureContext, type RuntimeProcedure } from './procedures';
import { isUnsupportedStatus, parseStatusChecks, statusEventually, UPSTREAM_STATUS_TIMEOUTS, type StatusAssertion, type StatusTimeouts } from './status-checks';
import { DEFAULT_SUITE_DIR, Suite, type SuiteSubstitutions } from './suite';
import { UPSTREAM_CONSISTENCY, backendHeaderLoop, backendOfPod, consistently, eventuallyConsistent, httpPodSampler, websocketEcho, weightedDistribution, type ConsistencyRules, type GatewayTarget, type PodSampler } from './traffic';

export interface ConformanceRunOptions {
  /**
   * Upstream test names (inventory.json `name`), run in this order. A session may instead be
   * given them by start(), after reading the GatewayClass status (gatewayClassSupportedFeatures()).
   */
  tests?: readonly string[];
  /** The exported upstream suite (…/gateway-api/conformance); default ../shared beside the repository. */
  suiteDir?: string;
  gatewayClassName?: string;
  controllerName?: string;
  /**
   * First loopback address for echo pods. Default: 127.N.0.1 for a /16 N picked at random per
   * session (64 ≤ N < 254, clear of `tendril up`'s 127.11.0.0/16), so that runs on one machine at the
   * same time (CI jobs, jest beside `tendril conformance run`) do not bind each other's addresses.
   */
  firstPodIp?: string;
  /** First loopback address for Gateways; each Gateway gets the next one (default 127.N.128.1, N as above). */
  firstGatewayIp?: string;
  /**
   * Run every base Deployment, not only those the selected tests route to. Off by default: each
   * pod is a Node process, and the unused gRPC/TLS/TCP backends cost a 2-core machine most of a minute.
   */
  allBaseDeployments?: boolean;
  consistency?: ConsistencyRules;
  /** How long each status check may take to hold (default: the upstream status timeouts). */
  statusTimeouts?: StatusTimeouts;
  /** Warnings, errors and pod output of the environment (default: dropped). */
  log?: (line: string) => void;
}

/**
 * `skipped`: the run's options left the test out (upstream SKIPPED: --skip-tests, or not the
 * --run-test); `not-run`: selected, but the runner cannot run it (both count as skipped in a report).
 */
export type ConformanceOutcome = 'passed' | 'failed' | 'skipped' | 'not-run';

export interface ConformanceTestResult {
  name: string;
  outcome: ConformanceOutcome;
  /** Why the test failed, one line per failed check; why it was not run. */
  failures: string[];
  durationMs: number;
}

const INFRA_NAMESPACE = 'gateway-conformance-infra';
const POD_READY_TIMEOUT_MS = 300_000; // upstream namespace readiness
const GATEWAY_READY_TIMEOUT_MS = 180_000; // upstream Gateway condition / address wait
const DELETE_TIMEOUT_MS = 30_000;
/** An address no Gateway here can listen on: TEST-NET-1 (RFC 5737) is never assigned to a host. */
const UNUSABLE_ADDRESS = '192.0.2.1';

interface ParentRef {
  name: string;
  namespace?: string;
  kind?: string;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0) >>> 0;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Every backendRefs[].name and backendRef.name anywhere in the objects, and the `app` its Services select: the Deployments the tests send traffic to. */
function backendNames(objects: readonly KubeObject[]): Set<string> {
  const names = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k === 'backendRefs' && Array.isArray(child)) for (const ref of child) if (typeof ref?.name === 'string') names.add(ref.name);
        // A RequestMirror filter names its backend in a single backendRef.
        if (k === 'backendRef' && typeof (child as { name?: unknown } | null)?.name === 'string') names.add((child as { name: string }).name);
        walk(child);
      }
    }
  };
  walk(objects.map((o) => o.spec));
  // A test's own Service may select a base Deployment's pods (HTTPRouteServiceTypes' headless Service).
  for (const o of objects) {
    const app = o.kind === 'Service' ? ((o.spec ?? {}) as { selector?: Record<string, string> }).selector?.['app'] : undefined;
    if (app) names.add(app);
  }
  return names;
}

interface WeightedRule {
  /** A GRPCRoute rule is sampled with Echo calls, an HTTPRoute rule with GETs of `path`. */
  kind: 'HTTPRoute' | 'GRPCRoute';
  path: string;
  /** Backend Service name → expected share of requests (0..1). */
  shares: Record<string, number>;
}

/**
 * The expected shares of a weighted-traffic check, from the one route rule that splits traffic
 * (backendRef weight defaults to 1, as the CRD defaults it), and the path that reaches it.
 */
function weightedRule(objects: readonly KubeObject[]): WeightedRule {
  type Rule = { matches?: Array<{ path?: { value?: string } }>; backendRefs?: Array<{ name: string; weight?: number }> };
  const rules = objects
    .filter((o) => o.kind === 'HTTPRoute' || o.kind === 'GRPCRoute')
    .flatMap((o) => (((o.spec ?? {}) as { rules?: Rule[] }).rules ?? []).map((rule) => ({ kind: o.kind as WeightedRule['kind'], rule })))
    .filter(({ rule }) => (rule.backendRefs?.length ?? 0) > 1);
  if (rules.length !== 1) throw new Error(`a weighted-traffic check needs exactly one route rule with several backendRefs; the test has ${rules.length}`);
  const [{ kind, rule }] = rules;
  const refs = rule.backendRefs ?? [];
  const total = refs.reduce((n, r) => n + (r.weight ?? 1), 0);
  if (total === 0) throw new Error('every backendRef of the weighted rule has weight 0');
  return {
    kind,
    path: rule.matches?.[0]?.path?.value ?? '/',
    shares: Object.fromEntries(refs.map((r) => [r.name, (r.weight ?? 1) / total])),
  };
}

function servicesByName(objects: readonly KubeObject[]): Map<string, Set<string>> {
  const byName = new Map<string, Set<string>>();
  for (const o of objects) {
    if (o.kind !== 'Service' || !o.metadata.name) continue;
    const namespaces = byName.get(o.metadata.name) ?? new Set<string>();
    namespaces.add(o.metadata.namespace ?? 'default');
    byName.set(o.metadata.name, namespaces);
  }
  return byName;
}

function conditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return (conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

function fileFor(test: string): string {
  return `test-${test}.yaml`;
}

/**
 * Runs upstream Gateway API conformance tests against tendril without a cluster, the way the upstream
 * suite does: base manifests applied once, each test's manifests applied on top and deleted after,
 * traffic checked with the upstream consistency rules.
 */
export class ConformanceSession {
  readonly suite: Suite;
  private readonly subs: SuiteSubstitutions;
  private readonly env: ConformanceEnvironment;
  private readonly rules: ConsistencyRules;
  private readonly gatewayAddresses = new Map<string, string>();
  /** Service name → namespaces of the base Services with that name. */
  private baseServices = new Map<string, Set<string>>();
  private nextGatewayIp: number;
  /** Agent and proxy are running and the GatewayClass is applied. */
  private controlPlaneStarted = false;
  /** The base manifests are applied too, for `tests`: tests can run. */
  private started = false;
  private tests: readonly string[] = [];
  /** The setup's Secrets and CA ConfigMaps (made at start), and where the pods' Secret volumes are written. */
  private certificates: KubeObject[] = [];
  private secretFilesDir: string | undefined;

  constructor(private readonly opts: ConformanceRunOptions) {
    this.suite = new Suite(opts.suiteDir ?? DEFAULT_SUITE_DIR);
    this.subs = { gatewayClassName: opts.gatewayClassName ?? 'tendril-conformance', controllerName: opts.controllerName ?? DEFAULT_CONTROLLER_NAME };
    this.rules = opts.consistency ?? UPSTREAM_CONSISTENCY;
    const block = 64 + randomInt(190);
    this.nextGatewayIp = ipToInt(opts.firstGatewayIp ?? `127.${block}.128.1`);
    this.env = new ConformanceEnvironment({ controllerName: this.subs.controllerName, firstPodIp: opts.firstPodIp ?? `127.${block}.0.1`, log: opts.log ?? (() => undefined) });
  }

  /** The GatewayClass the session's Gateways use. */
  get gatewayClassName(): string {
    return this.subs.gatewayClassName;
  }

  /**
   * Applies the GatewayClass, starts agent and proxy and waits for the class to be Accepted, once;
   * returns the features its status.supportedFeatures lists (upstream infers what to run from them).
   */
  async gatewayClassSupportedFeatures(): Promise<string[]> {
    if (!this.controlPlaneStarted) {
      this.env.apply('00-gatewayclass.yaml', [
        { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: this.subs.gatewayClassName }, spec: { controllerName: this.subs.controllerName } },
      ]);
      await this.env.start();
      this.controlPlaneStarted = true;
    }
    const status = await waitFor(`GatewayClass ${this.subs.gatewayClassName} Accepted`, GATEWAY_READY_TIMEOUT_MS, () => {
      const gatewayClass = this.env.get<KubeObject<unknown, { conditions?: Condition[]; supportedFeatures?: Array<{ name: string }> }>>('GatewayClass', undefined, this.subs.gatewayClassName);
      return conditionTrue(gatewayClass?.status?.conditions, 'Accepted') ? gatewayClass?.status : undefined;
    });
    return (status?.supportedFeatures ?? []).map((f) => f.name);
  }

  /**
   * Applies the GatewayClass and the base manifests, starts agent and proxy, and waits for every
   * pod to be Ready. `tests` (default: the options' tests) decide which base Deployments run.
   */
  async start(tests: readonly string[] | undefined = this.opts.tests): Promise<void> {
    if (this.started) throw new Error('ConformanceSession.start() called twice');
    if (!tests) throw new Error('ConformanceSession.start() needs the tests to run, in its options or as its argument');
    this.tests = tests;
    const testObjects = tests.map((name) => this.suite.test(name));
    const base = this.withAddresses(this.suite.baseManifests(this.subs));
    this.baseServices = servicesByName(base);
    const wanted = backendNames(testObjects.flatMap((t) => this.suite.testManifests(t, this.subs)));
    // As the upstream suite's setup: certificates and CAs made for this run, never stored.
    this.certificates = upstreamCertificateObjects();
    const selected = this.opts.allBaseDeployments ? base : base.filter((o) => o.kind !== 'Deployment' || wanted.has(o.metadata.name ?? ''));
    const applied = withSecretVolumeFiles(selected, this.certificates, (this.secretFilesDir = mkdtempSync(path.join(os.tmpdir(), 'tendril-conformance-volumes-'))));
    this.env.apply('01-base.yaml', applied);
    this.env.apply('02-certificates.yaml', this.certificates);
    await this.gatewayClassSupportedFeatures();
    this.started = true;
    const replicas = applied.filter((o) => o.kind === 'Deployment').reduce((n, d) => n + ((d.spec as { replicas?: number } | undefined)?.replicas ?? 1), 0);
    await waitFor(`${replicas} conformance pods Ready`, POD_READY_TIMEOUT_MS, () => {
      const pods = this.env.list<KubeObject<unknown, { conditions?: Condition[] }>>('Pod');
      return pods.length >= replicas && pods.every((p) => conditionTrue(p.status?.conditions, 'Ready')) ? true : undefined;
    });
  }

  async stop(): Promise<void> {
    if (this.controlPlaneStarted) await this.env.stop();
    else rmSync(this.env.configDir, { recursive: true, force: true });
    this.controlPlaneStarted = false;
    this.started = false;
    if (this.secretFilesDir) rmSync(this.secretFilesDir, { recursive: true, force: true });
  }

  /** Runs one upstream test: applies its manifests, checks its traffic, deletes its manifests. */
  async run(name: string): Promise<ConformanceTestResult> {
    if (!this.started) throw new Error('ConformanceSession.run() before start()');
    // start() ran only the Deployments the selected tests route to.
    if (!this.tests.includes(name)) throw new Error(`${name} is not among the tests this session was started for`);
    const startedAt = Date.now();
    const result = (outcome: ConformanceOutcome, failures: string[]): ConformanceTestResult => ({ name, outcome, failures, durationMs: Date.now() - startedAt });
    const test = this.suite.test(name);
    // A test that changes resources while it runs is its Go source's steps, written out as a procedure.
    const procedure = RUNTIME_PROCEDURES[name];
    if (procedure) return this.runProcedure(name, procedure, result);
    const checks = normaliseChecks(test.checks);
    const unsupported = checks.filter(isUnsupported);
    if (unsupported.length > 0) return result('not-run', unsupported.map((c) => `check the runner cannot execute yet: ${c.unsupported}`));
    if (test.mutatesResourcesAtRuntime) return result('not-run', ['the test changes resources while it runs; the runner does not emulate that yet']);
    const httpChecks = checks.filter(isHttpCheck);
    const grpcChecks = checks.filter(isGrpcCheck);
    const distributions = checks.filter(isDistribution);
    const loops = checks.filter(isBackendHeaderLoop);
    const websockets = checks.filter(isWebSocketEcho);
    if (checks.length === 0 && (test.statusChecks ?? []).length === 0) return result('not-run', ['inventory.json lists no checks for it']);

    const objects = this.testObjects(name);
    const statusChecks = parseStatusChecks(test.statusChecks ?? [], objects);
    const unsupportedStatus = statusChecks.filter(isUnsupportedStatus);
    if (unsupportedStatus.length > 0) return result('not-run', unsupportedStatus.map((c) => `status check the runner cannot evaluate yet: ${c.unsupportedStatus}`));
    this.inferNamespaces([...httpChecks, ...grpcChecks], objects);
    this.env.apply(fileFor(name), objects);
    try {
      // A test of status alone (GatewayInvalidRouteKind, …) may have no route to send traffic through.
      const defaultGateway = checks.length > 0 ? this.firstParentGateway(objects) : '';
      const gateways = new Set(httpChecks.map((c) => this.gatewayKey(c, defaultGateway)));
      for (const key of gateways) await this.waitForGateway(key);
      // As upstream: the status assertions first (each polled until it holds), then the traffic.
      const failures: string[] = [];
      for (const assertion of statusChecks as StatusAssertion[]) {
        const failure = await statusEventually(assertion, (kind, namespace, objectName) => this.env.get(kind, namespace, objectName), this.subs.controllerName, this.opts.statusTimeouts ?? UPSTREAM_STATUS_TIMEOUTS);
        if (failure) failures.push(failure);
      }
      for (const check of httpChecks) {
        const key = this.gatewayKey(check, defaultGateway);
        const failure = await eventuallyConsistent(check, () => this.target(key, check), this.rules);
        if (failure) failures.push(failure);
      }
      if (grpcChecks.length > 0) await this.waitForGateway(defaultGateway);
      for (const check of grpcChecks) {
        const failure = await consistently(check.label, () => this.target(defaultGateway), (target) => grpcAttempt(check, target, this.rules.requestTimeoutMs), this.rules);
        if (failure) failures.push(failure);
      }
      if (distributions.length > 0 && failures.length === 0) {
        const weighted = weightedRule(objects);
        await this.waitForGateway(defaultGateway);
        const target = this.target(defaultGateway);
        if (typeof target === 'string') failures.push(target);
        else {
          const sampler: PodSampler = weighted.kind === 'GRPCRoute' ? grpcPodSampler(target, this.rules.requestTimeoutMs) : httpPodSampler(target, weighted.path, this.rules);
          const failure = await weightedDistribution(sampler, weighted.shares);
          if (failure) failures.push(failure);
        }
      }
      for (const { websocket } of websockets) {
        await this.waitForGateway(defaultGateway);
        const failure = await consistently(`WebSocket ws://<gateway>${websocket.path}`, () => this.target(defaultGateway), (target) => websocketEcho(target, websocket, this.rules.requestTimeoutMs), this.rules);
        if (failure) failures.push(failure);
      }
      for (const { loop } of failures.length === 0 ? loops : []) {
        const target = this.target(defaultGateway);
        const failure = typeof target === 'string' ? target : await backendHeaderLoop(target, loop, this.rules);
        if (failure) failures.push(`${loop.requests} sequential requests to ${loop.path}: ${failure}`);
      }
      return result(failures.length ? 'failed' : 'passed', failures);
    } catch (err) {
      return result('failed', [(err as Error).message]);
    } finally {
      // A test whose objects linger would leak into the next one; say so rather than fail later and elsewhere.
      await this.deleteTestObjects(name, objects).catch((err: Error) => (this.opts.log ?? (() => undefined))(err.message));
    }
  }

  /**
   * Applies the test's manifests and runs its procedure: each patch or delete rewrites the test's
   * file, as `kubectl apply` of the changed manifest would change the cluster.
   */
  private async runProcedure(name: string, procedure: RuntimeProcedure, result: (outcome: ConformanceOutcome, failures: string[]) => ConformanceTestResult): Promise<ConformanceTestResult> {
    const applied = this.testObjects(name);
    let current = structuredClone(applied);
    const find = (kind: string, namespace: string | undefined, objectName: string): number => {
      const i = current.findIndex((o) => o.kind === kind && o.metadata.namespace === namespace && o.metadata.name === objectName);
      if (i < 0) throw new Error(`${name} has no ${kind} ${namespace ? `${namespace}/` : ''}${objectName} among its manifests`);
      return i;
    };
    const statusTimeouts = this.opts.statusTimeouts ?? UPSTREAM_STATUS_TIMEOUTS;
    const ctx: ProcedureContext = {
      patch: (kind, namespace, objectName, mutate) => {
        const i = find(kind, namespace, objectName);
        const copy = structuredClone(current[i]);
        mutate(copy);
        current = current.map((o, j) => (j === i ? copy : o));
        this.env.apply(fileFor(name), current);
      },
      podsReady: async (namespaces) => {
        const deployments = current.filter((o) => o.kind === 'Deployment' && namespaces.includes(o.metadata.namespace ?? 'default'));
        let missing: string | undefined;
        try {
          await waitFor(`pods of ${namespaces.join(', ')} Ready`, POD_READY_TIMEOUT_MS, () => {
            const pods = this.env.list<KubeObject<unknown, { conditions?: Condition[] }>>('Pod').filter((p) => namespaces.includes(p.metadata.namespace ?? 'default'));
            const notReady = pods.filter((p) => !conditionTrue(p.status?.conditions, 'Ready')).map((p) => p.metadata.name);
            const absent = deployments.filter((d) => !pods.some((p) => p.metadata.namespace === d.metadata.namespace && backendOfPod(p.metadata.name ?? '') === d.metadata.name)).map((d) => d.metadata.name);
            missing = [...notReady.map((n) => `pod ${n} not Ready`), ...absent.map((n) => `Deployment ${n} has no pod`)].join(', ');
            return missing ? undefined : true;
          });
          return undefined;
        } catch (err) {
          return `${(err as Error).message}: ${missing}`;
        }
      },
      create: (object) => {
        current = [...current, ...this.withAddresses([structuredClone(object)])];
        this.env.apply(fileFor(name), current);
      },
      remove: (kind, namespace, objectName) => {
        const i = find(kind, namespace, objectName);
        current = current.filter((_, j) => j !== i);
        this.env.apply(fileFor(name), current);
      },
      get: (kind, namespace, objectName) => this.env.get(kind, namespace, objectName),
      list: (kind, namespace) => this.env.list(kind, namespace),
      status: (assertion) => statusEventually(assertion, (kind, namespace, objectName) => this.env.get(kind, namespace, objectName), this.subs.controllerName, statusTimeouts),
      eventually: async (what, timeoutMs, check) => {
        let last: string | undefined;
        try {
          await waitFor(what, timeoutMs, () => ((last = check()) === undefined ? true : undefined));
          return undefined;
        } catch (err) {
          return `${(err as Error).message}: ${last}`;
        }
      },
      converge: async (label, tryOnce) => {
        const key = this.firstParentGateway(current);
        await this.waitForGateway(key);
        return consistently(label, () => this.target(key), (target) => tryOnce(target, this.rules.requestTimeoutMs), this.rules);
      },
      gatewayTarget: async () => {
        const key = this.firstParentGateway(current);
        await this.waitForGateway(key);
        const target = this.target(key);
        if (typeof target === 'string') throw new Error(target);
        return target;
      },
      tlsRejection: async (serverName, gateway) => {
        const key = gateway ? `${gateway.namespace}/${gateway.name}` : this.firstParentGateway(current);
        await this.waitForGateway(key);
        // assert.Eventually upstream: one rejection suffices, tried every poll interval within the window.
        const deadline = Date.now() + this.rules.maxTimeToConsistencyMs;
        let last = 'not tried';
        for (;;) {
          const target = this.target(key);
          const outcome = typeof target === 'string' ? target : await tlsDialRejected(target.address, target.port, serverName, this.rules.requestTimeoutMs);
          if (outcome === undefined) return undefined;
          last = outcome;
          if (Date.now() + this.rules.pollIntervalMs > deadline) return `TLS connection with SNI ${serverName} not rejected within ${this.rules.maxTimeToConsistencyMs / 1000}s: ${last}`;
          await new Promise((r) => setTimeout(r, this.rules.pollIntervalMs));
        }
      },
      tlsEcho: async (gateway, serverName, caName, expected) => {
        const key = `${gateway.namespace}/${gateway.name}`;
        await this.waitForGateway(key);
        const ca = (this.certificates.find((o) => o.kind === 'ConfigMap' && o.metadata.name === caName) as (KubeObject & { data?: Record<string, string> }) | undefined)?.data?.['ca.crt'];
        if (!ca) return `the conformance setup made no CA ${caName}`;
        // assert.Eventually upstream: one valid conversation suffices, tried every poll interval within the window.
        const deadline = Date.now() + this.rules.maxTimeToConsistencyMs;
        for (;;) {
          const target = this.target(key);
          const outcome = typeof target === 'string' ? target : await tlsEchoExchange(target.address, target.port, serverName, [ca], expected, this.rules.requestTimeoutMs);
          if (outcome === undefined) return undefined;
          if (Date.now() + this.rules.pollIntervalMs > deadline) return `TCP echo over TLS with SNI ${serverName}: ${outcome} (not within ${this.rules.maxTimeToConsistencyMs / 1000}s)`;
          await new Promise((r) => setTimeout(r, this.rules.pollIntervalMs));
        }
      },
      tcpEcho: async (gateway, listener, expected) => {
        const key = `${gateway.namespace}/${gateway.name}`;
        await this.waitForGateway(key);
        // assert.Eventually upstream: one valid conversation suffices, tried every poll interval within the window.
        const deadline = Date.now() + this.rules.maxTimeToConsistencyMs;
        for (;;) {
          const target = this.listenerTarget(key, listener);
          const outcome = typeof target === 'string' ? target : await tcpEchoExchange(target.address, target.port, expected, this.rules.requestTimeoutMs);
          if (outcome === undefined) return undefined;
          if (Date.now() + this.rules.pollIntervalMs > deadline) return `TCP echo via listener ${listener} of ${key}: ${outcome} (not within ${this.rules.maxTimeToConsistencyMs / 1000}s)`;
          await new Promise((r) => setTimeout(r, this.rules.pollIntervalMs));
        }
      },
      tcpEchoSampler: async (gateway, listener) => {
        const key = `${gateway.namespace}/${gateway.name}`;
        await this.waitForGateway(key);
        const target = this.listenerTarget(key, listener);
        if (typeof target === 'string') throw new Error(target);
        return () => tcpEchoPod(target.address, target.port, this.rules.requestTimeoutMs);
      },
      backendLogs: (namespace, app, sinceMs) => this.env.podLogs.since(sinceMs, namespace, (pod) => backendOfPod(pod) === app).map((l) => l.text),
      traffic: async (check) => {
        // A check that names its Gateway needs no route with a Gateway parentRef (ListenerSet tests have none).
        const key = check.gateway ? this.gatewayKey(check, '') : this.firstParentGateway(current);
        await this.waitForGateway(key);
        return eventuallyConsistent(check, () => this.target(key, check), this.rules);
      },
    };
    this.env.apply(fileFor(name), current);
    try {
      const failures = await procedure(ctx);
      return result(failures.length ? 'failed' : 'passed', failures);
    } catch (err) {
      return result('failed', [(err as Error).message]);
    } finally {
      await this.deleteTestObjects(name, applied).catch((err: Error) => (this.opts.log ?? (() => undefined))(err.message));
    }
  }

  /**
   * Applies a test's manifests and hands `use` the address of its first route's Gateway (status
   * address, first listener port), then deletes them: for checks beyond what the upstream test
   * asserts, on the same fixtures.
   */
  async withTestManifests<T>(name: string, use: (target: GatewayTarget) => Promise<T>): Promise<T> {
    if (!this.started) throw new Error('ConformanceSession.withTestManifests() before start()');
    if (!this.tests.includes(name)) throw new Error(`${name} is not among the tests this session was started for`);
    const objects = this.testObjects(name);
    this.env.apply(fileFor(name), objects);
    try {
      const key = this.firstParentGateway(objects);
      await this.waitForGateway(key);
      const target = this.target(key);
      if (typeof target === 'string') throw new Error(target);
      return await use(target);
    } finally {
      await this.deleteTestObjects(name, objects);
    }
  }

  /** A test's manifests as applied here: own Gateway addresses, and its Deployments' Secret and ConfigMap volumes as files. */
  private testObjects(name: string): KubeObject[] {
    const objects = this.withAddresses(this.suite.testManifests(this.suite.test(name), this.subs));
    return this.secretFilesDir ? withSecretVolumeFiles(objects, this.certificates, this.secretFilesDir) : objects;
  }

  /**
   * Upstream expectations name the backend's namespace almost always; inventory.json leaves it out
   * when it is the namespace of the only Service with the backend's name, so it is filled in here.
   */
  private inferNamespaces(checks: Array<HttpCheck | GrpcCheck>, testObjects: readonly KubeObject[]): void {
    const services = servicesByName(testObjects);
    for (const [name, namespaces] of this.baseServices) services.set(name, new Set([...namespaces, ...(services.get(name) ?? [])]));
    for (const check of checks) {
      const namespaces = check.expect.backend ? services.get(check.expect.backend) : undefined;
      if (check.expect.namespace === undefined && namespaces?.size === 1) check.expect.namespace = [...namespaces][0];
    }
  }

  /**
   * Gives every Gateway its own loopback address: upstream Gateways share port 80. A Gateway that
   * lists addresses keeps them, with the upstream placeholders replaced as the suite's
   * usableNetworkAddresses / unusableNetworkAddresses options replace them: its own loopback
   * address is usable, UNUSABLE_ADDRESS is not.
   */
  private withAddresses(objects: KubeObject[]): KubeObject[] {
    return objects.map((o) => {
      if (o.kind !== 'Gateway') return o;
      const spec = (o.spec ?? {}) as { addresses?: Array<{ type?: string; value?: string }> };
      const key = `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
      const own = (): string => {
        let address = this.gatewayAddresses.get(key);
        if (!address) {
          address = intToIp(this.nextGatewayIp++);
          this.gatewayAddresses.set(key, address);
        }
        return address;
      };
      if (!spec.addresses?.length) return { ...o, spec: { ...spec, addresses: [{ type: 'IPAddress', value: own() }] } };
      const addresses = spec.addresses.map((a) =>
        a.value === 'PLACEHOLDER_USABLE_ADDRS' ? { type: 'IPAddress', value: own() } : a.value === 'PLACEHOLDER_UNUSABLE_ADDRS' ? { type: 'IPAddress', value: UNUSABLE_ADDRESS } : a,
      );
      return { ...o, spec: { ...spec, addresses } };
    });
  }

  /** The Gateway of the test's first route: where the upstream test sends its requests. */
  private firstParentGateway(objects: readonly KubeObject[]): string {
    for (const o of objects) {
      const refs = ((o.spec ?? {}) as { parentRefs?: ParentRef[] }).parentRefs ?? [];
      const ref = refs.find((r) => (r.kind ?? 'Gateway') === 'Gateway');
      if (o.kind?.endsWith('Route') && ref) return `${ref.namespace ?? o.metadata.namespace ?? 'default'}/${ref.name}`;
    }
    throw new Error('the test has no route with a Gateway parentRef; the runner does not know where to send traffic');
  }

  private gatewayKey(check: HttpCheck, fallback: string): string {
    return check.gateway ? `${INFRA_NAMESPACE}/${check.gateway}` : fallback;
  }

  private gateway(key: string): KubeObject<{ listeners?: Array<{ name?: string; port: number; tls?: { certificateRefs?: Array<{ kind?: string; name: string; namespace?: string }> } }> }, GatewayStatusView> | undefined {
    const [namespace, name] = key.split('/');
    return this.env.get('Gateway', namespace, name);
  }

  /** As the upstream GatewayAndRoutesMustBeAccepted: the Gateway is Programmed and has an address. */
  private async waitForGateway(key: string): Promise<void> {
    await waitFor(`Gateway ${key} Programmed with an address`, GATEWAY_READY_TIMEOUT_MS, () => {
      const gw = this.gateway(key);
      return gw && conditionTrue(gw.status?.conditions, 'Programmed') && gw.status?.addresses?.some((a) => a.value) ? true : undefined;
    });
  }

  /**
   * The first typed status address and the first listener's port, as the upstream suite dials. A
   * TLS check also gets the certificates it trusts: the Secret it names (in the infra namespace),
   * else those the Gateway's listeners serve.
   */
  /** The Gateway's status address and the port of its listener `listener` (upstream WaitForGatewayAddress with a listener name). */
  private listenerTarget(key: string, listener: string): GatewayTarget | string {
    const gw = this.gateway(key);
    if (!gw) return `Gateway ${key} not found`;
    const address = gw.status?.addresses?.find((a) => a.type && a.value)?.value;
    const port = gw.spec?.listeners?.find((l) => l.name === listener)?.port;
    if (!address) return `Gateway ${key} has no status address`;
    if (port === undefined) return `Gateway ${key} has no listener ${listener}`;
    return { address, port };
  }

  private target(key: string, check?: HttpCheck): GatewayTarget | string {
    const gw = this.gateway(key);
    if (!gw) return `Gateway ${key} not found`;
    const address = gw.status?.addresses?.find((a) => a.type && a.value)?.value;
    const port = gw.spec?.listeners?.[0]?.port;
    if (!address || port === undefined) return `Gateway ${key} has no status address or no listener`;
    if (check?.request.protocol !== 'https' && check?.request.protocol !== 'h2') return { address, port };
    const [namespace] = key.split('/');
    const refs = check.request.trustSecret
      ? [{ namespace: INFRA_NAMESPACE, name: check.request.trustSecret }]
      : (gw.spec?.listeners ?? []).flatMap((l) => (l.tls?.certificateRefs ?? []).filter((r) => (r.kind ?? 'Secret') === 'Secret').map((r) => ({ namespace: r.namespace ?? namespace, name: r.name })));
    const certificates: string[] = [];
    for (const ref of refs) {
      const secret = this.env.get<KubeObject & { data?: Record<string, string> }>('Secret', ref.namespace, ref.name);
      const crt = secret?.data?.['tls.crt'];
      if (!crt) return `the certificate Secret ${ref.namespace}/${ref.name} the TLS request trusts has no tls.crt`;
      certificates.push(Buffer.from(crt, 'base64').toString('utf8'));
    }
    return { address, port, trustedCertificates: [...new Set(certificates)] };
  }

  private async deleteTestObjects(name: string, objects: readonly KubeObject[]): Promise<void> {
    this.env.remove(fileFor(name));
    await waitFor(`the objects of ${name} to be deleted`, DELETE_TIMEOUT_MS, () =>
      objects.every((o) => !this.env.get(o.kind ?? '', o.metadata.namespace, o.metadata.name ?? '')) ? true : undefined,
    );
  }
}

/** Runs the named upstream tests in one environment (started once, as the upstream suite applies its base once). */
export async function runConformanceTests(opts: ConformanceRunOptions & { tests: readonly string[] }): Promise<ConformanceTestResult[]> {
  const session = new ConformanceSession(opts);
  try {
    await session.start();
    const results: ConformanceTestResult[] = [];
    for (const name of opts.tests) results.push(await session.run(name));
    return results;
  } finally {
    await session.stop();
  }
}


