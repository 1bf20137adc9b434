import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Condition, KubeObject } from '@tendril/api-k8s';
import { Agent } from '@tendril/control-plane';
import { runtimeNodeProxy, type NodeProxy } from '@tendril/node-proxy';
import { ProxyRuntime } from '@tendril/proxy';
import { stringify } from 'yaml';

/** Logger shape shared by the agent, the xDS client and the proxy runtime. */
interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const quiet = (): void => undefined;

/** Forwards warnings and errors to `log` (they explain failures); drops the chatter. */
function loggerFor(log: (line: string) => void, component: string): Logger {
  const emit = (level: string) => (obj: object, msg?: string) => log(`[${component}] ${level}: ${msg ?? ''} ${JSON.stringify(obj)}`);
  return { debug: quiet, info: quiet, warn: emit('warn'), error: emit('error') };
}

export interface EnvironmentOptions {
  controllerName: string;
  /** First loopback address handed to pods (a range of its own, so `tendril up` can run beside it). */
  firstPodIp: string;
  /** Where warnings, errors and pod output go. */
  log: (line: string) => void;
}

export interface GatewayStatusView {
  addresses?: Array<{ type?: string; value: string }>;
  conditions?: Condition[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms (the upstream status poll interval) until it returns a value. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(100);
  }
}

/** One line a pod printed, as the agent's PodRunner hands it over: `[pod NAMESPACE/NAME] TEXT`. */
export interface PodLogLine {
  /** When the runner received it (ms since the epoch). */
  at: number;
  namespace: string;
  pod: string;
  text: string;
}

/** Lines kept at most; the oldest go first. A percentage-mirror round prints 500 per backend. */
const POD_LOG_CAPACITY = 50_000;
const POD_LINE = /^\[pod ([^/\]]+)\/([^\]]+)\] (.*)$/;

/**
 * The pods' output, kept for the tests that read backend logs (`kubectl logs` upstream): the
 * agent prefixes every line a pod prints with the pod, so lines are filed by pod as they arrive.
 */
export class PodLogs {
  private lines: PodLogLine[] = [];

  constructor(private readonly clock: () => number = Date.now) {}

  /** Takes one line of the agent's pod output; returns false for a line that names no pod. */
  record(line: string): boolean {
    const m = POD_LINE.exec(line);
    if (!m) return false;
    this.lines.push({ at: this.clock(), namespace: m[1], pod: m[2], text: m[3] });
    if (this.lines.length > POD_LOG_CAPACITY) this.lines = this.lines.slice(-POD_LOG_CAPACITY / 2);
    return true;
  }

  /** Lines printed since `sinceMs` by the pods in `namespace` whose name the predicate accepts. */
  since(sinceMs: number, namespace: string, pod: (name: string) => boolean): PodLogLine[] {
    return this.lines.filter((l) => l.at >= sinceMs && l.namespace === namespace && pod(l.pod));
  }
}

/**
 * A cluster in a process: a config directory the agent watches (objects are applied and deleted by
 * writing and removing files, as `tendril up` users do), the in-process agent running the echo
 * Deployments as local pods, and an in-process node proxy fed by the agent over xDS.
 */
export class ConformanceEnvironment {
  readonly configDir = mkdtempSync(path.join(os.tmpdir(), 'tendril-conformance-'));
  readonly agent: Agent;
  readonly podLogs = new PodLogs();
  private proxy: NodeProxy | undefined;
  private runtime: ProxyRuntime | undefined;

  constructor(private readonly opts: EnvironmentOptions) {
    this.agent = new Agent({
      configDir: this.configDir,
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      logger: loggerFor(opts.log, 'agent'),
      controllerName: opts.controllerName,
      runWorkloads: true,
      firstPodIp: opts.firstPodIp,
      writePodOutput: (line) => {
        this.podLogs.record(line);
        opts.log(line);
      },
    });
  }

  /** Writes objects as one file of the config directory (write-then-rename, so the watcher never reads half a file). */
  apply(file: string, objects: readonly KubeObject[]): void {
    const tmp = path.join(this.configDir, `.${file}.tmp`);
    writeFileSync(tmp, objects.map((o) => stringify(o)).join('---\n'));
    renameSync(tmp, path.join(this.configDir, file));
  }

  remove(file: string): void {
    rmSync(path.join(this.configDir, file), { force: true });
  }

  async start(): Promise<void> {
    const { xdsPort } = await this.agent.start();
    const logger = loggerFor(this.opts.log, 'proxy');
    const runtime = new ProxyRuntime({ logger, accessLog: () => undefined, drainTimeoutMs: 1_000 });
    this.runtime = runtime;
    this.proxy = runtimeNodeProxy({ xdsAddress: `127.0.0.1:${xdsPort}`, runtime, logger, nodeId: 'conformance-node' });
    await this.proxy.start();
  }

  async stop(): Promise<void> {
    // Delete everything first and let the agent stop its pods: Agent.stop() alone races a pod's
    // exit ('change' → sync against Deployments still in the store) and starts replacements that
    // outlive it.
    for (const file of readdirSync(this.configDir)) this.remove(file);
    await waitFor('the pods to stop', 30_000, () => (this.list('Pod').length === 0 ? true : undefined)).catch((err: Error) => this.opts.log(err.message));
    await this.proxy?.stop();
    await this.agent.stop();
    rmSync(this.configDir, { recursive: true, force: true });
  }

  get<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, name: string): T | undefined {
    return this.agent.store.list<T>({ kind }, namespace).find((o) => o.metadata.name === name);
  }

  list<T extends KubeObject = KubeObject>(kind: string, namespace?: string): readonly T[] {
    return this.agent.store.list<T>({ kind }, namespace);
  }
}
