/**
 * Shared pieces of `npm run bench`: child processes with bounded waits, nginx configs, the Gateway
 * API YAML the benches serve, and markdown formatting. Everything binds to 127.0.0.1.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';

export { eventually, freePort } from '@tendril/testing';

/** Progress goes to stderr so stdout stays the markdown report. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** A child process whose stdout/stderr go to a log file (never a pipe we might fail to drain). */
export class Proc {
  readonly exited: Promise<number | null>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(name: string, command: string, args: string[], logFile: string, options: SpawnOptions = {}): Proc {
    const fd = fs.openSync(logFile, 'a');
    const child = spawn(command, args, { ...options, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    return new Proc(name, child, logFile);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.running && this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  tail(lines = 20): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

/** Polls `url` until it answers `status` (default 200); fails early, with the log, if `proc` exits. */
export async function waitForHttp(url: string, proc: Proc, timeoutMs = 60_000, init: { headers?: Record<string, string> } = {}, status = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`${proc.name} exited (${proc.child.exitCode}) while waiting for ${url}:\n${proc.tail()}`);
    try {
      const res = await request(url, { headers: init.headers, headersTimeout: 2_000, bodyTimeout: 2_000 });
      await res.body.dump();
      if (res.statusCode === status) return;
      last = `HTTP ${res.statusCode}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last}); ${proc.name} log:\n${proc.tail()}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Write-then-rename, as editors do, so the agent's watcher never reads half a file. */
export function writeAtomically(file: string, content: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------
// Gateway API YAML

export const GATEWAY_CLASS = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: tendril }
spec: { controllerName: tendril.io/gateway-controller }`;

export function gatewayYaml(port: number): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: tendril
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - { name: http, protocol: HTTP, port: ${port}, allowedRoutes: { namespaces: { from: All } } }`;
}

/** A Service whose static EndpointSlice points at 127.0.0.1:`targetPort`. */
export function serviceYaml(name: string, targetPort: number): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec:
  ports: [{ name: http, port: 8080, targetPort: ${targetPort} }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: default
  labels: { kubernetes.io/service-name: ${name} }
addressType: IPv4
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
ports: [{ name: http, port: ${targetPort}, protocol: TCP }]`;
}

// ---------------------------------------------------------------------------------------------
// Markdown

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function ms(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

export function verdict(ok: boolean): string {
  return ok ? 'met' : '**missed**';
}
