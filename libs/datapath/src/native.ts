import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The datapath's native pieces, built from bpf/ by bpf/build.sh: the tc object file and the
 * N-API addon. Node cannot issue bpf() or set IP_TRANSPARENT / SO_MARK, so the addon wraps just
 * those calls (see bpf/README.md); everything else stays in TypeScript.
 */
export interface TendrilBpfAddon {
  objGet(path: string): number;
  closeFd(fd: number): void;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  /** false when the key was not in the map. */
  mapDelete(fd: number, key: Buffer): boolean;
  mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | null;
  numPossibleCpus(): number;
  /** Loads every program, reusing maps pinned in mapPinDir; pins programs in programPinDir. */
  loadObject(objectPath: string, mapPinDir: string, programPinDir: string): string[];
  createTransparentListener(address: string, port: number, backlog: number): number;
  createMarkedSocket(mark: number): number;
  /** A bound UDP socket read on Node's event loop; see udp-socket.ts. */
  udpOpen(address: string, port: number, transparent: boolean, mark: number, onMessage: (payload: Buffer, source: UdpAddress, originalDestination: UdpAddress | null) => void): UdpHandle;
  udpLocalPort(handle: UdpHandle): number;
  udpSend(handle: UdpHandle, payload: Buffer, address: string, port: number): void;
  udpClose(handle: UdpHandle): void;
  udpSendFrom(payload: Buffer, fromAddress: string, fromPort: number, toAddress: string, toPort: number): void;
}

export interface UdpAddress {
  readonly address: string;
  readonly port: number;
}

/** The addon's opaque handle of an open UDP socket. */
export type UdpHandle = { readonly __udpHandle: never };

export interface NativeArtifacts {
  /** The compiled tc programs (bpf/build/tendril_lxc.o). */
  readonly tcObjectPath: string;
  /** The compiled cgroup sock_addr programs for ClusterIP load balancing (bpf/build/tendril_sock.o). */
  readonly sockObjectPath: string;
  readonly addon: TendrilBpfAddon;
}

/** The repository's bpf/ directory, found upwards from this file (src/ under Jest, dist/ once built). */
export function bpfSourceDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'bpf', 'build.sh'))) return join(dir, 'bpf');
    if (dirname(dir) === dir) throw new Error(`bpf/build.sh not found in any parent of ${__dirname}`);
  }
}

function runBuildScript(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('bash', [script], { timeout: 180_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`building the datapath's native code (${script}) failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

let artifacts: Promise<NativeArtifacts> | undefined;

/**
 * Builds what is out of date in bpf/ (a no-op when nothing changed) and loads the addon, once
 * per process.
 */
export function loadNative(): Promise<NativeArtifacts> {
  artifacts ??= (async () => {
    const dir = bpfSourceDir();
    await runBuildScript(join(dir, 'build.sh'));
    const addon = require(join(dir, 'build', 'addon', 'build', 'Release', 'tendril_bpf.node')) as TendrilBpfAddon;
    return { tcObjectPath: join(dir, 'build', 'tendril_lxc.o'), sockObjectPath: join(dir, 'build', 'tendril_sock.o'), addon };
  })();
  artifacts.catch(() => (artifacts = undefined));
  return artifacts;
}
