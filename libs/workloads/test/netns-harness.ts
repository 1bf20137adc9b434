import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Container, Deployment } from '@tendril/api-k8s';

/** Helpers shared by the root suites that run pods in real network namespaces. */
export const isRoot = process.getuid?.() === 0;
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const CNI_PLUGIN = path.join(repoRoot, 'apps', 'cni', 'bin', 'tendril-cni');
export const IP = '/usr/sbin/ip';

export const tendrilCommand = {
  command: process.execPath,
  args: ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'apps', 'cli', 'src', 'main.ts')],
  env: { TSX_TSCONFIG_PATH: path.join(repoRoot, 'tsconfig.json') },
};

/**
 * A namespace prefix and a /24 of 10.0.0.0/8 no other suite of this run uses, so suites (and a
 * `tendril up` on the same machine, prefix tdl-) never remove each other's pods.
 */
export function uniqueTestNetwork(suite: string): { namePrefix: string; podCidr: string; octets: string } {
  const bytes = randomBytes(3);
  const octets = `${200 + (bytes[0]! % 40)}.${bytes[1]!}`;
  return { namePrefix: `tdlt-${suite}${bytes[2]!.toString(16).padStart(2, '0')}-`, podCidr: `10.${octets}.0/24`, octets };
}

export function sh(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 15_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout))),
  );
}

/** The addresses the IPAM state holds for a network. */
export function ipamAddresses(dataDir: string, networkName: string): string[] {
  const dir = path.join(dataDir, networkName);
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n)).sort() : [];
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** A TCP connect + HTTP GET from inside a namespace, with node as the client (the machine has no curl in every image). */
export function httpGetFromNetns(netns: string, url: string): Promise<string> {
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(1); })`;
  return sh(IP, ['netns', 'exec', netns, process.execPath, '-e', script]);
}

export function echoDeployment(name: string, replicas: number, namespace = 'default'): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        // `command` is beyond the minimal api-k8s Container type; the runner reads it.
        spec: { containers: [{ name: 'echo', image: 'ignored', command: ['tendril', 'echo'], ports: [{ name: 'http', containerPort: 3000 }] } as Container] },
      },
    },
  };
}

/** Whether pid is a live process: gone and zombie (dead, not yet reaped by an init that may never reap) both count as dead. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
