/** Which network a pod gets: its own network namespace (root) or an address on the host's loopback. */
export type PodNetworkMode = 'loopback' | 'netns';

/** Who a sandbox is for: the pod's namespace and name (CNI_ARGS K8S_POD_NAMESPACE / K8S_POD_NAME). */
export interface PodIdentity {
  namespace: string;
  name: string;
}

/** A pod's network, as its containers see it; the runner keeps it for the pod's lifetime. */
export interface PodSandbox {
  /** The pod IP its containers bind and its EndpointSlices carry. */
  ip: string;
  /** The address of the node as the pod sees it (status.hostIP). */
  hostIp: string;
  /** Name of the pod's network namespace (netns mode); also its CNI container id. */
  netns?: string;
  /** Host end of the pod's veth (netns mode). */
  hostInterface?: string;
}

/**
 * Where pods' networks come from. The PodRunner asks for a sandbox before it starts a pod's
 * container, runs the container's command through wrapCommand, and releases the sandbox after the
 * container has stopped.
 */
export interface PodNetwork {
  readonly mode: PodNetworkMode;
  /** A sandbox may be ready at once (loopback), or after namespace and CNI work (netns). */
  createSandbox(pod: PodIdentity): PodSandbox | Promise<PodSandbox>;
  /** The argv that runs the container's command inside the sandbox. */
  wrapCommand(sandbox: PodSandbox, command: string, args: string[]): { command: string; args: string[] };
  /** Stops whatever still runs in the sandbox and releases its network; safe to call once per sandbox. */
  removeSandbox(sandbox: PodSandbox): Promise<void>;
  /** Node-local PIDs of the processes in the sandbox; `containerPid` is the one the runner started. */
  pids(sandbox: PodSandbox, containerPid: number | undefined): Promise<number[]>;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0) >>> 0;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Pods without root: every pod shares the host's network namespace and gets an address of its own
 * in 127.0.0.0/8 (Linux answers the whole /8 on lo), which its processes bind. Addresses of stopped
 * pods are reused first.
 */
export class LoopbackPodNetwork implements PodNetwork {
  readonly mode = 'loopback' as const;
  private readonly freeIps: number[] = [];
  private nextIp: number;

  constructor(firstPodIp = '127.11.0.1') {
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(firstPodIp) || firstPodIp.split('.').some((o) => Number(o) > 255)) {
      throw new Error(`first pod IP ${firstPodIp} must be an address in 127.0.0.0/8`);
    }
    this.nextIp = ipToInt(firstPodIp);
  }

  createSandbox(): PodSandbox {
    return { ip: intToIp(this.freeIps.shift() ?? this.nextIp++), hostIp: '127.0.0.1' };
  }

  wrapCommand(_sandbox: PodSandbox, command: string, args: string[]): { command: string; args: string[] } {
    return { command, args };
  }

  async removeSandbox(sandbox: PodSandbox): Promise<void> {
    this.freeIps.push(ipToInt(sandbox.ip));
  }

  async pids(_sandbox: PodSandbox, containerPid: number | undefined): Promise<number[]> {
    return containerPid === undefined ? [] : [containerPid];
  }
}
