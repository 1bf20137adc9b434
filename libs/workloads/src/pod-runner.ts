import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as readline from 'node:readline';
import type { Container, Deployment, KubeObject, Pod, PodStatus } from '@tendril/api-k8s';
import { deploymentPodName, podTemplateHash } from './pod-names';
import { LoopbackPodNetwork, type PodNetwork, type PodNetworkMode, type PodSandbox } from './pod-network';

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
  /** Where pods' networks come from (default: loopback addresses from firstPodIp). */
  network?: PodNetwork;
  /** First address of the loopback range pods get their IPs from when no network is given (default 127.11.0.1). */
  firstPodIp?: string;
  /** Where pod output lines go. */
  write?: (line: string) => void;
  nodeName?: string;
  /**
   * Runs after a pod's network sandbox exists and before its container first starts, as a kubelet
   * waits for the CNI ADD (Cilium's returns once the endpoint's policy is in place): the agent
   * resolves true once the pod's interface enforces its policy. False (or a rejection) fails the
   * pod instead of starting it unenforced. Not called for sandboxes that are ready at once
   * (loopback pods, which no policy applies to).
   */
  beforeFirstStart?: (pod: { namespace: string; name: string; endpointId: number; sandbox: PodSandbox }) => Promise<boolean>;
}

/** PodStatus fields the runner reports beyond the minimal api-k8s PodStatus (for READY and RESTARTS). */
export type RunnerPodStatus = PodStatus & {
  message?: string;
  containerStatuses?: Array<{ name: string; ready: boolean; started: boolean; restartCount: number }>;
};

/** A pod as this node runs it: what `tendril get endpoints` lists and `tendril exec` enters. */
export interface PodRuntimeInfo {
  namespace: string;
  name: string;
  /** Node-local endpoint number, assigned in start order (Cilium's endpoint ID). */
  endpointId: number;
  network: PodNetworkMode;
  /** Empty while the sandbox is being created. */
  ip: string;
  /** Network namespace name (netns mode), usable with `ip netns exec`. */
  netns?: string;
  /** Host end of the pod's veth (netns mode). */
  hostInterface?: string;
  phase: NonNullable<PodStatus['phase']>;
  ready: boolean;
  restarts: number;
  /** Node-local PIDs of the pod's processes. */
  pids: number[];
  message?: string;
  /** The environment the pod's container got for its identity (POD_NAME, NAMESPACE, POD_IP). */
  env: Record<string, string>;
}

interface RunningPod {
  pod: Pod;
  namespace: string;
  name: string;
  endpointId: number;
  sandbox?: PodSandbox;
  /** Settles when sandbox creation has finished, either way. */
  sandboxReady: Promise<void>;
  ready: boolean;
  restarts: number;
  failure?: string;
  child?: ChildProcess;
  /** Its sandbox exists, and beforeFirstStart has not answered yet: Pending. */
  awaitingStart?: boolean;
  stopping: boolean;
  restartTimer?: NodeJS.Timeout;
  probeTimer?: NodeJS.Timeout;
}

/** Images the project knows how to run without a command: the conformance suite's echo backends. */
const ECHO_IMAGE = /(^|\/)echo-(basic|advanced)(:|@|$)/;
/** CoreDNS (the conformance suite's UDP backend): its args (-conf …) go to `tendril coredns`, a Corefile-driven test server. */
const COREDNS_IMAGE = /(^|\/)coredns(:|@|$)/;

/**
 * A local kubelet for `tendril up`: runs each Pod (and each replica of each Deployment) as a process
 * with a pod IP of its own, given by a PodNetwork (a network namespace wired by the CNI plugin, or
 * a loopback address without root), with the container's command, args and env, and POD_NAME /
 * NAMESPACE / POD_IP set. The image is not run (there is no container runtime); the conformance
 * echo images map to `tendril echo`. Emits 'change' whenever the set of pods, their IPs or their
 * readiness changes.
 */
export class PodRunner extends EventEmitter {
  private readonly pods = new Map<string, RunningPod>();
  /** Pods being torn down (process stop, sandbox removal); stop() waits for them too. */
  private readonly teardowns = new Set<Promise<void>>();
  private readonly network: PodNetwork;
  private readonly write: (line: string) => void;
  private nextEndpointId = 1;

  constructor(private readonly opts: PodRunnerOptions) {
    super();
    this.network = opts.network ?? new LoopbackPodNetwork(opts.firstPodIp);
    this.write = opts.write ?? ((line) => process.stdout.write(line + '\n'));
  }

  get networkMode(): PodNetworkMode {
    return this.network.mode;
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
      const wanted = desired.get(key);
      if (!wanted || JSON.stringify(wanted.spec) !== JSON.stringify(running.pod.spec)) {
        void this.stopPod(key, running);
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

  /**
   * The pods with their status (phase, podIP, Ready condition), as a kubelet reports them. A pod
   * whose sandbox is still being created is Pending with an empty ip.
   */
  list(): Array<{ pod: Pod; ip: string; ready: boolean }> {
    return [...this.pods.values()].map((r) => ({ ip: r.sandbox?.ip ?? '', ready: r.ready, pod: { ...r.pod, status: this.statusOf(r) } }));
  }

  /**
   * The node-local view of each pod: sandbox, endpoint number, processes. Finding a netns pod's
   * processes costs a process spawn per pod (`ip netns pids`): callers that do not show them
   * (the endpoint manager, on every pod change) pass `{ pids: false }` and get empty lists.
   */
  async describe(options: { pids?: boolean } = {}): Promise<PodRuntimeInfo[]> {
    const withPids = options.pids !== false;
    return Promise.all(
      [...this.pods.values()].map(async (r) => {
        const ip = r.sandbox?.ip ?? '';
        return {
          namespace: r.namespace,
          name: r.name,
          endpointId: r.endpointId,
          network: this.network.mode,
          ip,
          ...(r.sandbox?.netns ? { netns: r.sandbox.netns } : {}),
          ...(r.sandbox?.hostInterface ? { hostInterface: r.sandbox.hostInterface } : {}),
          phase: this.phaseOf(r),
          ready: r.ready,
          restarts: r.restarts,
          pids: r.sandbox && withPids ? await this.network.pids(r.sandbox, r.child?.pid) : [],
          ...(r.failure ? { message: r.failure } : {}),
          env: { POD_NAME: r.name, NAMESPACE: r.namespace, POD_IP: ip },
        };
      }),
    );
  }

  /** Stops every pod and releases every sandbox, including those of pods already being removed. */
  async stop(): Promise<void> {
    for (const [key, r] of this.pods) void this.stopPod(key, r);
    while (this.teardowns.size > 0) await Promise.all([...this.teardowns]);
  }

  private phaseOf(r: RunningPod): NonNullable<PodStatus['phase']> {
    if (r.failure) return 'Failed';
    return r.sandbox && !r.awaitingStart ? 'Running' : 'Pending';
  }

  private statusOf(r: RunningPod): RunnerPodStatus {
    const container = r.pod.spec?.containers?.[0];
    const sandbox = r.sandbox;
    return {
      phase: this.phaseOf(r),
      ...(sandbox ? { podIP: sandbox.ip, podIPs: [{ ip: sandbox.ip }], hostIP: sandbox.hostIp } : {}),
      conditions: [{ type: 'Ready', status: r.ready ? 'True' : 'False' }],
      ...(container ? { containerStatuses: [{ name: container.name, ready: r.ready, started: !!r.child, restartCount: r.restarts }] } : {}),
      ...(r.failure ? { message: r.failure } : {}),
    };
  }

  private podsOf(d: Deployment): Pod[] {
    const template = d.spec?.template ?? {};
    const hash = podTemplateHash(template);
    const ns = d.metadata.namespace ?? 'default';
    const deployment = d.metadata.name ?? '';
    return Array.from({ length: d.spec?.replicas ?? 1 }, (_, i) => ({
      apiVersion: 'v1' as const,
      kind: 'Pod' as const,
      metadata: {
        name: deploymentPodName(deployment, hash, i),
        namespace: ns,
        labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: d.metadata.uid ?? '', controller: true }],
      },
      spec: { ...(template.spec ?? { containers: [] }), nodeName: this.opts.nodeName ?? 'tendril-node' },
    }));
  }

  private commandFor(c: RunnableContainer): { command: string; args: string[]; env: Record<string, string> } | string {
    const t = this.opts.tendrilCommand;
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    if ((c.command ?? []).length === 0 && c.image && COREDNS_IMAGE.test(c.image)) return { command: t.command, args: [...t.args, 'coredns', ...(c.args ?? [])], env: t.env };
    if (argv.length > 0) {
      if (argv[0] === 'tendril') return { command: t.command, args: [...t.args, ...argv.slice(1)], env: t.env };
      return { command: argv[0], args: argv.slice(1), env: {} };
    }
    if (c.image && ECHO_IMAGE.test(c.image)) return { command: t.command, args: [...t.args, 'echo'], env: t.env };
    return `container "${c.name}" has no command, and tendril runs commands, not images (${c.image ?? 'no image'})`;
  }

  private startPod(key: string, pod: Pod): void {
    const running: RunningPod = {
      pod,
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name ?? '',
      endpointId: this.nextEndpointId++,
      ready: false,
      restarts: 0,
      stopping: false,
      sandboxReady: Promise.resolve(),
    };
    this.pods.set(key, running);
    let created: PodSandbox | Promise<PodSandbox>;
    try {
      created = this.network.createSandbox({ namespace: running.namespace, name: running.name });
    } catch (err) {
      this.failSandbox(key, running, err);
      return;
    }
    if (!(created instanceof Promise)) {
      // Loopback addresses are ready at once: the pod has its IP in the same sync, as before.
      running.sandbox = created;
      this.launch(key, running, created);
      return;
    }
    running.sandboxReady = created.then(
      async (sandbox) => {
        running.sandbox = sandbox;
        if (running.stopping) return;
        const hook = this.opts.beforeFirstStart;
        if (hook) {
          // The pod's IP and interface are known from here on: whoever enforces policy can see it.
          running.awaitingStart = true;
          this.emit('change');
          let ready: boolean;
          try {
            ready = await hook({ namespace: running.namespace, name: running.name, endpointId: running.endpointId, sandbox });
          } catch (err) {
            ready = false;
            this.write(`[pod ${key}] ${err instanceof Error ? err.message : String(err)}`);
          }
          running.awaitingStart = false;
          if (running.stopping) return;
          if (!ready) {
            running.failure = 'not started: its network policy could not be put in force on its interface';
            this.write(`[pod ${key}] ${running.failure}`);
            this.emit('change');
            return;
          }
        }
        this.launch(key, running, sandbox);
        this.emit('change');
      },
      (err: unknown) => {
        if (!running.stopping) this.failSandbox(key, running, err);
      },
    );
  }

  private failSandbox(key: string, r: RunningPod, err: unknown): void {
    r.failure = `cannot create the pod network: ${err instanceof Error ? err.message : String(err)}`;
    this.write(`[pod ${key}] ${r.failure}`);
    this.emit('change');
  }

  private launch(key: string, r: RunningPod, sandbox: PodSandbox): void {
    const container = r.pod.spec?.containers?.[0] as RunnableContainer | undefined;
    const ns = r.namespace;
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
    const fields: Record<string, string> = { 'metadata.name': r.name, 'metadata.namespace': ns, 'status.podIP': sandbox.ip, 'spec.nodeName': r.pod.spec?.nodeName ?? '' };
    const env: Record<string, string> = { ...cmd.env, POD_NAME: r.name, NAMESPACE: ns, POD_IP: sandbox.ip };
    for (const e of container.env ?? []) {
      const v = e.value ?? (e.valueFrom?.fieldRef ? fields[e.valueFrom.fieldRef.fieldPath] : undefined);
      if (v !== undefined) env[e.name] = v;
    }
    const firstPort = container.ports?.[0];
    const port = firstPort?.containerPort;
    const udp = (firstPort as { protocol?: string } | undefined)?.protocol === 'UDP';
    if (port !== undefined && !udp && env['HTTP_PORT'] === undefined) env['HTTP_PORT'] = String(port);
    const argv = this.network.wrapCommand(sandbox, cmd.command, cmd.args);
    const child = spawn(argv.command, argv.args, { cwd: container.workingDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    r.child = child;
    for (const s of [child.stdout, child.stderr]) if (s) readline.createInterface({ input: s }).on('line', (line) => this.write(`${prefix} ${line}`));
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
      r.restarts++;
      this.write(`${prefix} exited (code ${code}, signal ${signal}); restarting in 1s`);
      r.restartTimer = setTimeout(() => this.launch(key, r, sandbox), 1_000);
    });
    this.probe(r, sandbox.ip, port, udp);
  }

  /**
   * Readiness: the first container port accepts a TCP connection at the pod IP (or, without ports,
   * the process runs). A UDP port answers nothing to probe with, so on loopback pod IPs (which are
   * the host's) it counts as open once the kernel's UDP socket table (/proc/net/udp) lists a socket
   * bound to it; in a pod's own network namespace, or for IPv6, the process running is all that
   * is checked.
   */
  private probe(r: RunningPod, ip: string, port: number | undefined, udp = false): void {
    const markReady = (): void => {
      if (r.stopping || !r.child || r.ready) return;
      r.ready = true;
      this.emit('change');
    };
    if (port === undefined || (udp && (this.network.mode !== 'loopback' || !net.isIPv4(ip)))) return markReady();
    if (udp) {
      const attempt = (): void => {
        if (r.stopping || !r.child) return;
        if (udpPortBound(ip, port)) return markReady();
        r.probeTimer = setTimeout(attempt, 50);
      };
      return attempt();
    }
    const attempt = (): void => {
      if (r.stopping || !r.child) return;
      const socket = net.connect({ host: ip, port });
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

  /** Stops the pod's container, then releases its sandbox (in netns mode: kill what is left, CNI DEL, namespace removal). */
  private stopPod(key: string, r: RunningPod): Promise<void> {
    r.stopping = true;
    this.pods.delete(key);
    clearTimeout(r.restartTimer);
    clearTimeout(r.probeTimer);
    const teardown = (async () => {
      await r.sandboxReady;
      await this.stopContainer(r.child);
      if (!r.sandbox) return;
      try {
        await this.network.removeSandbox(r.sandbox);
      } catch (err) {
        this.write(`[pod ${key}] cannot remove the pod network: ${(err as Error).message}`);
      }
    })();
    this.teardowns.add(teardown);
    void teardown.finally(() => this.teardowns.delete(teardown));
    return teardown;
  }

  private stopContainer(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
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

/**
 * Whether a UDP socket of the host's network namespace is bound to ip:port (or to 0.0.0.0:port),
 * read from /proc/net/udp, whose addresses are the raw 32-bit value in the host's byte order.
 * Reading the table, unlike binding the port to see whether that fails, cannot race the pod's own bind.
 */
function udpPortBound(ip: string, port: number): boolean {
  let table: string;
  try {
    table = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    // No table to read (not Linux): the pod's bind is not observable, so it is taken as done.
    return true;
  }
  const bytes = ip.split('.').map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase());
  const hexAddress = (os.endianness() === 'LE' ? bytes.reverse() : bytes).join('');
  const wanted = new Set([`${hexAddress}:${port.toString(16).toUpperCase().padStart(4, '0')}`, `00000000:${port.toString(16).toUpperCase().padStart(4, '0')}`]);
  return table.split('\n').some((line) => wanted.has(line.trim().split(/\s+/)[1] ?? ''));
}
