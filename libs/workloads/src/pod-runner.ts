import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as readline from 'node:readline';
import type { Container, Deployment, KubeObject, Pod } from '@tendril/api-k8s';
import { deploymentPodName, podTemplateHash } from './pod-names';

/** Container fields the runner uses beyond the minimal api-k8s Container. */
type RunnableContainer = Container & {
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
};

export interface PodRunnerOptions {
  /** The command that runs `tendril …` (the CLI entry point), for commands and images that name it. */
  tendrilCommand: { command: string; args: string[]; env: Record<string, string> };
  /** First address of the loopback range pods get their IPs from (default 127.11.0.1). */
  firstPodIp?: string;
  /** Where pod output lines go. */
  write?: (line: string) => void;
  nodeName?: string;
}

interface RunningPod {
  pod: Pod;
  ip: string;
  ready: boolean;
  failure?: string;
  child?: ChildProcess;
  stopping: boolean;
  restartTimer?: NodeJS.Timeout;
  probeTimer?: NodeJS.Timeout;
}

/** Images the project knows how to run without a command: the conformance suite's echo backends. */
const ECHO_IMAGE = /(^|\/)echo-(basic|advanced)(:|@|$)/;

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0) >>> 0;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * A local kubelet for `tendril up` without root: runs each Pod (and each replica of each
 * Deployment) as a process bound to a pod IP of its own in 127.0.0.0/8, with the container's
 * command, args and env, and POD_NAME / NAMESPACE / POD_IP set. The image is not run (there is no
 * container runtime); the conformance echo images map to `tendril echo`. Emits 'change' whenever
 * the set of pods or their readiness changes.
 */
export class PodRunner extends EventEmitter {
  private readonly pods = new Map<string, RunningPod>();
  private readonly freeIps: number[] = [];
  private nextIp: number;
  private readonly write: (line: string) => void;

  constructor(private readonly opts: PodRunnerOptions) {
    super();
    this.nextIp = ipToInt(opts.firstPodIp ?? '127.11.0.1');
    this.write = opts.write ?? ((line) => process.stdout.write(line + '\n'));
  }

  /** Makes the running pods match the Deployments and Pods among `objects`. */
  sync(objects: KubeObject[]): void {
    const desired = new Map<string, Pod>();
    for (const o of objects) {
      if (o.kind === 'Pod') desired.set(`${o.metadata.namespace ?? 'default'}/${o.metadata.name}`, o as Pod);
      if (o.kind === 'Deployment') for (const p of this.podsOf(o as Deployment)) desired.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
    }
    let changed = false;
    for (const [key, running] of this.pods) {
      if (!desired.has(key) || JSON.stringify(desired.get(key)!.spec) !== JSON.stringify(running.pod.spec)) {
        this.stopPod(key, running);
        changed = true;
      }
    }
    for (const [key, pod] of desired) {
      if (!this.pods.has(key)) {
        this.startPod(key, pod);
        changed = true;
      }
    }
    if (changed) this.emit('change');
  }

  /** The pods with their status (phase, podIP, Ready condition), as a kubelet reports them. */
  list(): Array<{ pod: Pod; ip: string; ready: boolean }> {
    return [...this.pods.values()].map((r) => ({
      ip: r.ip,
      ready: r.ready,
      pod: {
        ...r.pod,
        status: {
          phase: r.failure ? 'Failed' : 'Running',
          podIP: r.ip,
          podIPs: [{ ip: r.ip }],
          hostIP: '127.0.0.1',
          conditions: [{ type: 'Ready', status: r.ready ? 'True' : 'False' }],
          ...(r.failure ? { message: r.failure } : {}),
        },
      },
    }));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.pods].map(([key, r]) => this.stopPod(key, r)));
  }

  private podsOf(d: Deployment): Pod[] {
    const template = d.spec?.template ?? {};
    const hash = podTemplateHash(template);
    const ns = d.metadata.namespace ?? 'default';
    return Array.from({ length: d.spec?.replicas ?? 1 }, (_, i) => ({
      apiVersion: 'v1' as const,
      kind: 'Pod' as const,
      metadata: {
        name: deploymentPodName(d.metadata.name!, hash, i),
        namespace: ns,
        labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name!, uid: d.metadata.uid ?? '', controller: true }],
      },
      spec: { ...(template.spec ?? { containers: [] }), nodeName: this.opts.nodeName ?? 'tendril-node' },
    }));
  }

  private allocateIp(): string {
    return intToIp(this.freeIps.shift() ?? this.nextIp++);
  }

  private commandFor(c: RunnableContainer): { command: string; args: string[]; env: Record<string, string> } | string {
    const t = this.opts.tendrilCommand;
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    if (argv.length > 0) {
      if (argv[0] === 'tendril') return { command: t.command, args: [...t.args, ...argv.slice(1)], env: t.env };
      return { command: argv[0], args: argv.slice(1), env: {} };
    }
    if (c.image && ECHO_IMAGE.test(c.image)) return { command: t.command, args: [...t.args, 'echo'], env: t.env };
    return `container "${c.name}" has no command, and tendril runs commands, not images (${c.image ?? 'no image'})`;
  }

  private startPod(key: string, pod: Pod): void {
    const running: RunningPod = { pod, ip: this.allocateIp(), ready: false, stopping: false };
    this.pods.set(key, running);
    this.launch(key, running);
  }

  private launch(key: string, r: RunningPod): void {
    const container = r.pod.spec?.containers?.[0] as RunnableContainer | undefined;
    const ns = r.pod.metadata.namespace ?? 'default';
    const prefix = `[pod ${key}]`;
    if (!container) {
      r.failure = 'pod has no containers';
      this.write(`${prefix} ${r.failure}`);
      return;
    }
    const cmd = this.commandFor(container);
    if (typeof cmd === 'string') {
      r.failure = cmd;
      this.write(`${prefix} ${cmd}`);
      return;
    }
    const fields: Record<string, string> = { 'metadata.name': r.pod.metadata.name!, 'metadata.namespace': ns, 'status.podIP': r.ip, 'spec.nodeName': r.pod.spec?.nodeName ?? '' };
    const env: Record<string, string> = { ...cmd.env, POD_NAME: r.pod.metadata.name!, NAMESPACE: ns, POD_IP: r.ip };
    for (const e of container.env ?? []) {
      const v = e.value ?? (e.valueFrom?.fieldRef ? fields[e.valueFrom.fieldRef.fieldPath] : undefined);
      if (v !== undefined) env[e.name] = v;
    }
    const port = container.ports?.[0]?.containerPort;
    if (port !== undefined && env['HTTP_PORT'] === undefined) env['HTTP_PORT'] = String(port);
    const child = spawn(cmd.command, cmd.args, { cwd: container.workingDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    r.child = child;
    for (const s of [child.stdout!, child.stderr!]) readline.createInterface({ input: s }).on('line', (line) => this.write(`${prefix} ${line}`));
    child.on('error', (err) => {
      r.failure = `cannot start ${cmd.command}: ${err.message}`;
      this.write(`${prefix} ${r.failure}`);
    });
    child.on('exit', (code, signal) => {
      r.child = undefined;
      clearTimeout(r.probeTimer);
      if (r.ready) {
        r.ready = false;
        this.emit('change');
      }
      if (r.stopping) return;
      this.write(`${prefix} exited (code ${code}, signal ${signal}); restarting in 1s`);
      r.restartTimer = setTimeout(() => this.launch(key, r), 1_000);
    });
    this.probe(r, port);
  }

  /** Readiness: the first container port accepts a TCP connection (or, without ports, the process runs). */
  private probe(r: RunningPod, port: number | undefined): void {
    const markReady = (): void => {
      if (r.stopping || !r.child || r.ready) return;
      r.ready = true;
      this.emit('change');
    };
    if (port === undefined) return markReady();
    const attempt = (): void => {
      if (r.stopping || !r.child) return;
      const socket = net.connect({ host: r.ip, port });
      socket.once('connect', () => {
        socket.destroy();
        markReady();
      });
      socket.once('error', () => {
        socket.destroy();
        r.probeTimer = setTimeout(attempt, 50);
      });
    };
    attempt();
  }

  private stopPod(key: string, r: RunningPod): Promise<void> {
    r.stopping = true;
    this.pods.delete(key);
    clearTimeout(r.restartTimer);
    clearTimeout(r.probeTimer);
    this.freeIps.push(ipToInt(r.ip));
    const child = r.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
